// The sending of replies: what the app returned (bytes, an iterable, a file)
// handed to the core, an app's error answered, a request past --harakiri cut
// short, and the bookkeeping of a request that is done. Made once per server
// by serve(), as closures over its state: per request it costs what the same
// functions written inside serve() would.
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import type { NativeServer } from '../native/load.js';
import { TsgiError } from '../errors.js';
import type { Chunk, FileBody, Reply, Request } from '../tsgi/types.js';
import { encodeHeaders } from './reply.js';
import { offloadFields } from './static.js';
import { appErrorBody, logAppError } from './app-call.js';
import type { HttpRequest } from './request.js';
import type { CgiRequest } from './cgi-request.js';
import { RECORD_FLAGS, REPLY, REPLY_FLAGS } from '../native/abi.js';
import type { RequestDone } from './access-log.js';
import type { Upgrades } from './upgrade.js';
import { CHUNKS_KEPT } from './chunks-kept.js';
import { isSealed, type Sealed } from './sealed.js';

export type AnyRequest = HttpRequest | CgiRequest;

// Raw fds, not FileHandles: the core takes the fd over and closes it.
const openFile = promisify(fs.open);
const statFile = promisify(fs.fstat);
const closeFile = (fd: number): void => fs.close(fd, () => {});
const { HEAD: F_HEAD } = RECORD_FLAGS;
const { GONE, FULL, OVERFLOW } = REPLY;
const { END: FLAG_END, CLOSE: FLAG_CLOSE, NO_DATE: FLAG_NO_DATE, KEPT: FLAG_KEPT } = REPLY_FLAGS;

export interface SendContext {
  readonly native: NativeServer;
  readonly log: (line: string) => void;
  /** The requests still running, by handle, in arrival order. */
  readonly active: Map<number, AnyRequest>;
  readonly onDone: ((req: Request, done: RequestDone) => void) | undefined;
  /** Count the body bytes of each reply (for onDone). */
  readonly track: boolean;
  readonly harakiriMs: number;
  /** The server's WebSockets and tunnels: a `websocket` or `tunnel` reply goes there. */
  readonly upgrades: Upgrades;
  /** The core serves X-Sendfile and X-Accel-Redirect replies (static offloadRoot). */
  readonly offloading?: boolean;
}

export interface ReplySender {
  /** The app's reply to req, handed to the core (a stream or a file goes on asynchronously). */
  send(req: AnyRequest, reply: Reply): void;
  /** The app (or its reply) failed: a 500 (or its own 4xx) if nothing was sent yet, else the connection is cut. */
  fail(req: AnyRequest, err: unknown): void;
  /** --harakiri: the request's time is up. */
  harakiri(req: AnyRequest, now: number): void;
}

function checkChunk(chunk: unknown): Chunk {
  if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
    throw new TsgiError('TSGI_ERR_REPLY_BODY', `a chunk of type ${chunk === null ? 'null' : typeof chunk}`);
  }
  return chunk;
}

// The file's own validators and range fields replace the app's (Express's
// res.send() adds an ETag for the body it is not going to send).
const FILE_FIELDS = /^(etag|last-modified|accept-ranges|content-range|content-encoding):[^\r]*\r\n/gim;
function offloadHeaders(block: string): string {
  return block.replace(FILE_FIELDS, '');
}

