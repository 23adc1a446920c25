// The Node request-listener adapter: runs an app written for node:http
// (Express, Koa, Fastify, a plain `(req, res)` listener) as a TSGI App.
//
// `req` and `res` are real http.IncomingMessage and http.ServerResponse
// objects: frameworks check `instanceof` and Express swaps their prototypes
// for its own (which inherit from those classes), so the adapter cannot rely
// on a subclass. What it changes is set on each instance as own properties
// that point at shared module functions (no closure per request): on `req`,
// `_read` and `_destroy` (the hooks Readable itself lets options set); on
// `res`, `writeHead`, `write`, `end` and `flushHeaders`. Everything else is
// Node's own code: setHeader and friends, `headersSent` (from `_header`),
// `writableEnded` and `writableLength` (from the socket). `writableFinished`
// becomes an own `true` when the adapter emits 'finish': Node 20 and 22
// compute it from the socket, Node 24 reads a private flag that only Node's
// own finishing sets.
//
// The socket is one small object per request, an `Exchange`, which also
// holds the reply's state: the head, the TSGI promise, the queue of written
// chunks that the server pulls as an async iterable. Backpressure follows
// the server: a chunk leaves the queue only when the server asks for the
// next one, which it does once the client took the previous one.
import { EventEmitter } from 'node:events';
import { IncomingMessage, ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { App, Chunk, HeaderList, Reply, ReplyBody, Request } from '../tsgi/types.js';
import { appTarget } from './target.js';

type Listener = (req: IncomingMessage, res: ServerResponse) => unknown;
type Callback = (err?: Error | null) => void;
type HeaderValue = string | number | readonly string[];

const X = Symbol('tsgi.exchange');

/** The fields of Node's objects the adapter reads or sets (long-standing ones; the private symbols are probed below). */
type Req = IncomingMessage & {
  [X]: Exchange;
  _consuming: boolean;
  _readableState: { readingMore: boolean };
  _read(size: number): void;
  _destroy(err: Error | null, cb: Callback): void;
};
type Res = ServerResponse & {
  [X]: Exchange;
  _header: string | null;
  finished: boolean;
};

/** Writes above this many queued bytes return false (Node 22's default high-water mark). */
const HIGH_WATER = 64 * 1024;
const DONE: IteratorResult<Chunk> = Object.freeze({ value: undefined, done: true });
/** What `_header` holds once the head is decided: Node's own headersSent and setHeader read it. */
const HEAD_DECIDED = 'HTTP/1.1 (tsgi)\r\n\r\n';
/** res.writableFinished once 'finish' is emitted (see the top of this file). */
const FINISHED: PropertyDescriptor = Object.freeze({ value: true, writable: false, enumerable: false, configurable: true });
/** The reply to a request whose client left before the app answered: serve() drops it unsent. */
const GONE_REPLY: Reply = Object.freeze({ status: 500 });

// ---- Node internals, found and checked once ------------------------------------
// IncomingMessage builds `headers` lazily from `rawHeaders` and a count kept
// under a symbol (kHeadersCount); ServerResponse keeps its headers under
// kOutHeaders as { lower: [name, value] }. Both are private to Node, so each
// is looked up and tried on a probe here; without them the adapter takes the
// public road (builds `headers` eagerly, reads the headers back by name).

function findSymbol(obj: object, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(obj).find((s) => s.description === description);
}

const kHeadersCount = ((): symbol | undefined => {
  const probe = new IncomingMessage(null as unknown as Socket);
  const k = findSymbol(probe, 'kHeadersCount');
  if (k === undefined) return undefined;
  probe.rawHeaders = ['Set-Cookie', 'a', 'set-cookie', 'b', 'X-One', '1', 'x-one', '2'];
  (probe as unknown as Record<symbol, number>)[k] = 8;
  const h = probe.headers;
  const ok = Array.isArray(h['set-cookie']) && h['set-cookie'].join() === 'a,b' && h['x-one'] === '1, 2';
  return ok ? k : undefined;
})();

const kOutHeaders = ((): symbol | undefined => {
  const probe = new ServerResponse(new IncomingMessage(null as unknown as Socket));
  const k = findSymbol(probe, 'kOutHeaders');
  if (k === undefined) return undefined;
  probe.setHeader('X-Probe', ['a', 'b']);
  const store = (probe as unknown as Record<symbol, Record<string, [string, unknown]> | null>)[k];
  const entry = store?.['x-probe'];
  return Array.isArray(entry) && entry[0] === 'X-Probe' && Array.isArray(entry[1]) ? k : undefined;
})();

// ---- errors with Node's codes (apps and frameworks test `err.code`) ------------

function nodeError(Kind: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor, code: string,
  message: string): Error & { code: string } {
  const err = new Kind(message) as Error & { code: string };
  err.code = code;
  return err;
}

function checkChunk(chunk: unknown): asserts chunk is string | Uint8Array {
  if (chunk === null) throw nodeError(TypeError, 'ERR_STREAM_NULL_VALUES', 'May not write null values to stream');
  if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
    throw nodeError(TypeError, 'ERR_INVALID_ARG_TYPE',
      `The "chunk" argument must be of type string or an instance of Buffer or Uint8Array. Received ${typeof chunk}`);
  }
}

