// Run-as-CGI mode, `tsgi --cgi app.js` (RFC 3875): one request from the
// environment and stdin, one CGI document response on stdout, then exit.
// Start-up is the whole cost of a CGI request, so this path never loads the
// native addon, the server or the master: bin/tsgi comes straight here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { TsgiError } from '../errors.js';
import type { App, Chunk, FileBody, Reply } from '../tsgi/types.js';
import type { AppType } from '../dispatch/load-app.js';
import type { FetchOptions } from '../adapters/fetch.js';
import { encodeHeaders, INTERNAL_ERROR_BODY } from '../server/reply.js';
import { EnvRequest } from './env-request.js';
import { isSealed, type Sealed } from '../server/sealed.js';

// Reason phrases (RFC 9110 15), so that node:http (17 ms) is not loaded for a table.
const REASONS: Record<number, string> = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 206: 'Partial Content',
  301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified', 307: 'Temporary Redirect',
  308: 'Permanent Redirect', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 409: 'Conflict', 410: 'Gone', 411: 'Length Required',
  412: 'Precondition Failed', 413: 'Content Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable', 422: 'Unprocessable Content', 429: 'Too Many Requests', 500: 'Internal Server Error',
  501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

export interface Output {
  /** Like a Writable's write: false means wait for 'drain'. */
  write(chunk: Uint8Array | string): boolean;
  once(event: 'drain' | 'error' | 'close', fn: (err?: Error) => void): unknown;
}

const MODULE_EXT = /\.(c|m)?js$/;

/**
 * The module a launcher names. A launcher is a small executable file in the
 * web server's cgi-bin: a "#!" line that runs `tsgi --cgi`, then the app
 * module (path relative to the launcher, optionally ":export"). A .js, .mjs or
 * .cjs file is the app itself (Node skips its "#!" line).
 */
export function appOfLauncher(file: string): string {
  if (MODULE_EXT.test(file)) return file;
  let text: string;
  try {
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(4096);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    fs.closeSync(fd);
    text = buf.toString('utf8', 0, n);
  } catch {
    return file;  // resolveApp says "no such file"
  }
  if (!text.startsWith('#!')) return file;
  const lines = text.split('\n').slice(1).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length !== 1) {
    throw new TsgiError('TSGI_ERR_APP_LOAD',
      `${file}: a launcher has a "#!" line and then one line naming the app module (found ${lines.length})`);
  }
  return path.resolve(path.dirname(file), lines[0]!);
}

const CRLF = '\r\n';

function statusLine(status: number): string {
  return `Status: ${status} ${REASONS[status] ?? 'Unknown'}${CRLF}`;
}

function isIterable(body: object): body is Iterable<Chunk> | AsyncIterable<Chunk> {
  return Symbol.asyncIterator in body || Symbol.iterator in body;
}

/**
 * The app. A default export that is a function of one parameter is a TSGI
 * app by load-app's rules; only other shapes load the detection and the
 * adapters (node:http with them), which is a quarter of the start-up.
 */
