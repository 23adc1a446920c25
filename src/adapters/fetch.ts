// Fetch-API handlers (Hono, `export default { fetch }`) as TSGI apps: the
// TSGI request becomes a global Request, the Response a TSGI reply.
//
// Two costs dominate a small fetch handler on Node, and both are avoided
// where the handler lets us: building an undici Request (URL parsing, Headers,
// an AbortSignal that follows ours) and reading a Response body through its
// ReadableStream (a promise per chunk). The Request the handler gets is lazy:
// its prototype chain is Request.prototype, `url`, `method`, `headers` and
// `signal` come straight from the TSGI request, the body methods read
// req.body directly, and a real Request is built only for what remains
// (clone(), formData(), `cache`, …). A Response's body is read through its
// public stream only; one that ends at once (a string, bytes) is sent whole
// with a Content-Length, any other as a stream (see "the Response"). With
// `overrideGlobalObjects` the handler's own `new Response(...)` is cheap too:
// the global is tsgi's light class (fetch-globals.ts), whose recorded
// Responses are sent without a stream at all.
import { TsgiError } from '../errors.js';
import type { App, Chunk, Reply, ReplyBody, Request as TsgiRequest } from '../tsgi/types.js';
import { appTarget } from './target.js';
import { isLightResponse, lightReply, overrideGlobalResponse, realResponse } from './fetch-globals.js';

/** What a fetch handler gets as its second argument: Hono's `c.env`. */
export interface FetchEnv {
  readonly tsgi: TsgiRequest;
}

/** The third argument, as Cloudflare Workers and Hono's `c.executionCtx` have it. */
export interface FetchExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}

/**
 * A fetch handler: Hono's `app.fetch`, a Workers-style `fetch(request, env, ctx)`.
 * It is called with a FetchEnv and a FetchExecutionContext after the request;
 * the rest parameters are typed `never[]` so that handlers declaring their own
 * env and context types (Hono's `Bindings`, Workers' `ExecutionContext`) fit.
 */
export type FetchHandler = (request: Request, ...rest: never[]) => Response | Promise<Response>;
/** A handler, or an object with a `fetch` method (a Hono app, `export default { fetch }`). */
export type FetchApp = FetchHandler | { fetch: FetchHandler };

export interface FetchOptions {
  /**
   * Replace the global `Response` with tsgi's light one while this app is
   * served (default false): `new Response(string | bytes | null, plain init)`
   * is then sent without building undici's Response. It is a process-wide
   * change: every module sees the replaced global. See docs/adapters.md.
   */
  overrideGlobalObjects?: boolean;
}

/** A fetch app as a TSGI app; `shutdown()` gives the global Response back (with `overrideGlobalObjects`). */
export type FetchTsgiApp = App & { shutdown?(): void };

const EXECUTION_CONTEXT: FetchExecutionContext = Object.freeze({
  waitUntil(promise: Promise<unknown>): void {
    // Nothing waits for it here (the process outlives the request); an
    // unhandled rejection would still be a crash, so keep its error quiet.
    Promise.resolve(promise).catch(() => {});
  },
  passThroughOnException(): void {},
});

// ---- the URL ------------------------------------------------------------------