/** A string stays a string (serve() sends it as UTF-8) unless another encoding is named. */
function toChunk(chunk: string | Uint8Array, encoding: unknown): Chunk {
  if (typeof chunk !== 'string') return chunk;
  if (encoding === undefined || encoding === null || encoding === 'utf8' || encoding === 'utf-8') return chunk;
  return Buffer.from(chunk, encoding as BufferEncoding);
}

// ---- the request ------------------------------------------------------------------

function setVersion(req: Req, protocol: string): void {
  let major = 1, minor = protocol === 'HTTP/1.1' ? 1 : 0;
  if (protocol !== 'HTTP/1.1' && protocol !== 'HTTP/1.0') {
    const m = /^HTTP\/(\d)(?:\.(\d))?$/.exec(protocol);
    if (m) {
      major = Number(m[1]);
      minor = Number(m[2] ?? 0);
    }
  }
  req.httpVersionMajor = major;
  req.httpVersionMinor = minor;
  req.httpVersion = major === 1 ? (minor === 1 ? '1.1' : '1.0') : `${major}.${minor}`;
}

/**
 * rawHeaders from the request's fields; `headers` is left to Node's lazy
 * getter (joined as Node joins them: set-cookie an array, cookie with "; ",
 * duplicates of single-valued fields dropped). Over uwsgi, SCGI and FastCGI
 * Content-Type and Content-Length are CGI variables, not HTTP_* ones.
 */
function setHeaders(req: Req, treq: Request): void {
  const list = treq.headers;
  const raw: string[] = [];
  let hasType = false, hasLength = false;
  for (let i = 0; i < list.length; i++) {
    const pair = list[i]!;
    raw.push(pair[0], pair[1]);
  }
  if (treq.tsgi.protocol !== 'http') {
    for (let i = 0; i < raw.length; i += 2) {
      const n = raw[i]!;
      if (n === 'content-type') hasType = true;
      else if (n === 'content-length') hasLength = true;
    }
    const type = treq.CONTENT_TYPE;
    if (type !== '' && !hasType) raw.push('content-type', type);
    const length = treq.CONTENT_LENGTH;
    if (length !== '' && !hasLength) raw.push('content-length', length);
    // A FastCGI body of unknown length: say so as Node would see a chunked
    // one, so body parsers (type-is's hasBody) read it.
    else if (length === '' && !hasLength && treq.tsgi.protocol === 'fastcgi' && !treq.body.done) {
      raw.push('transfer-encoding', 'chunked');
    }
  }
  req.rawHeaders = raw;
  if (kHeadersCount !== undefined) {
    (req as unknown as Record<symbol, number>)[kHeadersCount] = raw.length;
  } else {
    const dst: Record<string, string | string[]> = {};
    const add = (req as unknown as { _addHeaderLine?: (f: string, v: string, d: object) => void })._addHeaderLine;
    for (let i = 0; i < raw.length; i += 2) {
      if (typeof add === 'function') {
        add.call(req, raw[i]!, raw[i + 1]!, dst);
      } else {
        const k = raw[i]!.toLowerCase();
        const prev = dst[k];
        if (k === 'set-cookie') dst[k] = [...(prev ?? []), raw[i + 1]!];
        else dst[k] = prev === undefined ? raw[i + 1]! : `${prev as string}${k === 'cookie' ? '; ' : ', '}${raw[i + 1]!}`;
      }
    }
    req.headers = dst as IncomingMessage['headers'];
  }
}

