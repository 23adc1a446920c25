// A node:http Server on tsgi's core. listen() is serve() with one listener;
// each request becomes node:http's 'request' event with the Node adapter's
// req and res (src/adapters/node/), and a request that asks to switch
// protocols, when someone listens for 'upgrade', takes its connection with a
// tunnel reply and becomes the 'upgrade' event.
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, ListenOptions, Socket } from 'node:net';
import { serve, type ServeOptions, type ServerHandle } from '../server/serve.js';
import { fromNodeListener, upgradeRequest } from '../adapters/node/index.js';
import type { App, Reply, Request, TunnelSocket } from '../tsgi/types.js';
import { listenTarget, type ListenTarget } from './listen-args.js';
import { alreadyListening, listenError, notRunning } from './errors.js';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** createServer()'s options: node:http's that tsgi applies, and tsgi's own. */
export interface ServerOptions {
  /** Largest request head in bytes (431 beyond). Default: tsgi's, 64 KiB (node: 16 KiB). */
  maxHeaderSize?: number;
  /** As the properties of the same names (set before listen()). */
  keepAliveTimeout?: number;
  headersTimeout?: number;
  requestTimeout?: number;
  /** Bytes of a reply queued before write() returns false and the server stops pulling. */
  highWaterMark?: number;
  /** tsgi's serve() options (log, maxBodySize, harakiri, onRequestDone …); `listen` is listen()'s. */
  tsgi?: Omit<ServeOptions, 'listen'>;
  /** node:http's other options are accepted and have no effect (docs/adapters.md). */
  [option: string]: unknown;
}

/** Node's "no timeout" (0) as the core's: the longest its millisecond timers take. */
const FOREVER = 2 ** 31 - 1;
/** The core's ceiling on header fields in a head. */
const MAX_HEADERS = 256;
const EMPTY = Buffer.alloc(0);

const defaultLog = (line: string): void => {
  process.stderr.write(`tsgi: ${line}\n`);
};

export class Server extends EventEmitter {
  /** Milliseconds a connection may stall (send or receive) before it is closed; 0: tsgi's default (60 s). */
  timeout = 0;
  /** Milliseconds an idle keep-alive connection is kept; 0: no limit. */
  keepAliveTimeout = 5000;
  /** Milliseconds a client has to send a request head (408 after); 0: no limit. */
  headersTimeout = 60_000;
  /** Accepted for node:http's sake; tsgi bounds stalls (`timeout`), not whole requests. */
  requestTimeout = 300_000;
  /** Header fields a request may have (431 beyond, at most 256); null: tsgi's default, 200. */
  maxHeadersCount: number | null = null;
  /** Connections served at once; beyond, new ones wait in the kernel's queue. Unset (undefined) as on node:http. */
  declare maxConnections: number;
  maxRequestsPerSocket = 0;

  private handle: ServerHandle | undefined = undefined;
  private refed = true;
  private target: ListenTarget | undefined = undefined;
  private closing: Promise<void> | undefined = undefined;
  private readonly options: ServerOptions;
  private readonly log: (line: string) => void;
  /** Replies in progress and connections taken by 'upgrade': what closeAllConnections() ends. */
  private readonly replies = new Set<ServerResponse>();
  private readonly tunnels = new Set<TunnelSocket>();
  private readonly nodeApp: App;
  private readonly app: App;

  constructor(options?: ServerOptions | RequestListener, listener?: RequestListener) {
    super();
    if (typeof options === 'function') {
      listener = options;
      options = undefined;
    }
    this.options = options ?? {};
    if (typeof this.options.keepAliveTimeout === 'number') this.keepAliveTimeout = this.options.keepAliveTimeout;
    if (typeof this.options.headersTimeout === 'number') this.headersTimeout = this.options.headersTimeout;
    if (typeof this.options.requestTimeout === 'number') this.requestTimeout = this.options.requestTimeout;
    this.log = this.options.tsgi?.log ?? defaultLog;
    if (listener !== undefined) this.on('request', listener);
    const replies = this.replies;
    const untrack = function (this: ServerResponse): void {
      replies.delete(this);
    };
    this.nodeApp = fromNodeListener((req, res) => {
      replies.add(res);
      res.once('close', untrack);
      this.emit('request', req, res);
    });
    this.app = (treq: Request): Reply | Promise<Reply> => {
      if (treq.tsgi.upgrade && this.listenerCount('upgrade') > 0) {
        return { tunnel: (socket: TunnelSocket) => this.upgrade(treq, socket) };
      }
      return this.nodeApp(treq);
    };
  }

  get listening(): boolean {
    return this.handle !== undefined;
  }

  // node:http's overloads, so that the server passes where an http.Server is typed.
  listen(port?: number, hostname?: string, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number, hostname?: string, listeningListener?: () => void): this;
  listen(port?: number, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number, listeningListener?: () => void): this;
  listen(path: string, backlog?: number, listeningListener?: () => void): this;
  listen(path: string, listeningListener?: () => void): this;
  listen(options: ListenOptions, listeningListener?: () => void): this;
  listen(handle: any, backlog?: number, listeningListener?: () => void): this;
  listen(handle: any, listeningListener?: () => void): this;
  listen(...args: unknown[]): this {
    if (this.handle !== undefined) throw alreadyListening();
    const target = listenTarget(args);
    if (target.callback !== undefined) this.once('listening', target.callback);
    if (target.signal?.aborted) {
      process.nextTick(() => this.close());
      return this;
    }
    try {
      this.handle = serve(this.app, { ...this.serveOptions(), listen: target.address });
      if (!this.refed) this.handle.ref?.(false);
    } catch (err) {
      process.nextTick(() => this.emit('error', listenError(err, target.address, target.host, target.port)));
      return this;
    }
    this.target = target;
    this.closing = undefined;
    target.signal?.addEventListener('abort', () => this.close(), { once: true });
    process.nextTick(() => {
      if (this.handle !== undefined) this.emit('listening');
    });
    return this;
  }