// A host and an origin-form target that new URL() would leave as they are
// (the test @hono/node-server uses): most requests skip the URL parser.
const PLAIN_TARGET = /^\/[!#$&-;=?-[\]_a-z~]*$/;
const DOT_SEGMENT = /\/\.\.?(?:[/?#]|$)/;
const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;
// Bytes a path segment keeps as they are (RFC 3986 pchar and "/").

/**
 * scheme://host + the target (REQUEST_URI, or the part below a mount: see
 * adapters/target.ts), as a URL string; undefined if no URL can be made of it.
 */
function urlOf(req: TsgiRequest): string | undefined {
  let target = req.REQUEST_URI;
  if (target.startsWith('http://') || target.startsWith('https://')) {
    // Absolute form: the target names the host itself.
    try {
      return new URL(target).href;
    } catch {
      return undefined;
    }
  }
  target = appTarget(req);
  if (target[0] !== '/') target = '/' + target;
  const host = req.header('host') || `${req.SERVER_NAME}:${req.SERVER_PORT}`;
  const url = `${req.tsgi.url_scheme}://${host}${target}`;
  if (PLAIN_HOST.test(host) && PLAIN_TARGET.test(target) && !DOT_SEGMENT.test(target)) return url;
  // A backslash in the path would become "/" in a URL: two paths for one.
  const q = target.indexOf('?');
  if (target.indexOf('\\') !== -1 && (q === -1 || target.indexOf('\\') < q)) return undefined;
  // A Host with a path, credentials or spaces in it must not move the request elsewhere.
  if (/[/?#@\\\s]/.test(host)) return undefined;
  try {
    return new URL(url).href;
  } catch {
    return undefined;
  }
}

// ---- the lazy Request ---------------------------------------------------------

const TSGI = Symbol('tsgi.request');
const URL_KEY = Symbol('tsgi.url');
const HEADERS = Symbol('tsgi.headers');
const REAL = Symbol('tsgi.realRequest');
const READ = Symbol('tsgi.bodyRead');
const METHOD = Symbol('tsgi.method');

interface LazyRequest {
  [TSGI]: TsgiRequest;
  [URL_KEY]: string;
  [HEADERS]: Headers | undefined;
  [REAL]: Request | undefined;
  /** The body was read straight from req.body (no real Request saw it). */
  [READ]: boolean;
  /** The method the handler sees when not the request's own (HEAD asked of Hono as GET). */
  [METHOD]: string | undefined;
}

const STANDARD_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);
const NO_BODY_METHODS = new Set(['GET', 'HEAD']);

/** As the Request constructor normalizes a method: the standard ones upper-cased. */
function methodOf(req: TsgiRequest): string {
  const m = req.REQUEST_METHOD;
  if (STANDARD_METHODS.has(m)) return m;
  const upper = m.toUpperCase();
  return STANDARD_METHODS.has(upper) ? upper : m;
}

function hasBody(req: TsgiRequest, method: string): boolean {
  return !NO_BODY_METHODS.has(method) && !req.body.done;
}

function headersOf(req: TsgiRequest): Headers {
  const h = new Headers(req.headers as Array<[string, string]>);
  // uwsgi, SCGI and FastCGI carry these two as CGI variables, not HTTP_*.
  if (req.tsgi.protocol !== 'http') {
    if (req.CONTENT_TYPE !== '' && !h.has('content-type')) h.set('content-type', req.CONTENT_TYPE);
    if (req.CONTENT_LENGTH !== '' && !h.has('content-length')) h.set('content-length', req.CONTENT_LENGTH);
  }
  return h;
}

/** req.body as a ReadableStream, pulled only as fast as its reader reads. */
function bodyStream(req: TsgiRequest): ReadableStream<Uint8Array> {
  let it: AsyncIterator<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      it ??= req.body[Symbol.asyncIterator]();
      const r = await it.next();
      if (r.done) controller.close();
      else controller.enqueue(r.value);
    },
    async cancel() {
      await it?.return?.();
    },
  });
}

function bodyUnusable(): TypeError {
  return new TypeError('Body is unusable: Body has already been read');
}

/** The undici Request behind a lazy one, built on first need. */
function realOf(lazy: LazyRequest & Request): Request {
  let real = lazy[REAL];
  if (real === undefined) {
    const req = lazy[TSGI];
    const method = lazy.method;
    const init: RequestInit & { duplex?: 'half' } = { method, headers: lazy.headers, signal: req.signal };
    if (!NO_BODY_METHODS.has(method)) {
      if (lazy[READ]) {
        // Read already: an empty body, locked, so the Request says bodyUsed.
        init.body = new ReadableStream({ start(c) { c.close(); } });
        init.duplex = 'half';
      } else if (hasBody(req, method)) {
        init.body = bodyStream(req);
        init.duplex = 'half';
      }
    }
    real = new Request(lazy[URL_KEY], init);
    if (lazy[READ]) real.body?.getReader();
    lazy[REAL] = real;
  }
  return real;
}

/** The whole body straight from req.body, when no real Request holds it. */
function readWhole(lazy: LazyRequest & Request): Promise<Uint8Array> | undefined {
  if (lazy[REAL] !== undefined) return undefined;
  if (lazy[READ]) return Promise.reject(bodyUnusable());
  const req = lazy[TSGI];
  // A null body reads as empty, as often as asked, and is never "used".
  if (!hasBody(req, lazy.method)) return Promise.resolve(new Uint8Array(0));
  lazy[READ] = true;
  // A fetch body has no size limit of its own; the server's limit applies.
  return req.body.bytes(Number.MAX_SAFE_INTEGER);
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
    ? bytes.buffer
    : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

const decoder = new TextDecoder();

// Built on first use: touching the global Request loads undici, which an app
// that never uses fromFetch should not pay for at startup.
let requestProto: object | undefined;

function makeRequestProto(): object {
  const proto: object = Object.create(Request.prototype, {
    method: { get(this: LazyRequest) { return this[METHOD] ?? methodOf(this[TSGI]); } },
    url: { get(this: LazyRequest) { return this[URL_KEY]; } },
    headers: {
      get(this: LazyRequest) {
        return this[REAL]?.headers ?? (this[HEADERS] ??= headersOf(this[TSGI]));
      },
    },
    signal: { get(this: LazyRequest) { return this[REAL]?.signal ?? this[TSGI].signal; } },
    body: { get(this: LazyRequest & Request) { return realOf(this).body; } },
    bodyUsed: { get(this: LazyRequest) { return this[REAL]?.bodyUsed ?? this[READ]; } },
    arrayBuffer: {
      value(this: LazyRequest & Request) {
        return readWhole(this)?.then(toArrayBuffer) ?? realOf(this).arrayBuffer();
      },
    },
    bytes: {
      value(this: LazyRequest & Request) {
        return readWhole(this)?.then((b) => new Uint8Array(toArrayBuffer(b))) ??
          realOf(this).arrayBuffer().then((b) => new Uint8Array(b));
      },
    },
    text: {
      value(this: LazyRequest & Request) {
        return readWhole(this)?.then((b) => decoder.decode(b)) ?? realOf(this).text();
      },
    },
    json: {
      value(this: LazyRequest & Request) {
        return readWhole(this)?.then((b) => JSON.parse(decoder.decode(b)) as unknown) ?? realOf(this).json();
      },
    },
    blob: {
      value(this: LazyRequest & Request) {
        const type = this.headers.get('content-type') ?? '';
        return readWhole(this)?.then((b) => new Blob([b], { type })) ?? realOf(this).blob();
      },
    },
    [Symbol.for('nodejs.util.inspect.custom')]: {
      value(this: LazyRequest & Request) {
        return { method: this.method, url: this.url, headers: this.headers };
      },
    },
  });

  // Everything else Request.prototype has (clone, formData, cache, mode, …)
  // goes to the real Request; undici's own accessors would refuse our object.
  for (const name of Object.getOwnPropertyNames(Request.prototype)) {
    if (name === 'constructor' || Object.prototype.hasOwnProperty.call(proto, name)) continue;
    const desc = Object.getOwnPropertyDescriptor(Request.prototype, name)!;
    if (typeof desc.get === 'function') {
      Object.defineProperty(proto, name, {
        get(this: LazyRequest & Request) { return (realOf(this) as unknown as Record<string, unknown>)[name]; },
      });
    } else if (typeof desc.value === 'function') {
      Object.defineProperty(proto, name, {
        value(this: LazyRequest & Request, ...args: unknown[]) {
          const real = realOf(this) as unknown as Record<string, (...a: unknown[]) => unknown>;
          return real[name]!(...args);
        },
      });
    }
  }
  return proto;
}

function lazyRequest(req: TsgiRequest, url: string, method?: string): Request {
  const lazy = Object.create(requestProto ??= makeRequestProto()) as LazyRequest;
  lazy[TSGI] = req;
  lazy[URL_KEY] = url;
  lazy[HEADERS] = undefined;
  lazy[REAL] = undefined;
  lazy[READ] = false;
  lazy[METHOD] = method;
  return lazy as unknown as Request;
}

// ---- the Response -------------------------------------------------------------

// A Response's body is only ever read through its public stream. Whether it
// is whole (a string, bytes, JSON: sent with a Content-Length) or a stream
// (sent chunked as it comes) is told by reading ahead: a body undici made of
// a string or bytes gives its one chunk and then its end within a few
// microtask turns of being asked (first read 2 or 3, end 1, on Node 20 to
// 26), a stream that is still being produced does not. So up to two reads
// are each given SOON turns; when the end came, the chunk read is the body,
// otherwise what was read leads the stream. Waiting longer would only hold
// back the head of a real stream; a whole body read too slowly still goes
// out correctly, chunked. (@hono/node-server decides the same way.)
const SOON = 6;
const LATER = Symbol('later');
interface Read { done?: boolean; value?: unknown }

/** p's result if it settles within SOON microtask turns, else LATER. */
function soon(p: Promise<Read>): Promise<Read | typeof LATER> {
  let timer: Promise<typeof LATER> = Promise.resolve(LATER);
  for (let i = 1; i < SOON; i++) timer = timer.then(later);
  return Promise.race([p, timer]);
}

function later(): typeof LATER {
  return LATER;
}

/** A stream's chunk as a TSGI chunk: a stream of strings (allowed by ReadableStream) goes out as UTF-8. */
function chunkOf(v: unknown): Chunk {
  return typeof v === 'string' || v instanceof Uint8Array ? v : new Uint8Array(v as ArrayBuffer);
}

/**
 * The rest of a Response body as an async iterable, one read per chunk the
 * server pulls: first `ahead` (read already), then `pending` (asked for
 * already), then the stream. With no reader, the reader is taken on the
 * first pull, so a locked body fails there, where the server answers 500.
 */
function streamBody(body: ReadableStream<Uint8Array>, reader?: ReadableStreamDefaultReader<Uint8Array>,
  ahead: Chunk[] = [], pending?: Promise<Read>): AsyncIterable<Chunk> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<Chunk> {
      return {
        async next(): Promise<IteratorResult<Chunk>> {
          const first = ahead.shift();
          if (first !== undefined) return { done: false, value: first };
          let r: Read;
          if (pending !== undefined) {
            r = await pending;
            pending = undefined;
          } else {
            reader ??= body.getReader();
            r = await reader.read();
          }
          if (r.done) return { done: true, value: undefined };
          return { done: false, value: chunkOf(r.value) };
        },
        async return(): Promise<IteratorResult<Chunk>> {
          // The client left: cancel the stream, so its producer hears of it.
          await (reader ?? body).cancel().catch(() => {});
          return { done: true, value: undefined };
        },
      };
    },
  };
}