/** Readable's _read: pull one chunk of the TSGI body per call (Readable asks again when it wants more). */
function reqRead(this: Req): void {
  if (!this._consuming) {
    this._readableState.readingMore = false;
    this._consuming = true;
  }
  void this[X].readBody();
}

/**
 * Like IncomingMessage's: destroying an incomplete request marks it
 * aborted, and the error is only emitted when someone listens for it. Node
 * also destroys the socket then; here that ends the reply the same way.
 */
function reqDestroy(this: Req, err: Error | null, cb: Callback): void {
  const x = this[X];
  if (!x.quiet && (!this.readableEnded || !this.complete)) {
    this.aborted = true;
    this.emit('aborted');
  }
  if (this.aborted && !x.destroyed && !x.quiet) x.destroy(err ?? undefined);
  process.nextTick(reqDestroyed, this, err, cb);
}

function reqDestroyed(req: Req, err: Error | null, cb: Callback): void {
  cb(err !== null && req.listenerCount('error') > 0 ? err : undefined);
}

// ---- the response -----------------------------------------------------------------

function headersSentError(): Error {
  return nodeError(Error, 'ERR_HTTP_HEADERS_SENT', 'Cannot write headers after they are sent to the client');
}

/**
 * Node's writeHead, without building the header string: the status and the
 * headers are kept for the TSGI reply. Like Node, it sends nothing; the head
 * leaves with the first write, end() or flushHeaders(). All of Node's forms:
 * (status), (status, reason), (status, headers), (status, reason, headers),
 * headers as an object or an array ([k, v, k, v] or [[k, v], ...]). The
 * reason phrase is kept in statusMessage but not sent: TSGI replies carry
 * the status code only, and the server writes the standard phrase.
 */
function resWriteHead(this: Res, statusCode: number, reason?: unknown, obj?: unknown): Res {
  if (this._header) throw headersSentError();
  const original = statusCode;
  statusCode |= 0;
  if (statusCode < 100 || statusCode > 999) {
    throw nodeError(RangeError, 'ERR_HTTP_INVALID_STATUS_CODE', `Invalid status code: ${String(original)}`);
  }
  if (typeof reason === 'string') {
    this.statusMessage = reason;
  } else {
    this.statusMessage ||= STATUS_CODES[statusCode] || 'unknown';
    obj ??= reason;
  }
  this.statusCode = statusCode;
  const x = this[X];
  if (obj !== undefined && obj !== null) {
    if (hasStoredHeaders(this)) mergeHeaders(this, obj);
    else x.given = obj;
  }
  x.status = statusCode;
  this._header = HEAD_DECIDED;
  return this;
}

function hasStoredHeaders(res: Res): boolean {
  if (kOutHeaders !== undefined) return (res as unknown as Record<symbol, unknown>)[kOutHeaders] !== null;
  return res.getHeaderNames().length > 0;
}

/** writeHead's headers over those already set: they replace by name, an array may repeat a name. */
function mergeHeaders(res: Res, obj: unknown): void {
  if (Array.isArray(obj)) {
    const pairs = pairsOf(obj);
    for (const [k] of pairs) res.removeHeader(k);
    for (const [k, v] of pairs) if (k) res.appendHeader(k, v);
    return;
  }
  const o = obj as Record<string, HeaderValue>;
  for (const k of Object.keys(o)) if (k) res.setHeader(k, o[k]!);
}