export function replySender(ctx: SendContext): ReplySender {
  const { native, log, active, onDone, track, harakiriMs, upgrades } = ctx;
  const offloading = ctx.offloading === true;

  function fail(req: AnyRequest, err: unknown): void {
    const status = logAppError(log, req, err);
    // A reply that began but of which nothing left yet can still become the 500.
    if (req.replyStarted && !req.aborted && native.retract(req.handle) === REPLY.OK) req.replyStarted = false;
    if (!req.replyStarted && !req.aborted) {
      req.replyStarted = true;
      req.status = status;
      const body = appErrorBody(status, err);
      if (track && !(req.flags & F_HEAD)) req.bytes = Buffer.byteLength(body);
      native.respond(req.handle, status, 'Content-Type: text/plain; charset=utf-8\r\n', body, -1, FLAG_END);
    } else {
      native.abort(req.handle);
    }
    done(req);
  }

  function done(req: AnyRequest): void {
    if (req.finished) return;
    req.finished = true;
    active.delete(req.handle);
    if (!req.bodyIfUsed?.done) req.bodyIfUsed?.fail(new TsgiError('TSGI_ERR_BODY_ABORTED', 'the reply was already sent'));
    if (!req.dataIfUsed?.done) req.dataIfUsed?.fail(new TsgiError('TSGI_ERR_BODY_ABORTED', 'the reply was already sent'));
    if (onDone !== undefined) report(req);
  }

  function report(req: AnyRequest): void {
    const durationMs = performance.now() - req.startedAt;
    // 499: nginx's code for a client that left before the reply.
    const status = req.status !== 0 ? req.status : 499;
    try {
      onDone!(req, { status, bytes: req.bytes, durationMs, startedAt: performance.timeOrigin + req.startedAt });
    } catch (err) {
      log(`onRequestDone threw: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  function harakiri(req: AnyRequest, now: number): void {
    const what = `${req.REQUEST_METHOD} ${req.REQUEST_URI}`;
    const ran = `${((now - req.startedAt) / 1000).toFixed(1)} s (--harakiri ${harakiriMs / 1000} s)`;
    active.delete(req.handle);
    if (!req.replyStarted && !req.aborted) {
      log(`harakiri: ${what} ran ${ran}: answered 504, its signal fired`);
      req.replyStarted = true;
      req.status = 504;
      const body = 'Gateway Timeout: the request took too long\n';
      if (track && !(req.flags & F_HEAD)) req.bytes = body.length;
      native.respond(req.handle, 504, 'Content-Type: text/plain; charset=utf-8\r\n', body, -1, FLAG_END);
    } else {
      log(`harakiri: ${what} ran ${ran}: its reply had started, connection closed, its signal fired`);
      native.abort(req.handle);
    }
    req.abort(new TsgiError('TSGI_ERR_HARAKIRI', `${what} after ${ran}`));
    done(req);
  }

  function send(req: AnyRequest, reply: Reply): void {
    if (req.aborted) {
      done(req);
      return;
    }
    if (reply === null || typeof reply !== 'object') {
      throw new TsgiError('TSGI_ERR_REPLY_BODY', 'the app must return a reply object');
    }
    if (reply.websocket !== undefined || reply.tunnel !== undefined) {
      upgrades.accept(req, reply);  // throws (a 500) for a request that cannot switch
      req.replyStarted = true;
      req.status = 101;
      done(req);
      return;
    }
    const enc = encodeHeaders(reply.headers, offloading);
    // RFC 3875 6.2.3: a Location without a status is a redirect (302).
    const status = reply.status ?? (enc.hasLocation ? 302 : 200);
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new TsgiError('TSGI_ERR_REPLY_STATUS', String(status));
    }
    const flags = (enc.close ? FLAG_CLOSE : 0) | (enc.hasDate ? FLAG_NO_DATE : 0);
    const body = reply.body;
    const h = req.handle;
    req.status = status;
    if (enc.offload !== undefined) {
      // The file is the reply, sent by the core under the static rules; the
      // app's body, if any, is not read.
      req.replyStarted = true;
      native.offload(h, enc.accel === true, enc.offload, offloadFields(req), offloadHeaders(enc.block), enc.hasType);
      done(req);
      return;
    }
    if (body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array) {
      req.replyStarted = true;
      if (track && body && !(req.flags & F_HEAD)) req.bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
      const empty = body === undefined || body === null || body.length === 0;
      if (enc.contentLength >= 0 && !(req.flags & F_HEAD) && status !== 204 && status !== 304) {
        // The core frames a whole body by its real length; a different stated
        // one is an app bug worth a line, as for a streamed body.
        const real = empty ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body!.length;
        if (real !== enc.contentLength) {
          log(`app error on ${req.REQUEST_METHOD} ${req.REQUEST_URI}: Content-Length ${enc.contentLength} ` +
            `but the body is ${real} bytes; sent ${real}`);
        }
      }
      if (empty && enc.contentLength >= 0 && (req.flags & F_HEAD)) {
        // A HEAD reply may state the length a GET would have (RFC 9110 9.3.2).
        native.respond(h, status, enc.block, undefined, enc.contentLength, flags);
        native.end(h);
      } else {
        native.respond(h, status, enc.block, body ?? undefined, -1, flags | FLAG_END);
      }
      done(req);
      return;
    }
    if (isSealed(body)) {
      sendSealed(req, status, enc.block, enc.contentLength, flags, body);
      return;
    }
    if (typeof body === 'object' && (Symbol.asyncIterator in body || Symbol.iterator in body)) {
      void stream(req, status, enc.block, enc.contentLength, flags, body as AsyncIterable<Chunk> | Iterable<Chunk>);
      return;
    }
    if (typeof body === 'object' && typeof (body as FileBody).path === 'string') {
      void sendFile(req, status, enc.block, enc.contentLength, flags, body as FileBody);
      return;
    }
    throw new TsgiError('TSGI_ERR_REPLY_BODY', typeof body);
  }

  /**
   * Streams an iterable body. The head goes out with the first chunk, so a
   * body that fails before producing anything still gets a clean 500 (yield
   * '' to send the head at once, e.g. for server-sent events). Each chunk is
   * handed to the core before the next is pulled; the core keeps no
   * reference to it, so a generator may refill one buffer.
   */
  async function stream(req: AnyRequest, status: number, block: string, contentLength: number, flags: number,
    body: AsyncIterable<Chunk> | Iterable<Chunk>): Promise<void> {
    const h = req.handle;
    const it: AsyncIterator<Chunk> | Iterator<Chunk> = Symbol.asyncIterator in body
      ? (body as AsyncIterable<Chunk>)[Symbol.asyncIterator]()
      : (body as Iterable<Chunk>)[Symbol.iterator]();
    let finished = false;
    try {
      const first = await it.next();
      if (req.aborted) return;
      req.replyStarted = true;
      if (first.done) {
        finished = true;
        native.respond(h, status, block, undefined, contentLength >= 0 && (req.flags & F_HEAD) ? contentLength : -1,
          contentLength >= 0 && (req.flags & F_HEAD) ? flags : flags | FLAG_END);
        if (contentLength >= 0 && (req.flags & F_HEAD)) native.end(h);
        return;
      }
      const chunk0 = checkChunk(first.value);
      if (track && !(req.flags & F_HEAD)) req.bytes += typeof chunk0 === 'string' ? Buffer.byteLength(chunk0) : chunk0.length;
      const kept = (body as { [CHUNKS_KEPT]?: boolean })[CHUNKS_KEPT] === true ? FLAG_KEPT : 0;
      let rc = native.respond(h, status, block, chunk0, contentLength, flags | kept);
      while (!req.aborted) {
        if (rc === GONE) {
          // The core found the client gone while writing: the app hears it
          // from its signal, as when the core reports the close itself.
          req.abort(new TsgiError('TSGI_ERR_BODY_ABORTED', 'the client went away during the reply'));
          break;
        }
        if (rc === OVERFLOW) {
          // The core sent the declared length and closes the connection.
          finished = true;
          log(`app error on ${req.REQUEST_METHOD} ${req.REQUEST_URI}: ${new TsgiError('TSGI_ERR_REPLY_LENGTH').message}`);
          return;
        }
        if (rc === FULL) {
          await req.waitDrain();
          if (req.aborted) break;
        }
        const next = await it.next();
        if (next.done) {
          finished = true;
          break;
        }
        if (req.aborted) break;
        const chunk = checkChunk(next.value);
        if (track && !(req.flags & F_HEAD)) req.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
        rc = native.write(h, chunk, kept);
      }
      if (finished && !req.aborted && rc !== GONE) native.end(h);
    } catch (err) {
      finished = true;
      fail(req, err);
    } finally {
      // Stop a producer we no longer pull from: its finally blocks run.
      if (!finished) await it.return?.();
      done(req);
    }
  }

  /**
   * A file body: opened and measured here, then handed to the core, which
   * sends it with sendfile and closes it. FastCGI frames the body in records,
   * so there the file is streamed through JS instead.
   */
  async function sendFile(req: AnyRequest, status: number, block: string, statedLength: number, flags: number,
    file: FileBody): Promise<void> {
    let fd = -1;
    try {
      fd = await openFile(file.path, 'r');
      const st = await statFile(fd);
      if (!st.isFile()) throw new TsgiError('TSGI_ERR_REPLY_FILE', `${file.path} is not a regular file`);
      const offset = file.offset ?? 0;
      const length = file.length ?? st.size - offset;
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 ||
        offset + length > st.size) {
        throw new TsgiError('TSGI_ERR_REPLY_FILE',
          `${file.path}: range ${offset}+${length} is outside the file's ${st.size} bytes`);
      }
      if (statedLength >= 0 && statedLength !== length) {
        throw new TsgiError('TSGI_ERR_REPLY_FILE', `Content-Length ${statedLength} but the range is ${length} bytes`);
      }
      if (req.aborted) return;
      const h = req.handle;
      if (req.tsgi.protocol === 'fastcgi' && length > 0 && !(req.flags & F_HEAD)) {
        const from = fd;
        fd = -1;  // the stream closes it
        await stream(req, status, block, length, flags,
          fs.createReadStream('', { fd: from, start: offset, end: offset + length - 1, highWaterMark: 64 * 1024 }));
        return;
      }
      req.replyStarted = true;
      if (track && !(req.flags & F_HEAD)) req.bytes = length;
      native.respond(h, status, block, undefined, length, flags);
      if (length > 0 && !(req.flags & F_HEAD)) {
        const from = fd;
        fd = -1;  // the core owns it now
        native.writeFile(h, from, offset, length);
      }
      native.end(h);
      done(req);
    } catch (err) {
      fail(req, err);
    } finally {
      if (fd >= 0) closeFile(fd);
    }
  }

  /**
   * A sealed body: the core sends it with sendfile from a duplicate of its
   * descriptor, in the same turn, so one sealed body serves any number of
   * replies at once. FastCGI streams it, as it streams a file.
   */
  function sendSealed(req: AnyRequest, status: number, block: string, statedLength: number, flags: number,
    body: Sealed): void {
    body.check(statedLength);
    const length = body.byteLength;
    const fd = body.take();
    try {
      const h = req.handle;
      const sending = length > 0 && !(req.flags & F_HEAD);
      if (sending && req.tsgi.protocol === 'fastcgi') {
        // Each chunk is a fresh Buffer: what the socket has not taken stays in it.
        const chunks = Object.assign(body.chunks(), { [CHUNKS_KEPT]: true });
        void stream(req, status, block, length, flags, chunks);
        return;
      }
      req.replyStarted = true;
      if (track && !(req.flags & F_HEAD)) req.bytes = length;
      native.respond(h, status, block, undefined, length, flags);
      if (sending) native.writeFile(h, fd, 0, length, true);
      native.end(h);
      done(req);
    } finally {
      body.done();
    }
  }

  return { send, fail, harakiri };
}
