// The request of run-as-CGI mode (RFC 3875): the web server put the
// meta-variables in our environment and the body on stdin. As in wsgiref's
// CGIHandler, the environment is the variable table; nothing is re-derived
// except REQUEST_URI, which is not a CGI variable (4.1) and which servers
// other than Apache and lighttpd may leave out.
import { TsgiError } from '../errors.js';
import type { Body, ErrorStream, Request, ServerInfo } from '../tsgi/types.js';
import { RequestBody } from '../server/body.js';
import { TSGI_VERSION } from '../version.js';
import { encodePath } from '../server/encode-path.js';

/** The variables that are Request properties: always a string, "" when not set. */
const ALWAYS = ['REQUEST_METHOD', 'SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING', 'REQUEST_URI', 'CONTENT_TYPE',
  'CONTENT_LENGTH', 'SERVER_NAME', 'SERVER_PORT', 'SERVER_PROTOCOL', 'REMOTE_ADDR', 'REMOTE_PORT'] as const;

export interface Stdin {
  on(event: 'data', fn: (chunk: Buffer) => void): unknown;
  on(event: 'end', fn: () => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  destroy(): unknown;
}

/**
 * The body is exactly CONTENT_LENGTH bytes of stdin (RFC 3875 4.2: the script
 * MUST NOT read more; a server may not send EOF after them). stdin is opened
 * only when the app first reads, and paused above the body's high-water mark.
 */
function stdinBody(length: number, open: () => Stdin): RequestBody {
  let input: Stdin | undefined;
  let left = length;
  const body: RequestBody = new RequestBody({
    flow(on: boolean) {
      if (input === undefined) {
        if (!on) return;
        input = open();
        input.on('data', (chunk: Buffer) => {
          if (left <= 0) return;
          const part = chunk.byteLength > left ? chunk.subarray(0, left) : chunk;
          left -= part.byteLength;
          body.push(part);
          if (left === 0) {
            input!.pause();
            body.end();
          }
        });
        input.on('end', () => {
          if (left > 0) body.fail(new TsgiError('TSGI_ERR_BODY_ABORTED', `stdin ended ${left} bytes before CONTENT_LENGTH`));
        });
        input.on('error', (err: Error) => body.fail(new TsgiError('TSGI_ERR_BODY_ABORTED', err.message, { cause: err })));
      }
      if (left === 0) return;
      if (on) input.resume();
      else input.pause();
    },
  }, length === 0);
  return body;
}

export class EnvRequest implements Request {
  private _body: RequestBody | undefined;
  private _headers: Array<readonly [string, string]> | undefined;
  private _info: ServerInfo | undefined;
  private readonly abort = new AbortController();
  readonly errors: ErrorStream;

  /**
   * `env` is the meta-variable table (process.env); `stdin` opens the body's
   * stream; `stderr` is the web server's error log.
   */
  constructor(private readonly env: Readonly<Record<string, string | undefined>>, private readonly stdin: () => Stdin,
    stderr: (chunk: string | Uint8Array) => boolean) {
    this.errors = { write: (chunk) => stderr(chunk) };
  }

  private get1(name: string): string {
    return this.env[name] ?? '';
  }

  get REQUEST_METHOD(): string { return this.get1('REQUEST_METHOD') || 'GET'; }
  get SCRIPT_NAME(): string { return this.get1('SCRIPT_NAME'); }
  get PATH_INFO(): string { return this.get1('PATH_INFO'); }
  get QUERY_STRING(): string { return this.get1('QUERY_STRING'); }
  get REQUEST_URI(): string {
    const sent = this.env.REQUEST_URI;
    if (sent !== undefined && sent !== '') return sent;
    const q = this.QUERY_STRING;
    // process.env: Node decoded the variables as UTF-8.
    return encodePath(this.SCRIPT_NAME + this.PATH_INFO || '/', 'utf8') + (q === '' ? '' : '?' + q);
  }
  get CONTENT_TYPE(): string { return this.get1('CONTENT_TYPE'); }
  get CONTENT_LENGTH(): string { return this.get1('CONTENT_LENGTH'); }
  get SERVER_NAME(): string { return this.get1('SERVER_NAME'); }
  get SERVER_PORT(): string { return this.get1('SERVER_PORT'); }
  get SERVER_PROTOCOL(): string { return this.get1('SERVER_PROTOCOL') || 'HTTP/1.0'; }
  get REMOTE_ADDR(): string { return this.get1('REMOTE_ADDR'); }
  get REMOTE_PORT(): string { return this.get1('REMOTE_PORT'); }

  var(name: string): string | undefined {
    if (name === 'REQUEST_URI') return this.REQUEST_URI;
    const v = this.env[name];
    if (v !== undefined) return v;
    if (name === 'GATEWAY_INTERFACE') return 'CGI/1.1';
    return (ALWAYS as readonly string[]).includes(name) ? (this as unknown as Record<string, string>)[name] : undefined;
  }

  vars(): Record<string, string> {
    const v: Record<string, string> = { GATEWAY_INTERFACE: 'CGI/1.1' };
    for (const [name, value] of Object.entries(this.env)) if (value !== undefined) v[name] = value;
    for (const name of ALWAYS) v[name] = (this as unknown as Record<string, string>)[name]!;
    return v;
  }

  header(name: string): string | undefined {
    const lower = name.toLowerCase();
    if (lower === 'content-type') return this.CONTENT_TYPE || undefined;
    if (lower === 'content-length') return this.CONTENT_LENGTH || undefined;
    return this.env['HTTP_' + lower.toUpperCase().replace(/-/g, '_')];
  }

  get headers(): ReadonlyArray<readonly [string, string]> {
    if (this._headers === undefined) {
      const list: Array<readonly [string, string]> = [];
      for (const [name, value] of Object.entries(this.env)) {
        // The original case is lost on the way; names are case-insensitive (RFC 9110 5.1).
        if (name.startsWith('HTTP_') && value !== undefined) list.push([name.slice(5).toLowerCase().replace(/_/g, '-'), value]);
      }
      this._headers = list;
    }
    return this._headers;
  }

  get body(): Body {
    if (this._body === undefined) {
      // RFC 3875 4.1.2: no CONTENT_LENGTH, no body. 4.2: never read past it.
      const raw = this.CONTENT_LENGTH.trim();
      const length = /^\d{1,15}$/.test(raw) ? Number(raw) : 0;
      this._body = stdinBody(this.REQUEST_METHOD === 'HEAD' ? 0 : length, this.stdin);
    }
    return this._body;
  }

  get data(): Body | undefined { return undefined; }

  get signal(): AbortSignal { return this.abort.signal; }

  /** The web server went away (stdout closed) or stopped us. */
  cancel(err: Error): void {
    if (this.abort.signal.aborted) return;
    this.abort.abort(err);
    this._body?.fail(err);
  }

  get tsgi(): ServerInfo {
    if (this._info === undefined) {
      const https = this.get1('HTTPS').toLowerCase();
      const scheme = this.get1('REQUEST_SCHEME').toLowerCase();
      this._info = Object.freeze({
        version: TSGI_VERSION,
        url_scheme: https === 'on' || https === '1' || scheme === 'https' ? 'https' as const : 'http' as const,
        protocol: 'cgi' as const,
        // A CGI program is one process per request (as wsgiref's CGIHandler says).
        multiprocess: true,
        multithread: false,
        run_once: true,
        upgrade: false,
        websocket: false,
      });
    }
    return this._info;
  }
}