function pairsOf(arr: readonly unknown[]): Array<[string, string | readonly string[]]> {
  const out: Array<[string, string | readonly string[]]> = [];
  if (arr.length > 0 && Array.isArray(arr[0])) {
    for (const p of arr as ReadonlyArray<readonly [string, HeaderValue]>) out.push([p[0], norm(p[1])]);
    return out;
  }
  if (arr.length % 2 !== 0) {
    throw nodeError(TypeError, 'ERR_INVALID_ARG_VALUE', 'The argument \'headers\' must have an even number of entries');
  }
  for (let i = 0; i < arr.length; i += 2) out.push([arr[i] as string, norm(arr[i + 1] as HeaderValue)]);
  return out;
}

function norm(v: HeaderValue): string | readonly string[] {
  return typeof v === 'string' || Array.isArray(v) ? v as string | readonly string[] : String(v);
}

function resWrite(this: Res, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  if (typeof encoding === 'function') {
    cb = encoding;
    encoding = undefined;
  }
  checkChunk(chunk);
  const x = this[X];
  if (this.finished || x.destroyed) {
    x.refuse(this.finished
      ? nodeError(Error, 'ERR_STREAM_WRITE_AFTER_END', 'write after end')
      : nodeError(Error, 'ERR_STREAM_DESTROYED', 'Cannot call write after a stream was destroyed'),
    cb as Callback | undefined);
    return false;
  }
  if (!this._header) (this as unknown as { _implicitHeader(): void })._implicitHeader();
  return x.send(toChunk(chunk, encoding), cb as Callback | undefined);
}

function resEnd(this: Res, chunk?: unknown, encoding?: unknown, cb?: unknown): Res {
  if (typeof chunk === 'function') {
    cb = chunk;
    chunk = undefined;
  } else if (typeof encoding === 'function') {
    cb = encoding;
    encoding = undefined;
  }
  if (chunk !== undefined && chunk !== null) checkChunk(chunk);
  const x = this[X];
  if (this.finished) {
    if (typeof cb === 'function') {
      if (!this.writableFinished) this.once('finish', cb as Callback);
      else process.nextTick(cb as Callback, nodeError(Error, 'ERR_STREAM_ALREADY_FINISHED',
        'Cannot call end after a stream was finished'));
    }
    return this;
  }
  if (x.destroyed) {
    if (typeof cb === 'function') process.nextTick(cb as Callback, nodeError(Error, 'ERR_STREAM_DESTROYED',
      'Cannot call end after a stream was destroyed'));
    return this;
  }
  if (!this._header) (this as unknown as { _implicitHeader(): void })._implicitHeader();
  this.finished = true;
  if (typeof cb === 'function') this.once('finish', cb as Callback);
  x.close(chunk === undefined || chunk === null ? undefined : toChunk(chunk as string | Uint8Array, encoding));
  return this;
}

/** Sends the head now, with no body yet (server-sent events, long polls). */
function resFlushHeaders(this: Res): void {
  if (!this._header) (this as unknown as { _implicitHeader(): void })._implicitHeader();
  const x = this[X];
  if (!x.destroyed && !this.finished) x.send('', undefined);
}

// ---- the exchange: the socket the app sees, and the reply's state ------------------

class Exchange extends EventEmitter {
  readonly req: Req;
  readonly res: Res;
  /** Set by the app or the client going away: no more reply. */
  destroyed = false;
  /** The request ends with the reply, not by an abort: no 'aborted' on req. */
  quiet = false;
  status = 200;
  /** Headers given to writeHead when none were set before (Fastify gives them all there). */
  given: unknown = undefined;
  reply: Reply | undefined = undefined;
  private resolve: ((r: Reply) => void) | undefined = undefined;
  private reject: ((e: unknown) => void) | undefined = undefined;
  private failure: unknown = undefined;
  /** The streamed body, from the first write() on. */
  private body: ReplyStream | undefined = undefined;
  /** 0 writing, 1 ended but not all taken by the server, 2 'finish' emitted. */
  private finishState = 0;
  private closed = false;
  private bodyIt: AsyncIterator<Uint8Array> | undefined = undefined;

