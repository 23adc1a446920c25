// A TSGI app served by node:http: the reverse adapter, so an app written for
// tsgi runs anywhere Node's own server does, and the two servers can be
// compared on one app. The request is derived as tsgi's HTTP listener derives
// it (src/server/request.ts); the reply follows the rules of docs/tsgi.md.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TsgiError } from '../errors.js';
import { RequestBody } from '../server/body.js';
import { isSealed } from '../server/sealed.js';
import { derivedVar, derivedVars, serverName, unescapePath } from '../server/derived-vars.js';
import { CLOSE, DROP, eachHeader, fieldRole, LENGTH, LOCATION } from '../server/reply.js';
import { appErrorBody, appRunner, logAppError } from '../server/app-call.js';
import type { App, Body, Chunk, ErrorStream, HeaderList, Reply, Request, ServerInfo } from '../tsgi/types.js';

export interface NodeListenerOptions {
  /** Where errors are logged (app errors, refused replies). Default: stderr. */
  log?: (line: string) => void;
}

const INFO_HTTP: ServerInfo = Object.freeze({
  version: [0, 1] as const, url_scheme: 'http', protocol: 'http',
  multiprocess: false, multithread: false, run_once: false, upgrade: false, websocket: false,
});
const INFO_HTTPS: ServerInfo = Object.freeze({ ...INFO_HTTP, url_scheme: 'https' });


/** The TSGI request over an IncomingMessage; fields are derived when read. */
class NodeRequest implements Request {
  private _body: RequestBody | undefined;
  private _abort: AbortController | undefined;
  private _headers: Array<readonly [string, string]> | undefined;
  private _path: string | undefined;
  private watching = false;
  aborted = false;
  finished = false;

  constructor(readonly incoming: IncomingMessage, readonly res: ServerResponse,
    private readonly log: (line: string) => void) {}

  /** Only FastCGI FILTER requests carry a DATA stream. */
  get data(): Body | undefined { return undefined; }

