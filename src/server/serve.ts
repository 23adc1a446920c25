// serve(): binds the listeners, takes the core's event batches, runs the app
// for each request and hands its reply back to the core.
import * as fs from 'node:fs';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import { binding, type NativeServer, type NativeServerOptions } from '../native/load.js';
import { TsgiError } from '../errors.js';
import { TSGI_VERSION } from '../version.js';
import type { App, Chunk, FileBody, Reply, Request, ServerInfo } from '../tsgi/types.js';
import { encodeHeaders } from './reply.js';
import { appErrorBody, appRunner, logAppError } from './app-call.js';
import { HttpRequest, type ListenerInfo } from './request.js';
import { F_CGI, F_HEAD } from './flags.js';
import { CgiRequest } from './cgi-request.js';
import type { RequestDone } from './access-log.js';
import { Watchdog, type BlockedAction } from './watchdog.js';

type AnyRequest = HttpRequest | CgiRequest;
const PROTOCOLS = { http: 0, uwsgi: 1, scgi: 2, fastcgi: 3 } as const;
export type ListenProtocol = keyof typeof PROTOCOLS;

/** One listener: an address string ("uwsgi:///run/app.sock") or the parts. */
export type ListenSpec = string | {
  address: string;
  protocol?: ListenProtocol;
  /** Unix socket file mode, e.g. 0o660 (default: ServeOptions.socketMode). */
  mode?: number;
  /** TCP peers allowed (uwsgi/SCGI default: loopback only). */
  allowFrom?: readonly string[];
};

const LOOPBACK = ['127.0.0.0/8', '::1'];

/** "uwsgi://127.0.0.1:3031", "scgi:///run/app.sock", "http://:8000", or a bare address (HTTP). */
export function parseListen(spec: ListenSpec): { address: string; protocol: ListenProtocol; mode?: number;
  allowFrom?: readonly string[] } {
  if (typeof spec !== 'string') return { ...spec, protocol: spec.protocol ?? 'http' };
  const m = /^(http|uwsgi|scgi|fastcgi):\/\/(.*)$/.exec(spec);
  if (m) return { address: m[2]!, protocol: m[1] as ListenProtocol };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    throw new TsgiError('TSGI_ERR_LISTEN', `${spec}: unknown scheme (use http://, uwsgi://, scgi:// or fastcgi://)`);
  }
  return { address: spec, protocol: 'http' };
}

/** Checks an allow-list entry up front, whatever listeners use it. */
function checkNetwork(entry: string): void {
  const [addr = '', bits, extra] = entry.split('/');
  const family = isIP(addr);
  const max = family === 4 ? 32 : 128;
  const ok = family !== 0 && extra === undefined &&
    (bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max));
  if (!ok) {
    throw new TsgiError('TSGI_ERR_LISTEN',
      `bad network ${JSON.stringify(entry)} in allowFrom: expected an IP address or address/prefix, e.g. 10.0.0.0/8`);
  }
}

function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1';
}

const EV = binding.events;
// Raw fds, not FileHandles: the core takes the fd over and closes it.
const openFile = promisify(fs.open);
const statFile = promisify(fs.fstat);
const closeFile = (fd: number): void => fs.close(fd, () => {});
const GONE = 0, FULL = 2, OVERFLOW = 3;
const FLAG_END = 1, FLAG_CLOSE = 2, FLAG_NO_DATE = 4;