  constructor(readonly treq: Request) {
    super();
    const req = new IncomingMessage(this as unknown as Socket) as Req;
    req[X] = this;
    req._read = reqRead;
    req._destroy = reqDestroy;
    req.method = treq.REQUEST_METHOD;
    req.url = appTarget(treq);
    setVersion(req, treq.SERVER_PROTOCOL);
    setHeaders(req, treq);
    const res = new ServerResponse(req) as unknown as Res;
    res[X] = this;
    res.writeHead = resWriteHead as Res['writeHead'];
    res.write = resWrite as Res['write'];
    res.end = resEnd as Res['end'];
    res.flushHeaders = resFlushHeaders;
    (res as { socket: unknown }).socket = this;
    this.req = req;
    this.res = res;
  }

  run(listener: Listener): Reply | Promise<Reply> {
    let ret: unknown;
    try {
      ret = listener(this.req, this.res);
    } catch (err) {
      this.destroy(err as Error);
      throw err;
    }
    if (this.failure !== undefined && this.reply === undefined) throw this.failure;
    if (ret !== null && typeof ret === 'object' && typeof (ret as Promise<unknown>).then === 'function') {
      (ret as Promise<unknown>).then(undefined, (err: unknown) => this.destroy(err as Error));
    }
    const reply = this.reply;
    if (reply !== undefined && this.finishState !== 0 && this.body === undefined) return reply;
    const pending = reply ?? new Promise<Reply>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Only a reply still in progress can see its client leave.
    const signal = this.treq.signal;
    if (signal.aborted) this.handleEvent();
    else signal.addEventListener('abort', this, { once: true });
    return pending;
  }

  /** The client went away (req.signal). */
  handleEvent(): void {
    if (this.destroyed || this.finishState === 2) return;
    this.destroyed = true;
    this.res.destroyed = true;
    this.body?.stop(undefined);
    if (this.resolve !== undefined) this.settle(GONE_REPLY);
    const req = this.req;
    if (!req.destroyed) req.destroy(nodeError(Error, 'ECONNRESET', 'aborted'));
    process.nextTick(emitGone, this);
  }

  /** The app destroyed the socket, the response or the request, or its promise rejected. */
  destroy(err?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.res.destroyed = true;
    const cause = err ?? nodeError(Error, 'ERR_STREAM_DESTROYED', 'the app destroyed the response');
    if (this.reply === undefined) {
      // Not answered yet: the server answers 500 (Node would reset the connection).
      if (this.reject !== undefined) this.settle(undefined, cause);
      else this.failure = cause;
    } else if (this.body !== undefined && this.finishState !== 2) {
      // Partly sent: the server cuts the connection, as Node does.
      this.body.stop(cause);
    }
    const req = this.req;
    if (!req.destroyed) {
      this.quiet = true;
      req.destroy();
    }
    process.nextTick(emitGone, this);
    return this;
  }

  private settle(reply: Reply | undefined, err?: unknown): void {
    const resolve = this.resolve, reject = this.reject;
    this.resolve = this.reject = undefined;
    if (reply !== undefined) resolve?.(reply);
    else reject?.(err);
  }

  /** The reply's head is decided and the body is `body`. */
  private commit(body: ReplyBody): void {
    const reply: Reply = { status: this.status, headers: this.replyHeaders(), body };
    this.reply = reply;
    if (this.resolve !== undefined) this.settle(reply);
  }

  private replyHeaders(): HeaderList | undefined {
    const res = this.res;
    if (!hasStoredHeaders(res)) return this.given === undefined ? undefined : givenHeaders(this.given);
    if (kOutHeaders === undefined) return publicHeaders(res);
    const store = (res as unknown as Record<symbol, Record<string, [string, HeaderValue]>>)[kOutHeaders]!;
    // RFC 9112 6.3: with Transfer-Encoding, Content-Length is not the length.
    const dropLength = store['transfer-encoding'] !== undefined;
    const out: Record<string, HeaderValue> = {};
    for (const key in store) {
      if (dropLength && key === 'content-length') continue;
      const entry = store[key]!;
      out[entry[0]] = entry[1];
    }
    return out as HeaderList;
  }