  /** The settings as they are now: they take effect at listen(). */
  private serveOptions(): ServeOptions {
    const o = this.options;
    const ms = (v: number): number => (v > 0 && Number.isFinite(v) ? Math.min(v, FOREVER) : FOREVER);
    const out: ServeOptions = {
      log: this.log,
      ...o.tsgi,
      keepAliveTimeout: ms(this.keepAliveTimeout),
      headerTimeout: ms(this.headersTimeout),
      // close() waits for every request, as node:http's does; closeAllConnections() ends them.
      shutdownTimeout: Infinity,
    };
    if (this.timeout > 0) out.ioTimeout = ms(this.timeout);
    if (typeof this.maxConnections === 'number' && this.maxConnections >= 0 && Number.isFinite(this.maxConnections)) {
      out.maxConnections = this.maxConnections;
    }
    if (typeof this.maxHeadersCount === 'number') {
      out.maxHeaders = this.maxHeadersCount > 0 ? Math.min(this.maxHeadersCount, MAX_HEADERS) : MAX_HEADERS;
    }
    if (typeof o.maxHeaderSize === 'number') out.maxHeaderSize = o.maxHeaderSize;
    if (typeof o.highWaterMark === 'number') out.highWaterMark = o.highWaterMark;
    return out;
  }

  /**
   * Stops accepting, closes idle connections, lets requests in progress
   * finish, then emits 'close'. `callback` gets ERR_SERVER_NOT_RUNNING when
   * the server was not listening, as node:http's does.
   */
  close(callback?: (err?: Error) => void): this {
    const handle = this.handle;
    if (typeof callback === 'function') {
      if (handle === undefined) this.once('close', () => callback(notRunning()));
      else this.once('close', callback);
    }
    if (handle === undefined) {
      if (this.closing === undefined) process.nextTick(() => this.emit('close'));
      return this;
    }
    this.handle = undefined;
    this.closing = handle.close().then(() => {
      this.closing = undefined;
      this.target = undefined;
      this.emit('close');
    });
    return this;
  }

  /** AddressInfo for TCP, the path for a unix socket, null when not listening. */
  address(): AddressInfo | string | null {
    const handle = this.handle;
    if (handle === undefined) return null;
    const bound = handle.addresses[0];
    if (bound?.port === undefined || bound.host === undefined) return this.target?.path ?? bound?.address ?? null;
    return { address: bound.host, family: bound.host.includes(':') ? 'IPv6' : 'IPv4', port: bound.port };
  }

  /** Ends every reply in progress and every upgraded connection (their clients see the connection close). */
  closeAllConnections(): void {
    for (const res of this.replies) res.destroy();
    this.replies.clear();
    for (const socket of this.tunnels) socket.destroy();
    this.tunnels.clear();
  }

  /** Closes the keep-alive connections waiting for their next request; the server goes on. */
  closeIdleConnections(): void {
    this.handle?.closeIdle?.();
  }

  /** Open connections, idle keep-alive ones and upgraded ones included. */
  getConnections(callback: (err: Error | null, count: number) => void): this {
    process.nextTick(callback, null, this.connections);
    return this;
  }

  /** node's old synchronous getConnections(), counted the same way. */
  get connections(): number {
    return this.handle?.connectionCount?.() ?? 0;
  }

  /** Closes and waits for 'close' (defined below where the runtime has the symbol). */
  declare [Symbol.asyncDispose]: () => Promise<void>;

  setTimeout(msecs?: number, callback?: (socket: Socket) => void): this;
  setTimeout(callback: (socket: Socket) => void): this;
  setTimeout(msecs?: number | ((socket: Socket) => void), callback?: (socket: Socket) => void): this {
    if (typeof msecs === 'function') callback = msecs;
    else if (typeof msecs === 'number') this.timeout = msecs;
    if (typeof callback === 'function') this.on('timeout', callback);
    return this;
  }

  /** A listening server keeps the process alive (the default); unref() lets it exit while listening. */
  ref(): this {
    this.refed = true;
    this.handle?.ref?.(true);
    return this;
  }

  unref(): this {
    this.refed = false;
    this.handle?.ref?.(false);
    return this;
  }

  /** A request that switches protocols: its connection, and node:http's 'upgrade' event. */
  private upgrade(treq: Request, socket: TunnelSocket): void {
    const tunnels = this.tunnels;
    tunnels.add(socket);
    socket.once('close', () => tunnels.delete(socket));
    const req = upgradeRequest(treq, socket);
    try {
      this.emit('upgrade', req, socket, EMPTY);
    } catch (err) {
      this.log(`'upgrade' listener error on ${treq.REQUEST_METHOD} ${treq.REQUEST_URI}: ${
        err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      socket.destroy();
    }
  }
}

// `await using server = …` (Node 20.4 and later have the symbol): close, and wait for 'close'.
if (typeof Symbol.asyncDispose === 'symbol') {
  Object.defineProperty(Server.prototype, Symbol.asyncDispose, {
    value(this: Server): Promise<void> {
      if (!this.listening) return Promise.resolve();
      return new Promise<void>((resolve) => this.close(() => resolve()));
    },
    writable: true, configurable: true,
  });
}

/** node:http's createServer([options][, requestListener]) on tsgi. */
export function createServer(options?: ServerOptions | RequestListener, requestListener?: RequestListener): Server {
  return new Server(options, requestListener);
}