async function loadApp(spec: string, type: AppType | undefined, fetch: FetchOptions | undefined): Promise<App> {
  const file = path.resolve(spec);
  if ((type === undefined || type === 'tsgi') && MODULE_EXT.test(file) && fs.existsSync(file)) {
    let mod: Record<string, unknown> | undefined;
    try {
      mod = await import(pathToFileURL(file).href) as Record<string, unknown>;
    } catch {
      mod = undefined;  // load-app reports it, in its words
    }
    const d = mod?.default as (((req: unknown) => unknown) & { fetch?: unknown }) | undefined;
    if (typeof d === 'function' && (d.length === 1 || type === 'tsgi') && typeof d.fetch !== 'function') return d as App;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { resolveApp } = require('../dispatch/load-app.js') as typeof import('../dispatch/load-app.js');
  return (await resolveApp(spec, process.cwd(), type, fetch)).app;
}

/** Writes the reply as a CGI document response (RFC 3875 6.2.1); resolves when the body is out. */
export async function writeReply(out: Output, reply: Reply, head: boolean): Promise<void> {
  if (reply === null || typeof reply !== 'object') throw new TsgiError('TSGI_ERR_REPLY_BODY', 'the app must return a reply object');
  const enc = encodeHeaders(reply.headers);
  // 6.2.3: a Location without a status is a redirect; we always say which.
  const status = reply.status ?? (enc.hasLocation ? 302 : 200);
  if (!Number.isInteger(status) || status < 200 || status > 599) throw new TsgiError('TSGI_ERR_REPLY_STATUS', String(status));
  let body = reply.body;
  let length = enc.contentLength;
  let file: { fd: number; offset: number; length: number } | undefined;
  let sealed: Sealed | undefined;
  if (typeof body === 'string') {
    body = Buffer.from(body, 'utf8');
  }
  if (body instanceof Uint8Array) {
    if (length >= 0 && length !== body.byteLength) throw new TsgiError('TSGI_ERR_REPLY_LENGTH', `${body.byteLength} bytes, Content-Length ${length}`);
    length = body.byteLength;
  } else if (isSealed(body)) {
    body.check(length);
    file = { fd: body.take(), offset: 0, length: body.byteLength };
    sealed = body;
    length = body.byteLength;
  } else if (body !== undefined && body !== null && typeof body === 'object' && !isIterable(body)) {
    const f = body as FileBody;
    if (typeof f.path !== 'string') throw new TsgiError('TSGI_ERR_REPLY_BODY', typeof body);
    file = openRange(f, length);
    length = file.length;
  } else if (body === undefined || body === null) {
    if (length < 0) length = 0;
  } else if (!isIterable(body)) {
    throw new TsgiError('TSGI_ERR_REPLY_BODY', typeof body);
  }
  // The web server frames the reply for its client; a length we know saves it
  // buffering or chunking (Apache and lighttpd use it).
  const block = statusLine(status) + enc.block + (length >= 0 ? `Content-Length: ${length}${CRLF}` : '') + CRLF;
  try {
    // 4.3.2: no body for HEAD (the server would discard it).
    if (head) {
      await put(out, block);
      return;
    }
    if (body instanceof Uint8Array) {
      await put(out, Buffer.concat([Buffer.from(block, 'latin1'), body]));
    } else if (file !== undefined) {
      await put(out, block);
      await pipeFile(out, file);
    } else if (body !== undefined && body !== null) {
      await streamBody(out, block, body as Iterable<Chunk> | AsyncIterable<Chunk>, length);
    } else {
      await put(out, block);
    }
  } finally {
    if (sealed !== undefined) sealed.done();
    else if (file !== undefined) fs.closeSync(file.fd);
  }
}

function openRange(f: FileBody, stated: number): { fd: number; offset: number; length: number } {
  let fd: number;
  try {
    fd = fs.openSync(f.path, 'r');
  } catch (err) {
    throw new TsgiError('TSGI_ERR_REPLY_FILE', `${f.path}: ${(err as Error).message}`, { cause: err });
  }
  const st = fs.fstatSync(fd);
  const offset = f.offset ?? 0;
  const length = f.length ?? st.size - offset;
  const bad = !st.isFile() ? 'is not a regular file'
    : offset < 0 || length < 0 || offset + length > st.size ? `range ${offset}+${length} is outside the file's ${st.size} bytes`
      : stated >= 0 && stated !== length ? `Content-Length ${stated} but the range is ${length} bytes` : undefined;
  if (bad !== undefined) {
    fs.closeSync(fd);
    throw new TsgiError('TSGI_ERR_REPLY_FILE', `${f.path} ${bad}`);
  }
  return { fd, offset, length };
}

function put(out: Output, chunk: Uint8Array | string): Promise<void> {
  if (out.write(chunk)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    out.once('drain', () => resolve());
    out.once('error', (err) => reject(err ?? new Error('stdout closed')));
  });
}