  // ---- the body the app writes ----

  send(data: Chunk, cb: Callback | undefined): boolean {
    let body = this.body;
    if (body === undefined) {
      body = this.body = new ReplyStream(this);
      this.commit(body);
    }
    return body.push(data, cb);
  }

  close(data: Chunk | undefined): void {
    this.finishState = 1;
    const body = this.body;
    if (body === undefined) {
      // The whole body at once: a plain reply, sent with Content-Length in one go.
      this.commit(data);
      process.nextTick(emitFinish, this);
      return;
    }
    if (data !== undefined && data.length > 0) body.push(data, undefined);
    body.end();
  }

  refuse(err: Error, cb: Callback | undefined): void {
    process.nextTick(refused, this.res, err, cb);
  }

  /** The server stopped pulling before the end (the client left, or a write failed). */
  stopped(): void {
    if (this.finishState !== 2) this.handleEvent();
  }

  /** All of the reply is with the server: 'finish', then 'close' as node:http emits them. */
  finished(): void {
    if (this.finishState !== 1 || (this.destroyed && this.body !== undefined)) return;
    this.finishState = 2;
    // Before this, the prototype's getter says false on every Node version.
    Object.defineProperty(this.res, 'writableFinished', FINISHED);
    this.res.emit('finish');
    process.nextTick(emitClose, this);
  }

  /** After 'finish': the response's 'close', and the request's when someone waits for it. */
  closeAfterFinish(): void {
    if (!this.closed) {
      this.closed = true;
      this.res.emit('close');
    }
    const req = this.req;
    if (!req.destroyed && req.listenerCount('close') > 0) {
      this.quiet = true;
      req.destroy();
    }
  }

  /** After the client left or the app destroyed the exchange: the socket's and the response's 'close'. */
  gone(): void {
    this.emit('close', false);
    if (!this.closed) {
      this.closed = true;
      this.res.emit('close');
    }
  }

  // ---- the body the app reads ----

  async readBody(): Promise<void> {
    const req = this.req;
    let it = this.bodyIt;
    if (it === undefined) {
      const body = this.treq.body;
      if (body.done) {
        req.complete = true;
        req.push(null);
        return;
      }
      it = this.bodyIt = body[Symbol.asyncIterator]();
    }
    let r: IteratorResult<Uint8Array>;
    try {
      r = await it.next();
    } catch (err) {
      req.destroy(err as Error);
      return;
    }
    if (r.done) {
      req.complete = true;
      req.push(null);
    } else {
      req.push(r.value);
    }
  }

  // ---- the rest of net.Socket that frameworks touch ----

  get remoteAddress(): string | undefined {
    return this.treq.REMOTE_ADDR || undefined;
  }

  get remotePort(): number | undefined {
    const p = this.treq.REMOTE_PORT;
    return p === '' ? undefined : Number(p);
  }

  get remoteFamily(): string | undefined {
    const a = this.treq.REMOTE_ADDR;
    return a === '' ? undefined : a.includes(':') ? 'IPv6' : 'IPv4';
  }

  get localAddress(): string | undefined {
    return this.treq.var('SERVER_ADDR') || undefined;
  }

  get localPort(): number | undefined {
    const p = this.treq.SERVER_PORT;
    return p === '' ? undefined : Number(p);
  }

  /** Express's req.protocol and req.secure, Fastify's request.protocol read this. */
  get encrypted(): true | undefined {
    return this.treq.tsgi.url_scheme === 'https' ? true : undefined;
  }

  get readable(): boolean {
    return !this.destroyed;
  }

  get writable(): boolean {
    return !this.destroyed;
  }

  /** What the server has not taken yet (ServerResponse's writableLength, and writableFinished before Node 24, read it). */
  get writableLength(): number {
    return (this.body?.queued ?? 0) + (this.finishState === 1 ? 1 : 0);
  }

  get writableHighWaterMark(): number {
    return HIGH_WATER;
  }