export interface ServeOptions extends NativeServerOptions {
  /**
   * Where to listen, one address or several: "127.0.0.1:8000", "[::1]:8000",
   * ":8000", "8000", "/path/app.sock" or "unix:/path/app.sock", "@abstract",
   * "fd:3"; prefixed with "uwsgi://" or "scgi://" for those protocols
   * ("uwsgi:///run/app.sock"), "http://" or nothing for HTTP/1.1.
   * Default "127.0.0.1:8000".
   */
  listen?: ListenSpec | readonly ListenSpec[];
  /** TCP peers the uwsgi, SCGI and FastCGI listeners accept (default loopback only). */
  allowFrom?: readonly string[];
  /** Permissions of unix socket files, e.g. 0o660. */
  socketMode?: number;
  /** Owner and group of unix socket files (numeric ids), set before they accept. */
  socketOwner?: { uid?: number; gid?: number };
  /** Share one listening socket with other processes, waking one per connection. */
  exclusiveAccept?: boolean;
  /** Where tsgi writes its log lines (errors, refused requests). Default: stderr. */
  log?: (line: string) => void;
  /** Milliseconds close() waits for in-flight requests before cutting them. Default 10000. */
  shutdownTimeout?: number;
  /**
   * Called once per request when its reply is complete or abandoned, with its
   * status, body bytes and duration: an access log (`new AccessLog(...).hook`).
   * It runs on the request path: keep it short and never throw.
   */
  onRequestDone?: (req: Request, done: RequestDone) => void;
  /**
   * Milliseconds a request may run. Past it, its signal fires and it gets a
   * 504 (or its connection is closed if the reply had started), logged with
   * its method, URI and duration. A watchdog thread also watches the event
   * loop: blocked for longer, it is logged, and with `harakiriBlocked: 'kill'`
   * the process is killed (for a master to replace). Default 0: no limit.
   */
  harakiri?: number;
  /** What the watchdog does when the event loop is blocked longer than `harakiri`. Default 'log'. */
  harakiriBlocked?: BlockedAction;
  /** req.tsgi.multiprocess: other processes serve the same app (a master's workers). Default false. */
  multiprocess?: boolean;
  /** req.tsgi.multithread: other threads of this process serve it (--threads). Default false. */
  multithread?: boolean;
}

export interface BoundAddress {
  /** As given. */
  readonly address: string;
  /** TCP: the address and port actually bound (port 0 resolves here). */
  readonly host?: string;
  readonly port?: number;
  readonly protocol: ListenProtocol;
  /** The listening socket's fd (owned by the server), for --stats' accept queue. */
  readonly fd?: number;
}

export interface ServerHandle {
  readonly addresses: readonly BoundAddress[];
  /**
   * Stops accepting new connections and leaves everything else as it is:
   * open connections, keep-alive included, go on being served. For draining
   * a worker: other processes sharing the socket take the new clients.
   */
  stopAccepting(): void;
  /** Stops accepting, lets in-flight requests finish (bounded), resolves when all is closed. */
  close(timeoutMs?: number): Promise<void>;
  readonly closed: boolean;
  /**
   * How many requests are running, and the oldest `max` of them (--stats).
   * Arrival times are known only with onRequestDone or harakiri set (else 0).
   */
  running?(max: number): { count: number; requests: Array<{ method: string; uri: string; startedAt: number }> };
}

const defaultLog = (line: string): void => {
  process.stderr.write(`tsgi: ${line}\n`);
};