/** The body whole if it ends within reach (see above), else as a stream led by what was read. */
async function bodyOf(body: ReadableStream<Uint8Array>): Promise<ReplyBody> {
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  try {
    reader = body.getReader();
  } catch {
    // Locked (the handler holds a reader): it fails again where the server pulls, a 500.
    return streamBody(body);
  }
  let read = reader.read();
  const first = await soon(read);
  if (first === LATER) return streamBody(body, reader, [], read);
  if (first.done) return EMPTY;
  const chunk = chunkOf(first.value);
  read = reader.read();
  const second = await soon(read);
  if (second === LATER) return streamBody(body, reader, [chunk], read);
  if (second.done) return chunk;
  return streamBody(body, reader, [chunk, chunkOf(second.value)]);
}

const EMPTY = new Uint8Array(0);

/** Whether a Response made of a string is sent whole, with its length, on this Node (for tests). */
export async function fetchFastBody(): Promise<boolean> {
  const body = await bodyOf(new Response('x').body!);
  return body instanceof Uint8Array && body.length === 1 && body[0] === 0x78;
}

function toReply(res: Response): Reply | Promise<Reply> {
  if (!(res instanceof Response)) {
    throw new TsgiError('TSGI_ERR_REPLY_BODY', `the fetch handler returned ${res === null ? 'null' : typeof res}, not a Response`);
  }
  if (isLightResponse(res)) {
    // The light Response's record goes out as it is (see fetch-globals.ts).
    const light = lightReply(res);
    if (light !== undefined) return { status: light.status, headers: light.headers, body: light.body ?? undefined };
    res = realResponse(res);
  }
  const headers: Array<[string, string]> = [];
  let cookies = false;
  for (const [name, value] of res.headers) {
    if (name === 'set-cookie') cookies = true;
    else headers.push([name, value]);
  }
  if (cookies) for (const cookie of res.headers.getSetCookie()) headers.push(['set-cookie', cookie]);
  const status = res.status;
  const body = res.body;
  if (body === null) return { status, headers, body: undefined };
  return bodyOf(body).then((b) => ({ status, headers, body: b }));
}