  get _httpMessage(): Res {
    return this.res;
  }

  address(): { address: string; family: string; port: number } | Record<string, never> {
    const address = this.localAddress;
    if (address === undefined) return {};
    return { address, family: address.includes(':') ? 'IPv6' : 'IPv4', port: this.localPort ?? 0 };
  }

  /** Node writes interim replies here (writeContinue, writeEarlyHints); the server owns those. */
  write(_data: unknown, encoding?: unknown, cb?: unknown): boolean {
    const done = typeof encoding === 'function' ? encoding : cb;
    if (typeof done === 'function') process.nextTick(done as Callback);
    return true;
  }
}

// The rest of net.Socket's surface that frameworks call (timeouts, Nagle,
// keep-alive, flow): the server owns the connection, so these do nothing.
for (const name of ['end', 'setTimeout', 'setNoDelay', 'setKeepAlive', 'ref', 'unref', 'pause', 'resume', 'cork',
  'uncork']) {
  Object.defineProperty(Exchange.prototype, name, {
    value(this: Exchange): Exchange { return this; }, writable: true, configurable: true,
  });
}

/**
 * The streamed body as serve() pulls it. Written chunks (and their
 * callbacks, alternating) wait in a queue until the server asks for the next
 * one, which it does once the client took the previous ones.
 */
class ReplyStream implements AsyncIterableIterator<Chunk> {
  private readonly queue: Array<Chunk | Callback | undefined> = [];
  queued = 0;
  private ended = false;
  private needDrain = false;
  private pulled = false;
  private failure: Error | undefined = undefined;
  private waiter: ((r: IteratorResult<Chunk>) => void) | undefined = undefined;
  private waitFail: ((e: unknown) => void) | undefined = undefined;

  constructor(private readonly x: Exchange) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** From res.write(): false once the queue is over the high-water mark. */
  push(data: Chunk, cb: Callback | undefined): boolean {
    // An empty chunk only matters first: it makes the head go out.
    if (data.length === 0 && (this.pulled || this.queue.length > 0)) {
      if (cb !== undefined) process.nextTick(cb);
      return !this.needDrain;
    }
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = this.waitFail = undefined;
      this.pulled = true;
      if (cb !== undefined) process.nextTick(cb);
      waiter({ value: data, done: false });
      return true;
    }
    this.queue.push(data, cb);
    this.queued += data.length;
    if (this.queued < HIGH_WATER) return true;
    this.needDrain = true;
    return false;
  }

  end(): void {
    this.ended = true;
    if (this.waiter !== undefined) this.next();
  }

  /** No more: the client left (err undefined) or the app destroyed the response (the server cuts it). */
  stop(err: Error | undefined): void {
    this.failure = err;
    this.ended = true;
    const waiter = this.waiter, fail = this.waitFail;
    this.waiter = this.waitFail = undefined;
    if (err !== undefined) fail?.(err);
    else waiter?.(DONE);
  }

  /** The server wants the next chunk: the previous one is with the core. */
  next(): Promise<IteratorResult<Chunk>> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const q = this.queue;
    if (q.length > 0) {
      const data = q.shift() as Chunk;
      const cb = q.shift() as Callback | undefined;
      this.queued -= data.length;
      this.pulled = true;
      if (cb !== undefined) process.nextTick(cb);
      if (q.length === 0 && this.needDrain) {
        this.needDrain = false;
        this.x.res.emit('drain');
      }
      return Promise.resolve({ value: data, done: false });
    }
    if (this.ended) {
      const waiter = this.waiter;
      this.waiter = this.waitFail = undefined;
      waiter?.(DONE);
      process.nextTick(emitFinish, this.x);
      return Promise.resolve(DONE);
    }
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.waitFail = reject;
    });
  }

  return(): Promise<IteratorResult<Chunk>> {
    this.x.stopped();
    return Promise.resolve(DONE);
  }
}

function emitFinish(x: Exchange): void {
  x.finished();
}

function emitClose(x: Exchange): void {
  x.closeAfterFinish();
}