async function pipeFile(out: Output, file: { fd: number; offset: number; length: number }): Promise<void> {
  const buf = Buffer.allocUnsafe(64 * 1024);
  let pos = file.offset;
  let left = file.length;
  while (left > 0) {
    const n = fs.readSync(file.fd, buf, 0, Math.min(buf.length, left), pos);
    if (n === 0) throw new TsgiError('TSGI_ERR_REPLY_FILE', 'the file shrank while being sent');
    // The buffer is reused: hand out a copy only when the write is queued.
    await put(out, Buffer.from(buf.subarray(0, n)));
    pos += n;
    left -= n;
  }
}

/** The head goes out with the first chunk, so a body failing at once still gets a clean 500. */
async function streamBody(out: Output, block: string, body: Iterable<Chunk> | AsyncIterable<Chunk>, length: number): Promise<void> {
  let sent = 0;
  let first = true;
  const it = Symbol.asyncIterator in body ? (body as AsyncIterable<Chunk>)[Symbol.asyncIterator]() : (body as Iterable<Chunk>)[Symbol.iterator]();
  let done = false;
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) {
        done = true;
        break;
      }
      const value: unknown = r.value;
      if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
        throw new TsgiError('TSGI_ERR_REPLY_BODY', `a chunk of type ${value === null ? 'null' : typeof value}`);
      }
      const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);  // copy: a generator may reuse its buffer
      sent += bytes.byteLength;
      if (length >= 0 && sent > length) throw new TsgiError('TSGI_ERR_REPLY_LENGTH', `more than ${length} bytes`);
      await put(out, first ? Buffer.concat([Buffer.from(block, 'latin1'), bytes]) : bytes);
      first = false;
    }
    if (first) await put(out, block);
    if (length >= 0 && sent < length) throw new TsgiError('TSGI_ERR_REPLY_LENGTH', `${sent} bytes, Content-Length ${length}`);
  } finally {
    if (!done) await it.return?.();
  }
}

export interface CgiRunOptions {
  /** The app module, or a launcher naming it. */
  app: string;
  appType?: AppType;
  /** fromFetch's options for a fetch handler (--fetch-override-globals). */
  fetch?: FetchOptions;
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Serves one CGI request with the app and resolves with the exit status:
 * 0 when the reply was written whole, 1 when the app failed (a 500 went out
 * if nothing had been written yet; the reason is on stderr either way).
 */
export async function runCgi(opts: CgiRunOptions): Promise<number> {
  const out = process.stdout as unknown as Output;
  const log = (line: string) => { process.stderr.write(`tsgi: ${line}\n`); };
  const env = opts.env ?? process.env;
  const req = new EnvRequest(env, () => process.stdin, (chunk) => process.stderr.write(chunk));
  process.stdout.once('error', (err: Error) => req.cancel(err));
  let wrote = false;
  try {
    let app: App;
    try {
      app = await loadApp(appOfLauncher(opts.app), opts.appType, opts.fetch);
    } catch (err) {
      throw new TsgiError('TSGI_ERR_APP_LOAD', err instanceof Error ? err.message : String(err), { cause: err });
    }
    const reply = await app(req);
    const head = req.REQUEST_METHOD === 'HEAD';
    await writeReply({
      write: (c) => { wrote = true; return out.write(c); },
      once: (e, fn) => out.once(e, fn),
    }, reply, head);
    return 0;
  } catch (err) {
    const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
    log(`app error on ${req.REQUEST_METHOD} ${req.REQUEST_URI}: ${detail}`);
    if (!wrote) {
      out.write(statusLine(500) + `Content-Type: text/plain; charset=utf-8${CRLF}Content-Length: ${INTERNAL_ERROR_BODY.length}${CRLF}${CRLF}` +
        (req.REQUEST_METHOD === 'HEAD' ? '' : INTERNAL_ERROR_BODY));
    }
    return 1;
  }
}

/** The CLI's entry: run, flush stdout, exit with the status (the app may hold timers or sockets). */
export function runCgiAndExit(opts: CgiRunOptions): void {
  runCgi(opts).then((code) => {
    process.stdout.end(() => process.exit(code));
  }, (err: unknown) => {
    process.stderr.write(`tsgi: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