// ---- the app ------------------------------------------------------------------

/** Whether `x` is an object with a `fetch` method (a Hono app, `export default { fetch }`). */
export function isFetchApp(x: unknown): boolean {
  return x !== null && (typeof x === 'object' || typeof x === 'function') &&
    typeof (x as { fetch?: unknown }).fetch === 'function';
}

const BAD_REQUEST: Reply = Object.freeze({
  status: 400, headers: [['content-type', 'text/plain; charset=utf-8']] as const, body: 'Bad Request\n',
});

/**
 * Whether `x` answers HEAD by running its GET route and dropping the body
 * (Hono: `new Response(null, getResponse)`), which loses the GET reply's
 * length: such an app is asked GET for a HEAD request, and the server drops
 * the body but keeps its Content-Length (docs/tsgi.md section 4, rule 4), as
 * RFC 9110 section 9.3.2 asks of a HEAD reply.
 */
function headIsGet(x: unknown): boolean {
  if (x === null || typeof x !== 'object') return false;
  const o = x as Record<string, unknown>;
  return Array.isArray(o.routes) && typeof o.route === 'function' && typeof o.request === 'function' &&
    typeof o.fetch === 'function';
}

/**
 * A fetch handler, or an object with a `fetch` method, as a TSGI app. The
 * handler gets a global Request (lazy: see above), `{ tsgi: req }` as its
 * env, and an execution context; its Response becomes the reply. With
 * `{ overrideGlobalObjects: true }` the global Response is tsgi's light class
 * from now until the returned app's `shutdown()` (see FetchOptions).
 */