function emitGone(x: Exchange): void {
  x.gone();
}

function refused(res: Res, err: Error, cb: Callback | undefined): void {
  cb?.(err);
  if (res.listenerCount('error') > 0) res.emit('error', err);
}

/** writeHead's headers as a TSGI header list (nothing set with setHeader before). */
function givenHeaders(given: unknown): HeaderList {
  if (Array.isArray(given)) {
    const pairs = pairsOf(given);
    const dropLength = pairs.some(([k]) => k.length === 17 && k.toLowerCase() === 'transfer-encoding');
    const out: Array<[string, string]> = [];
    for (const [k, v] of pairs) {
      if (!k || (dropLength && k.length === 14 && k.toLowerCase() === 'content-length')) continue;
      if (typeof v === 'string') out.push([k, v]);
      else for (const one of v) out.push([k, String(one)]);
    }
    return out;
  }
  const o = given as Record<string, HeaderValue>;
  let te = false;
  for (const k in o) if (k.length === 17 && k.toLowerCase() === 'transfer-encoding') te = true;
  if (!te) return o as HeaderList;
  const out: Record<string, HeaderValue> = {};
  for (const k in o) if (!(k.length === 14 && k.toLowerCase() === 'content-length')) out[k] = o[k]!;
  return out as HeaderList;
}

/** The headers set with setHeader, by Node's public methods (when kOutHeaders is not found). */
function publicHeaders(res: Res): HeaderList {
  const names = (res as unknown as { getRawHeaderNames(): string[] }).getRawHeaderNames();
  const dropLength = res.hasHeader('transfer-encoding');
  const out: Record<string, HeaderValue> = {};
  for (const name of names) {
    if (dropLength && name.toLowerCase() === 'content-length') continue;
    const v = res.getHeader(name);
    if (v !== undefined) out[name] = v as HeaderValue;
  }
  return out as HeaderList;
}

// ---- the adapters ---------------------------------------------------------------

/**
 * A node:http request listener as a TSGI App. The App's reply is decided
 * when the head is: at the first write() or flushHeaders() (the body then
 * streams as the app writes), or at end(). end() with the whole body before
 * any write() makes a plain reply, sent with Content-Length in one go; when
 * the listener does that synchronously (Express, Fastify with sync handlers)
 * the App answers synchronously too. A listener that throws, or whose
 * returned promise rejects before it answered, gets a 500 from the server.
 */
export function fromNodeListener(listener: (req: IncomingMessage, res: ServerResponse) => unknown): App {
  if (typeof listener !== 'function') throw new TypeError('fromNodeListener needs a (req, res) function');
  return (treq) => new Exchange(treq).run(listener);
}

interface FastifyLike {
  routing(req: IncomingMessage, res: ServerResponse): void;
  ready(): PromiseLike<unknown>;
}

/** A Fastify instance: its public `routing(req, res)`, after `ready()` once. */
function fromFastify(f: FastifyLike): App {
  const app = fromNodeListener((req, res) => f.routing(req, res));
  let ready: Promise<void> | undefined;
  let isReady = false;
  return (treq) => {
    if (isReady) return app(treq);
    ready ??= (async () => {
      await f.ready();
      isReady = true;
    })();
    return ready.then(() => app(treq));
  };
}

/**
 * Recognises what the Node adapter can run and adapts it: a Fastify
 * instance (`routing` and `ready` functions), a Koa app (`callback()`), a
 * function of two or more parameters (an Express app, a plain listener).
 * Anything else: undefined.
 */
export function fromNodeApp(x: unknown): App | undefined {
  if (x === null || (typeof x !== 'object' && typeof x !== 'function')) return undefined;
  const o = x as Record<string, unknown>;
  if (typeof o.routing === 'function' && typeof o.ready === 'function') return fromFastify(o as unknown as FastifyLike);
  if (typeof x === 'object' && typeof o.callback === 'function') {
    return fromNodeListener((o.callback as () => Listener)());
  }
  if (typeof x === 'function' && x.length >= 2) return fromNodeListener(x as Listener);
  return undefined;
}
