// serve(): binds the listeners, takes the core's event batches, runs the app
// for each request and hands its reply back to the core (send.ts sends it).
import { binding, type NativeServer, type NativeServerOptions } from '../native/load.js';
import { TsgiError } from '../errors.js';
import { TSGI_VERSION } from '../version.js';
import type { App, Request, SendOptions, ServerInfo } from '../tsgi/types.js';
import { appRunner } from './app-call.js';
import { HttpRequest, type ListenerInfo } from './request.js';
import { trustOf } from './trusted-proxy.js';
import { EVENT_SLOTS, EVENTS, PROTOCOLS, RECORD, RECORD_FLAGS } from '../native/abi.js';
import { CgiRequest } from './cgi-request.js';
import type { RequestDone } from './access-log.js';
import { Watchdog, type BlockedAction } from './watchdog.js';
import { checkNetwork, isLoopback, LOOPBACK, parseListen, type ListenProtocol, type ListenSpec } from './listen.js';
import { replySender, type AnyRequest } from './send.js';
import { Upgrades, type UpgradeStats } from './upgrade.js';
import { nativeStatic, type StaticOptions } from './static.js';
import { MemoryRelease } from './memory-release.js';

const EV = EVENTS;
const { SIZE: E_SIZE, TYPE: E_TYPE, HANDLE: E_HANDLE, A: E_A, B: E_B } = EVENT_SLOTS;
const { CGI: F_CGI, SERVED: F_SERVED } = RECORD_FLAGS;
/** The events whose a/b are a piece's bytes (in the batch, or a Buffer of its own). */
const PIECES = new Set<number>([EV.BODY, EV.DATA, EV.WS_TEXT, EV.WS_BINARY]);

export interface ServeOptions extends Omit<NativeServerOptions, 'static'> {
  /**
   * Static files answered by the core without calling the app: maps, a
   * fall-through root, index files, caching, and the roots an app's
   * X-Sendfile / X-Accel-Redirect may name (docs/static.md).
   */
  static?: StaticOptions;
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
  /**
   * Reverse proxies in front of the HTTP listeners ("10.0.0.0/8", "127.0.0.1"):
   * when the peer is one, REMOTE_ADDR (and the access log's address) is the
   * rightmost address of X-Forwarded-For that is not a trusted proxy.
   * Default none: X-Forwarded-For is the app's business.
   */
  trustedProxies?: readonly string[];
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
  /**
   * Milliseconds: after a period this long with the event loop idle, if the
   * resident size grew by more than 8 MiB since the last time, the process
   * gives memory back to the system: a memory-reducing garbage collection
   * (which shrinks V8's young generation) and the C heap's free pages.
   * Default 5000; 0: never. It is a full collection, taken only when idle.
   */
  releaseMemory?: number;
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
  /**
   * Stops accepting, lets in-flight requests finish (bounded), resolves when
   * all is closed. Open WebSockets go on until the last second of the wait
   * (its last half when shorter than 2 s), are then sent 1001 (going away)
   * and cut at its end if their clients have not closed.
   */
  close(timeoutMs?: number): Promise<void>;
  readonly closed: boolean;
  /**
   * How many requests are running, and the oldest `max` of them (--stats).
   * Arrival times are known only with onRequestDone or harakiri set (else 0).
   */
  running?(max: number): { count: number; requests: Array<{ method: string; uri: string; startedAt: number }> };
  /** Open WebSockets and tunnels, and the WebSocket messages and bytes so far, each way. */
  readonly upgraded?: Readonly<UpgradeStats>;
  /** Sends a message to every WebSocket subscribed to `topic`; returns how many. */
  publish?(topic: string, data: string | Uint8Array, options?: SendOptions): number;
  /** Whether the server keeps the process alive (node's server.ref()/unref()); true at start. */
  ref?(on: boolean): void;
  /** Closes the keep-alive connections waiting for a request, now; returns the connections left open. */
  closeIdle?(): number;
  /** Open connections, idle ones included. */
  connectionCount?(): number;
}

const defaultLog = (line: string): void => {
  process.stderr.write(`tsgi: ${line}\n`);
};

