// The request a CGI local redirect (RFC 3875 6.2.2) is served as: the same
// client, connection and headers, a new path and query, a GET without a body
// (Apache does the same: the body went to the first script).
import type { Body, ErrorStream, Request, ServerInfo } from '../tsgi/types.js';

const EMPTY: Body = {
  done: true,
  async *[Symbol.asyncIterator]() { /* nothing */ },
  bytes: async () => new Uint8Array(0),
  read: async () => 0,
  text: async () => '',
  json: async () => { throw new SyntaxError('no body'); },
};

function decodePath(raw: string): string {
  // As the servers decode PATH_INFO: byte by byte into latin1, like WSGI.
  return raw.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export class RedirectRequest implements Request {
  private constructor(
    readonly outer: Request,
    readonly REQUEST_URI: string,
    readonly PATH_INFO: string,
    readonly QUERY_STRING: string,
  ) {}

  /** The request for `location` ("/path?query"), or undefined when it is outside the app's SCRIPT_NAME. */
  static to(req: Request, location: string): RedirectRequest | undefined {
    const outer = req instanceof RedirectRequest ? req.outer : req;
    const q = location.indexOf('?');
    const rawPath = q === -1 ? location : location.slice(0, q);
    const query = q === -1 ? '' : location.slice(q + 1);
    const decoded = decodePath(rawPath.replace(/#.*$/, ''));
    const mount = outer.SCRIPT_NAME;
    if (mount !== '' && decoded !== mount && !decoded.startsWith(mount + '/')) return undefined;
    return new RedirectRequest(outer, location, decoded.slice(mount.length), query);
  }

  get REQUEST_METHOD(): string { return this.outer.REQUEST_METHOD === 'HEAD' ? 'HEAD' : 'GET'; }
  get SCRIPT_NAME(): string { return this.outer.SCRIPT_NAME; }
  get CONTENT_TYPE(): string { return ''; }
  get CONTENT_LENGTH(): string { return ''; }
  get SERVER_NAME(): string { return this.outer.SERVER_NAME; }
  get SERVER_PORT(): string { return this.outer.SERVER_PORT; }
  get SERVER_PROTOCOL(): string { return this.outer.SERVER_PROTOCOL; }
  get REMOTE_ADDR(): string { return this.outer.REMOTE_ADDR; }
  get REMOTE_PORT(): string { return this.outer.REMOTE_PORT; }
  get headers(): ReadonlyArray<readonly [string, string]> {
    return this.outer.headers.filter(([n]) => !/^(content-type|content-length|transfer-encoding)$/i.test(n));
  }
  get body(): Body { return EMPTY; }
  get data(): Body | undefined { return undefined; }
  get errors(): ErrorStream { return this.outer.errors; }
  get signal(): AbortSignal { return this.outer.signal; }
  get tsgi(): ServerInfo { return this.outer.tsgi; }

  var(name: string): string | undefined {
    switch (name) {
      case 'REQUEST_METHOD': case 'REQUEST_URI': case 'PATH_INFO': case 'QUERY_STRING':
      case 'CONTENT_TYPE': case 'CONTENT_LENGTH':
        return this[name];
    }
    if (/^HTTP_(CONTENT_TYPE|CONTENT_LENGTH|TRANSFER_ENCODING)$/.test(name)) return undefined;
    return this.outer.var(name);
  }

  vars(): Record<string, string> {
    const v = this.outer.vars();
    delete v.HTTP_CONTENT_TYPE;
    delete v.HTTP_CONTENT_LENGTH;
    delete v.HTTP_TRANSFER_ENCODING;
    return { ...v, REQUEST_METHOD: this.REQUEST_METHOD, REQUEST_URI: this.REQUEST_URI, PATH_INFO: this.PATH_INFO,
      QUERY_STRING: this.QUERY_STRING, CONTENT_TYPE: '', CONTENT_LENGTH: '' };
  }

  header(name: string): string | undefined {
    if (/^(content-type|content-length|transfer-encoding)$/i.test(name)) return undefined;
    return this.outer.header(name);
  }
}