  /** No protocol stream for diagnostics here: they go to the log, naming the request. */
  get errors(): ErrorStream {
    return {
      write: (chunk: string | Uint8Array): boolean => {
        if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
          throw new TypeError('errors.write() takes a string or a Uint8Array');
        }
        const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
        this.log(`app stderr on ${this.REQUEST_METHOD} ${this.REQUEST_URI}: ${text.replace(/\n$/, '')}`);
        return true;
      },
    };
  }

  get REQUEST_METHOD(): string { return this.incoming.method ?? 'GET'; }
  get SCRIPT_NAME(): string { return ''; }
  get REQUEST_URI(): string { return this.incoming.url ?? ''; }

  /** The path part of the target: origin-form as is, absolute-form past its authority. */
  private rawPath(): string {
    let target = this.REQUEST_URI;
    if (target[0] !== '/') {
      const scheme = target.indexOf('://');
      if (scheme === -1) return '/';  // "*" (OPTIONS) and the like
      const slash = target.indexOf('/', scheme + 3);
      target = slash === -1 ? '/' : target.slice(slash);
    }
    const q = target.indexOf('?');
    return q === -1 ? target : target.slice(0, q);
  }

  get PATH_INFO(): string {
    this._path ??= unescapePath(this.rawPath());
    return this._path;
  }

  get QUERY_STRING(): string {
    const target = this.REQUEST_URI;
    const q = target.indexOf('?');
    return q === -1 ? '' : target.slice(q + 1);
  }

  get CONTENT_TYPE(): string { return this.incoming.headers['content-type'] ?? ''; }
  get CONTENT_LENGTH(): string { return this.incoming.headers['content-length'] ?? ''; }

  get SERVER_NAME(): string {
    return serverName(this.incoming.headers.host ?? '', this.incoming.socket.localAddress ?? '');
  }

  get SERVER_PORT(): string {
    const port = this.incoming.socket.localPort;
    if (port !== undefined) return String(port);
    const m = /:(\d+)$/.exec(this.incoming.headers.host ?? '');
    return m ? m[1]! : this.tsgi.url_scheme === 'https' ? '443' : '80';
  }

  get SERVER_PROTOCOL(): string { return 'HTTP/' + this.incoming.httpVersion; }
  get REMOTE_ADDR(): string { return this.incoming.socket.remoteAddress ?? ''; }
  get REMOTE_PORT(): string {
    const port = this.incoming.socket.remotePort;
    return port === undefined ? '' : String(port);
  }

  get headers(): ReadonlyArray<readonly [string, string]> {
    if (this._headers === undefined) {
      const raw = this.incoming.rawHeaders;
      const list: Array<readonly [string, string]> = [];
      for (let i = 0; i < raw.length; i += 2) {
        if (raw[i]!.indexOf('_') === -1) list.push([raw[i]!, raw[i + 1]!]);
      }
      this._headers = list;
    }
    return this._headers;
  }

  header(name: string): string | undefined {
    const lower = name.toLowerCase();
    if (lower.indexOf('_') !== -1) return undefined;
    const raw = this.incoming.rawHeaders;
    let found: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const candidate = raw[i]!;
      if (candidate.length !== lower.length || candidate.toLowerCase() !== lower) continue;
      found = found === undefined ? raw[i + 1]! : found + (lower === 'cookie' ? '; ' : ', ') + raw[i + 1]!;
    }
    return found;
  }

  var(name: string): string | undefined {
    return derivedVar(this, name);
  }

  vars(): Record<string, string> {
    return derivedVars(this);
  }

  get body(): Body {
    if (this._body === undefined) {
      const h = this.incoming.headers;
      const empty = (h['content-length'] === undefined || h['content-length'] === '0') &&
        h['transfer-encoding'] === undefined;
      const incoming = this.incoming;
      let listening = false;
      const body = new RequestBody({
        flow: (on) => {
          if (!listening) {
            listening = true;
            incoming.on('data', (chunk: Buffer) => body.push(chunk));
            incoming.on('end', () => body.end());
            incoming.on('error', (err) => body.fail(err));
            this.watch();
          }
          if (on) incoming.resume();
          else incoming.pause();
        },
      }, empty);
      this._body = body;
    }
    return this._body;
  }

  get signal(): AbortSignal {
    if (this._abort === undefined) {
      this._abort = new AbortController();
      if (this.aborted) this._abort.abort(new TsgiError('TSGI_ERR_BODY_ABORTED'));
      else this.watch();
    }
    return this._abort.signal;
  }

  get tsgi(): ServerInfo {
    return (this.incoming.socket as { encrypted?: boolean }).encrypted ? INFO_HTTPS : INFO_HTTP;
  }

  /** Listens for the client going away (only once something can hear it). */
  watch(): void {
    if (this.watching) return;
    this.watching = true;
    this.res.once('close', () => {
      if (!this.res.writableFinished) this.abort(new TsgiError('TSGI_ERR_BODY_ABORTED', 'the client went away'));
    });
  }

  abort(err: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this._abort?.abort(err);
    this._body?.fail(err);
    this.drained();
  }

  private drainWaiter: (() => void) | undefined;

  waitDrain(): Promise<void> {
    return new Promise((resolve) => {
      this.drainWaiter = resolve;
      this.res.once('drain', () => this.drained());
    });
  }

  drained(): void {
    const w = this.drainWaiter;
    this.drainWaiter = undefined;
    w?.();
  }
}

// RFC 9110 5.1 (token) and 5.5 (field-value), as src/server/reply.ts checks.
interface Head {
  /** Flat [name, value, name, value, …] as writeHead takes it. */
  raw: string[];
  contentLength: number;
  hasLocation: boolean;
}

function addHeader(out: Head, name: string, value: string): void {
  switch (fieldRole(name, value)) {
    case DROP: return;
    case CLOSE: out.raw.push('Connection', 'close'); return;
    case LENGTH: out.contentLength = Number(value.trim()); return;
    case LOCATION: out.hasLocation = true; break;
  }
  out.raw.push(name, value);
}

/** The app's fields as writeHead takes them, kept and dropped as serve() does (server/reply.ts). */
function encodeHead(headers: HeaderList | undefined): Head {
  const out: Head = { raw: [], contentLength: -1, hasLocation: false };
  eachHeader(headers, out, addHeader);
  return out;
}

function checkChunk(chunk: unknown): Chunk {
  if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
    throw new TsgiError('TSGI_ERR_REPLY_BODY', `a chunk of type ${chunk === null ? 'null' : typeof chunk}`);
  }
  return chunk;
}

const defaultLog = (line: string): void => {
  process.stderr.write(`tsgi: ${line}\n`);
};

