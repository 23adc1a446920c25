// The exchange: the socket the app sees, and the reply's state. One small
// object per request, which holds the head, the TSGI promise and the queue
// of written chunks that the server pulls as an async iterable.
import { EventEmitter } from 'node:events';
import { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Chunk, HeaderList, Reply, ReplyBody, Request } from '../../tsgi/types.js';
import { appTarget } from '../target.js';
import { kOutHeaders, nodeError } from './internals.js';
import { reqDestroy, reqRead, setHeaders, setVersion } from './request.js';
import { givenHeaders, hasStoredHeaders, publicHeaders, refused, resEnd, resFlushHeaders, resWrite, resWriteHead }
  from './response.js';
import { emitFinish, HIGH_WATER, ReplyStream } from './reply-stream.js';
import { X, type Callback, type HeaderValue, type Listener, type Req, type Res } from './shapes.js';

/** res.writableFinished once 'finish' is emitted (see index.ts). */
const FINISHED: PropertyDescriptor = Object.freeze({ value: true, writable: false, enumerable: false, configurable: true });
/** The reply to a request whose client left before the app answered: serve() drops it unsent. */
const GONE_REPLY: Reply = Object.freeze({ status: 500 });

export class Exchange extends EventEmitter {
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
  /** What destroy() was given: the socket's 'error', as a net.Socket emits it. */
  private error: Error | undefined = undefined;
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
    this.error = err;
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

  /**
   * After 'finish': the response's 'close', and the request's end. An unread
   * request with nothing left to read is read to its end, as node:http dumps
   * one, so it emits 'end' (on-finished waits for it); one whose body is
   * still to come is closed instead, when someone waits for that.
   */
  closeAfterFinish(): void {
    if (!this.closed) {
      this.closed = true;
      this.res.emit('close');
    }
    const req = this.req;
    if (req.destroyed || req.readableEnded) return;
    if (!req._consuming && !req.readableFlowing && this.treq.body.done) {
      req.removeAllListeners('data');
      req.resume();
    } else if (req.listenerCount('close') > 0) {
      this.quiet = true;
      req.destroy();
    }
  }

  /** After the client left or the app destroyed the exchange: the socket's and the response's 'close'. */
  gone(): void {
    // net.Socket's destroy(err): 'error' (here only to those listening, such
    // as on-finished, through which Koa reports it), then 'close'.
    const err = this.error;
    if (err !== undefined && this.listenerCount('error') > 0) this.emit('error', err);
    this.emit('close', err !== undefined);
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

// What a net.Socket has as plain properties, apps and tests may assign
// (`req.socket.encrypted = true` behind a TLS-terminating proxy): the value
// becomes the instance's own, as it would on a socket.
for (const name of ['remoteAddress', 'remotePort', 'remoteFamily', 'localAddress', 'localPort', 'encrypted']) {
  const getter = Object.getOwnPropertyDescriptor(Exchange.prototype, name)!;
  Object.defineProperty(Exchange.prototype, name, {
    ...getter,
    set(this: Exchange, value: unknown): void {
      Object.defineProperty(this, name, { value, writable: true, enumerable: true, configurable: true });
    },
  });
}

function emitClose(x: Exchange): void {
  x.closeAfterFinish();
}

function emitGone(x: Exchange): void {
  x.gone();
}