export function fromFetch(handler: FetchApp, options: FetchOptions = {}): FetchTsgiApp {
  type Call = (request: Request, env: FetchEnv, ctx: FetchExecutionContext) => Response | Promise<Response>;
  const call: Call = typeof handler === 'function'
    ? handler as unknown as Call
    : (request, env, ctx) => (handler.fetch as unknown as Call).call(handler, request, env, ctx);
  if (typeof call !== 'function' || (typeof handler !== 'function' && !isFetchApp(handler))) {
    throw new TsgiError('TSGI_ERR_APP_KIND', 'fromFetch() needs a function or an object with a fetch method');
  }
  if (options.overrideGlobalObjects !== undefined && typeof options.overrideGlobalObjects !== 'boolean') {
    throw new TypeError('fromFetch(): overrideGlobalObjects must be true or false');
  }
  const headAsGet = headIsGet(handler);
  const app: FetchTsgiApp = (req) => {
    const url = urlOf(req);
    if (url === undefined) return BAD_REQUEST;
    const env: FetchEnv = { tsgi: req };
    const method = headAsGet && req.REQUEST_METHOD === 'HEAD' ? 'GET' : undefined;
    const res = call(lazyRequest(req, url, method), env, EXECUTION_CONTEXT);
    if (res instanceof Response) return toReply(res);
    return Promise.resolve(res).then(toReply);
  };
  if (options.overrideGlobalObjects === true) app.shutdown = overrideGlobalResponse();
  return app;
}