export function serve(app: App, options: ServeOptions = {}): ServerHandle {
  if (typeof app !== 'function') throw new TsgiError('TSGI_ERR_APP_KIND', 'serve() needs a function');
  const log = options.log ?? defaultLog;
  const shared = new Float64Array(4 * 1024);
  const active = new Map<number, AnyRequest>();
  const listeners: ListenerInfo[] = [];
  let native: NativeServer;
  const onDone = options.onRequestDone;
  const harakiriMs = options.harakiri ?? 0;
  // Arrival times and byte counts cost a clock read and a byteLength per
  // request: only when something reads them.
  const timed = onDone !== undefined || harakiriMs > 0;
  const track = onDone !== undefined;

  function fail(req: AnyRequest, err: unknown): void {
    const status = logAppError(log, req, err);
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

  /** --harakiri: the request's time is up. */
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

  function sweep(): void {
    const now = performance.now();
    // `active` is in arrival order: stop at the first request still in time.
    for (const req of active.values()) {
      if (now - req.startedAt <= harakiriMs) break;
      harakiri(req, now);
    }
  }

  function send(req: AnyRequest, reply: Reply): void {
    if (req.aborted) {
      done(req);
      return;
    }
    if (reply === null || typeof reply !== 'object') {
      throw new TsgiError('TSGI_ERR_REPLY_BODY', 'the app must return a reply object');
    }
    const enc = encodeHeaders(reply.headers);
    // RFC 3875 6.2.3: a Location without a status is a redirect (302).
    const status = reply.status ?? (enc.hasLocation ? 302 : 200);
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new TsgiError('TSGI_ERR_REPLY_STATUS', String(status));
    }
    const flags = (enc.close ? FLAG_CLOSE : 0) | (enc.hasDate ? FLAG_NO_DATE : 0);
    const body = reply.body;
    const h = req.handle;
    req.status = status;
    if (body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array) {
      req.replyStarted = true;
      if (track && body && !(req.flags & F_HEAD)) req.bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
      const empty = body === undefined || body === null || body.length === 0;
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

  function checkChunk(chunk: unknown): Chunk {
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
      throw new TsgiError('TSGI_ERR_REPLY_BODY', `a chunk of type ${chunk === null ? 'null' : typeof chunk}`);
    }
    return chunk;
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
      let rc = native.respond(h, status, block, chunk0, contentLength, flags);
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
        rc = native.write(h, chunk);
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

  // Made once: per request it costs what a run() of its own here would.
  const run = appRunner<AnyRequest>(app, send, fail);

  function onEvents(buf: Buffer, count: number, big?: Float64Array): void {
    const ev = big ?? shared;
    let u32: Uint32Array | undefined;
    for (let i = 0; i < count; i++) {
      const type = ev[4 * i]!;
      const handle = ev[4 * i + 1]!;
      const a = ev[4 * i + 2]!;
      if (type === EV.REQUEST) {
        u32 ??= new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength >>> 2);
        const rec = a >>> 2;
        const listener = listeners[u32[rec + 20]!]!;
        const req = u32[rec + 1]! & F_CGI
          ? new CgiRequest(buf, u32, rec, handle, listener, native)
          : new HttpRequest(buf, u32, rec, handle, listener, native);
        if (timed) req.startedAt = performance.now();
        if (watchdog !== undefined) {
          watchdog.running(req.REQUEST_METHOD, req.REQUEST_URI, performance.timeOrigin + req.startedAt);
          run(req);
          watchdog.idle();
        } else {
          run(req);
        }
        // Only requests still running need routing of later events: a reply
        // sent synchronously costs no Map insert and delete.
        if (!req.finished) active.set(handle, req);
        continue;
      }
      const req = active.get(handle);
      if (req === undefined) continue;
      switch (type) {
        case EV.BODY:
          req.bodyIfUsed?.push(buf.subarray(a, a + ev[4 * i + 3]!));
          break;
        case EV.BODY_END:
          req.bodyIfUsed?.end();
          break;
        case EV.BODY_ERROR:
          req.bodyIfUsed?.fail(a === 413
            ? new TsgiError('TSGI_ERR_BODY_TOO_LARGE', 'over the server limit')
            : new TsgiError('TSGI_ERR_BODY_INVALID', req.tsgi.protocol === 'fastcgi'
              ? 'STDIN did not match CONTENT_LENGTH' : 'bad chunked encoding'));
          break;
        case EV.ABORT:
          active.delete(handle);
          req.abort(new TsgiError('TSGI_ERR_BODY_ABORTED'));
          break;
        case EV.DRAIN:
          req.drained();
          break;
        case EV.DATA:
          req.dataIfUsed?.push(buf.subarray(a, a + ev[4 * i + 3]!));
          break;
        case EV.DATA_END:
          req.dataIfUsed?.end();
          break;
        case EV.DATA_ERROR:
          req.dataIfUsed?.fail(a === 413
            ? new TsgiError('TSGI_ERR_BODY_TOO_LARGE', 'over the server limit')
            : new TsgiError('TSGI_ERR_BODY_INVALID', 'DATA did not match DATA_LENGTH'));
          break;
      }
    }
  }

  for (const entry of options.allowFrom ?? []) checkNetwork(entry);
  for (const entry of (Array.isArray(options.listen) ? options.listen : [options.listen]) as (ListenSpec | undefined)[]) {
    if (entry !== undefined && typeof entry !== 'string') for (const n of entry.allowFrom ?? []) checkNetwork(n);
  }
  native = new binding.Server(options, onEvents, log, shared);
  let watchdog: Watchdog | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  const addresses: BoundAddress[] = [];
  const list: readonly ListenSpec[] = options.listen === undefined ? ['127.0.0.1:8000']
    : Array.isArray(options.listen) ? options.listen as readonly ListenSpec[] : [options.listen as ListenSpec];
  try {
    for (const entry of list) {
      const spec = parseListen(entry);
      const binary = spec.protocol !== 'http';
      const allow = spec.allowFrom ?? (binary ? options.allowFrom ?? LOOPBACK : []);
      const r = native.listen({
        address: spec.address,
        protocol: PROTOCOLS[spec.protocol],
        mode: spec.mode ?? options.socketMode ?? 0,
        owner: options.socketOwner?.uid ?? -1,
        group: options.socketOwner?.gid ?? -1,
        exclusive: options.exclusiveAccept ?? false,
        allow: [...allow],
      });
      const info: ServerInfo = Object.freeze({
        version: TSGI_VERSION, url_scheme: 'http', protocol: spec.protocol,
        ...(spec.protocol === 'fastcgi' ? { role: 'responder' as const } : {}),
        multiprocess: options.multiprocess ?? false, multithread: options.multithread ?? false, run_once: false,
      });
      listeners[r.index] = { tcp: r.tcp, info, log };
      addresses.push(r.tcp
        ? { address: typeof entry === 'string' ? entry : spec.address, host: r.host, port: r.port, protocol: spec.protocol, fd: r.fd }
        : { address: typeof entry === 'string' ? entry : spec.address, protocol: spec.protocol, fd: r.fd });
      if (binary && r.tcp && !isLoopback(r.host)) {
        log(`warning: ${spec.protocol} listener ${spec.address} is bound to ${r.host}, reachable from other hosts; ` +
          `the protocol has no authentication, so only peers in the allow-list (${allow.join(', ') || 'everyone'}) are accepted`);
      }
    }
  } catch (err) {
    native.close();
    throw err;
  }
  if (harakiriMs > 0) {
    sweeper = setInterval(sweep, Math.min(1000, Math.max(20, Math.floor(harakiriMs / 4))));
    sweeper.unref();
    watchdog = new Watchdog(harakiriMs, options.harakiriBlocked ?? 'log', () => {
      for (const req of active.values()) {
        return { what: `${req.REQUEST_METHOD} ${req.REQUEST_URI}`, startedAt: performance.timeOrigin + req.startedAt };
      }
      return undefined;
    });
  }

  let closing: Promise<void> | undefined;
  const handle: ServerHandle = {
    addresses,
    get closed() { return closing !== undefined; },
    stopAccepting(): void {
      native.stopListening();
    },
    running(max: number) {
      const requests: Array<{ method: string; uri: string; startedAt: number }> = [];
      for (const req of active.values()) {
        if (requests.length >= max) break;
        requests.push({ method: req.REQUEST_METHOD, uri: req.REQUEST_URI, startedAt: timed ? performance.timeOrigin + req.startedAt : 0 });
      }
      return { count: active.size, requests };
    },
    close(timeoutMs = options.shutdownTimeout ?? 10_000): Promise<void> {
      if (closing) return closing;
      native.stopListening();
      native.closeIdle();
      closing = new Promise((resolve) => {
        const started = Date.now();
        const finish = () => {
          for (const req of active.values()) req.abort(new TsgiError('TSGI_ERR_BODY_ABORTED', 'server closed'));
          active.clear();
          clearInterval(sweeper);
          watchdog?.stop();
          native.destroyAll();
          native.close();
          resolve();
        };
        if (native.connectionCount() === 0) {
          finish();
          return;
        }
        const timer = setInterval(() => {
          if (native.connectionCount() === 0 || Date.now() - started >= timeoutMs) {
            clearInterval(timer);
            finish();
          }
        }, 10);
      });
      return closing;
    },
  };
  return handle;
}