/** A node:http request listener that serves a TSGI app. */
export function toNodeListener(app: App, options: NodeListenerOptions = {}):
  (req: IncomingMessage, res: ServerResponse) => void {
  const log = options.log ?? defaultLog;

  function fail(req: NodeRequest, err: unknown): void {
    const status = logAppError(log, req, err);
    const res = req.res;
    if (!res.headersSent && !req.aborted) {
      const body = appErrorBody(status, err);
      res.writeHead(status, ['Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body))]);
      res.end(body);
    } else {
      res.destroy();
    }
    req.finished = true;
  }

  function send(req: NodeRequest, reply: Reply): void {
    if (req.aborted) return;
    if (reply === null || typeof reply !== 'object') {
      throw new TsgiError('TSGI_ERR_REPLY_BODY', 'the app must return a reply object');
    }
    const head = encodeHead(reply.headers);
    // RFC 3875 6.2.3: a Location without a status is a redirect (302).
    const status = reply.status ?? (head.hasLocation ? 302 : 200);
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new TsgiError('TSGI_ERR_REPLY_STATUS', String(status));
    }
    const body = reply.body;
    const res = req.res;
    if (body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array) {
      const length = body === undefined || body === null ? 0
        : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
      // A HEAD reply may state the length a GET would have (RFC 9110 9.3.2).
      const stated = length === 0 && head.contentLength >= 0 && req.REQUEST_METHOD === 'HEAD' ? head.contentLength : length;
      if (status !== 204 && status !== 304) head.raw.push('Content-Length', String(stated));
      res.writeHead(status, head.raw);
      if (length === 0) res.end();
      else res.end(body);
      req.finished = true;
      return;
    }
    if (isSealed(body)) {
      // node:http has no sendfile: the bytes are read back and written.
      body.check(head.contentLength);
      const n = body.byteLength;
      head.contentLength = n;
      if (n === 0 || req.REQUEST_METHOD === 'HEAD') {
        if (status !== 204 && status !== 304) head.raw.push('Content-Length', String(n));
        res.writeHead(status, head.raw);
        res.end();
        req.finished = true;
        return;
      }
      void stream(req, status, head, body.chunks());
      return;
    }
    if (typeof body === 'object' && (Symbol.asyncIterator in body || Symbol.iterator in body)) {
      void stream(req, status, head, body as AsyncIterable<Chunk> | Iterable<Chunk>);
      return;
    }
    throw new TsgiError('TSGI_ERR_REPLY_BODY', typeof body);
  }

  async function stream(req: NodeRequest, status: number, head: Head,
    body: AsyncIterable<Chunk> | Iterable<Chunk>): Promise<void> {
    const res = req.res;
    req.watch();
    const it: AsyncIterator<Chunk> | Iterator<Chunk> = Symbol.asyncIterator in body
      ? (body as AsyncIterable<Chunk>)[Symbol.asyncIterator]()
      : (body as Iterable<Chunk>)[Symbol.iterator]();
    let finished = false;
    let sent = 0;
    try {
      const first = await it.next();
      if (req.aborted) return;
      if (head.contentLength >= 0 && status !== 204 && status !== 304) {
        head.raw.push('Content-Length', String(head.contentLength));
      } else if (req.REQUEST_METHOD === 'HEAD' && req.incoming.httpVersion === '1.1' && status !== 204 && status !== 304) {
        // The framing a GET would get, as tsgi says it (RFC 9110 9.3.2); node:http omits it.
        head.raw.push('Transfer-Encoding', 'chunked');
      }
      res.writeHead(status, head.raw);
      let next = first;
      while (!next.done) {
        const chunk = checkChunk(next.value);
        const size = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
        if (head.contentLength >= 0 && sent + size > head.contentLength && req.REQUEST_METHOD !== 'HEAD') {
          // Past the declared length: send what was promised, then close, as serve() does.
          finished = true;
          log(`app error on ${req.REQUEST_METHOD} ${req.REQUEST_URI}: ${new TsgiError('TSGI_ERR_REPLY_LENGTH').message}`);
          const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          res.end(bytes.subarray(0, head.contentLength - sent));
          res.socket?.destroySoon();
          return;
        }
        sent += size;
        if (!res.write(chunk) && !req.aborted) await req.waitDrain();
        if (req.aborted) return;
        next = await it.next();
        if (req.aborted) return;
      }
      finished = true;
      if (head.contentLength >= 0 && sent < head.contentLength && req.REQUEST_METHOD !== 'HEAD') {
        // Shorter than promised: what was written goes out, then the
        // connection closes, so the client sees the body incomplete.
        if (res.socket) res.socket.destroySoon();
        else res.destroy();
      } else {
        res.end();
      }
    } catch (err) {
      finished = true;
      fail(req, err);
    } finally {
      if (!finished) await it.return?.();
      req.finished = true;
    }
  }

  const run = appRunner<NodeRequest>(app, send, fail);
  return (incoming, res) => {
    const req = new NodeRequest(incoming, res, log);
    // While the app works on it, hear the client leave (its signal, its body).
    if (run(req)) req.watch();
  };
}