export function serve(app: App, options: ServeOptions = {}): ServerHandle {
  if (typeof app !== 'function') throw new TsgiError('TSGI_ERR_APP_KIND', 'serve() needs a function');
  const log = options.log ?? defaultLog;
  const shared = new Float64Array(E_SIZE * 1024);
  const active = new Map<number, AnyRequest>();
  const listeners: ListenerInfo[] = [];
  const onDone = options.onRequestDone;
  const harakiriMs = options.harakiri ?? 0;
  const releaseMs = options.releaseMemory ?? 5000;
  if (!(Number.isFinite(releaseMs) && releaseMs >= 0)) {
    throw new TsgiError('TSGI_ERR_CONFIG', `releaseMemory must be milliseconds >= 0, not ${String(releaseMs)}`);
  }
  // Arrival times and byte counts cost a clock read and a byteLength per
  // request: only when something reads them.
  const timed = onDone !== undefined || harakiriMs > 0;
  const track = onDone !== undefined;

  function sweep(): void {
    const now = performance.now();
    // `active` is in arrival order: stop at the first request still in time.
    for (const req of active.values()) {
      if (now - req.startedAt <= harakiriMs) break;
      harakiri(req, now);
    }
  }

  // The request of a REQUEST event flagged SERVED, until its SERVED event.
  let served: AnyRequest | undefined;

  // `own`: the Buffers of their own that large pieces came in; a BODY, DATA
  // or WebSocket message event's offset -(i + 1) is the i-th of them.
  function onEvents(buf: Buffer, count: number, big?: Float64Array, own?: Buffer[]): void {
    const ev = big ?? shared;
    let u32: Uint32Array | undefined;
    for (let i = 0; i < count; i++) {
      const at = E_SIZE * i;
      const type = ev[at + E_TYPE]!;
      const handle = ev[at + E_HANDLE]!;
      const a = ev[at + E_A]!;
      if (type === EV.REQUEST) {
        u32 ??= new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength >>> 2);
        const rec = a >>> 2;
        const listener = listeners[u32[rec + RECORD.LISTENER]!]!;
        const flags = u32[rec + RECORD.FLAGS]!;
        const req = flags & F_CGI
          ? new CgiRequest(buf, u32, rec, handle, listener, native)
          : new HttpRequest(buf, u32, rec, handle, listener, native);
        if (timed) req.startedAt = performance.now();
        if (flags & F_SERVED) {
          // A static file the core answered: its SERVED event comes next,
          // for the access log and the counters; the app never sees it.
          served = req;
          continue;
        }
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
      if (type === EV.SERVED) {
        if (served !== undefined && onDone !== undefined) {
          const req = served;
          served = undefined;
          try {
            onDone(req, { status: a, bytes: ev[at + E_B]!, durationMs: performance.now() - req.startedAt,
              startedAt: performance.timeOrigin + req.startedAt });
          } catch (err) {
            log(`onRequestDone threw: ${err instanceof Error ? err.message : String(err)}`);
          }
        }
        continue;
      }
      const req = active.get(handle);
      if (req === undefined) {
        // A WebSocket's or a tunnel's, or stale.
        if (a < 0 && PIECES.has(type)) upgrades.event(handle, type, 0, ev[at + E_B]!, own![-a - 1]!);
        else upgrades.event(handle, type, a, ev[at + E_B]!, buf);
        continue;
      }
      switch (type) {
        case EV.BODY:
          req.bodyIfUsed?.push(a < 0 ? own![-a - 1]! : buf.subarray(a, a + ev[at + E_B]!));
          break;
        case EV.BODY_END: {
          // b -(i + 1): a body read whole whose Buffer the core may have regrown.
          const grown = ev[at + E_B]!;
          req.bodyIfUsed?.end(a, grown < 0 ? own![-grown - 1] : undefined);
          break;
        }
        case EV.BODY_READ:
          req.bodyIfUsed?.filledBy(a);
          break;
        case EV.BODY_ERROR:
          // b 1: past the limit the reader gave for a body it reads whole.
          if (ev[at + E_B] === 1) req.bodyIfUsed?.overLimit();
          else req.bodyIfUsed?.fail(a === 413
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
          req.dataIfUsed?.push(a < 0 ? own![-a - 1]! : buf.subarray(a, a + ev[at + E_B]!));
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
  const trust = trustOf(options.trustedProxies);
  for (const entry of (Array.isArray(options.listen) ? options.listen : [options.listen]) as (ListenSpec | undefined)[]) {
    if (entry !== undefined && typeof entry !== 'string') for (const n of entry.allowFrom ?? []) checkNetwork(n);
  }
  // The core tells of each file it answers only when something counts or logs them.
  const staticFiles = options.static !== undefined ? { ...nativeStatic(options.static), report: onDone !== undefined } : undefined;
  const native: NativeServer = new binding.Server({ ...options, static: staticFiles }, onEvents, log, shared);
  const upgrades = new Upgrades(native, log);
  const offloading = (staticFiles?.offload.length ?? 0) > 0;
  const { send, fail, harakiri } = replySender({ native, log, active, onDone, track, harakiriMs, upgrades, offloading });
  // Made once: per request it costs what a run() of its own here would.
  const run = appRunner<AnyRequest>(app, send, fail);
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
        upgrade: false, websocket: false,
      });
      listeners[r.index] = { tcp: r.tcp, info, log, ...(spec.protocol === 'http' && trust !== undefined ? { trust } : {}) };
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

  const release = releaseMs > 0 ? new MemoryRelease(releaseMs) : undefined;

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
    get upgraded(): Readonly<UpgradeStats> {
      return upgrades.stats;
    },
    publish(topic: string, data: string | Uint8Array, opts?: SendOptions): number {
      return upgrades.publish(topic, data, opts);
    },
    ref(on: boolean): void {
      if (closing === undefined) native.ref(on);
    },
    closeIdle(): number {
      return closing === undefined ? native.closeIdle(true) : 0;
    },
    connectionCount(): number {
      return closing === undefined ? native.connectionCount() : 0;
    },
    close(timeoutMs = options.shutdownTimeout ?? 10_000): Promise<void> {
      if (closing) return closing;
      native.stopListening();
      native.closeIdle();
      closing = new Promise((resolve) => {
        const started = Date.now();
        // WebSockets go on until the wait's last second (or half), then
        // are told 1001 (going away) and have the rest for the handshake.
        const goingAway = Math.max(0, timeoutMs - Math.min(1000, timeoutMs / 2));
        let toldAway = false;
        const finish = () => {
          for (const req of active.values()) req.abort(new TsgiError('TSGI_ERR_BODY_ABORTED', 'server closed'));
          active.clear();
          upgrades.cut();
          clearInterval(sweeper);
          release?.stop();
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
          if (!toldAway && Date.now() - started >= goingAway) {
            toldAway = true;
            upgrades.shutdown();
          }
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
