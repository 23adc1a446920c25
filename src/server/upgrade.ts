// Connections that switched protocols: accepted WebSockets (the core frames
// them; this file is their JS face, the handlers' calls, and the topics of
// publish/subscribe) and tunnels (the raw connection as a Node Duplex, for
// node:http's 'upgrade' event). serve() makes one Upgrades per server and
// routes the events of an upgraded handle here.
import { Duplex } from 'node:stream';
import { TsgiError } from '../errors.js';
import type { NativeServer } from '../native/load.js';
import { REPLY, UPGRADES, WS_FLAGS, EVENTS } from '../native/abi.js';
import type { Reply, SendOptions, SendStatus, TunnelSocket, WebSocket, WebSocketHandlers } from '../tsgi/types.js';
import { encodeHeaders } from './reply.js';

const { GONE, FULL } = REPLY;
const { BINARY: WS_BINARY, COMPRESS: WS_COMPRESS } = WS_FLAGS;
const EV = EVENTS;

/** What an upgraded request needs of the request that asked for it. */
export interface UpgradeRequest {
  readonly handle: number;
  readonly REMOTE_ADDR: string;
  readonly REMOTE_PORT: string;
  readonly SERVER_NAME: string;
  readonly SERVER_PORT: string;
  readonly tsgi: { readonly upgrade: boolean; readonly websocket: boolean };
  header(name: string): string | undefined;
}

/** Counters for --stats and /metrics. */
export interface UpgradeStats {
  websockets: number;
  tunnels: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

interface Upgraded {
  event(type: number, a: number, b: number, buf: Buffer): void;
  /** The server closes: a WebSocket says 1001, a tunnel is left to its owner. */
  shutdown(): void;
  /** The server's shutdown wait is over: cut now. */
  cut(): void;
}

function flagsOf(data: string | Uint8Array, options: SendOptions | undefined): number {
  const binary = options?.binary ?? typeof data !== 'string';
  return (binary ? WS_BINARY : 0) | (options?.compress === false ? 0 : WS_COMPRESS);
}

// Buffer#utf8Slice skips toString()'s encoding lookup (as latin1Slice in
// request.ts); toString() if a Node release drops it.
const bufferProto = Buffer.prototype as Buffer & { utf8Slice?: (start: number, end: number) => string };
const utf8: (buf: Buffer, start: number, end: number) => string = typeof bufferProto.utf8Slice === 'function'
  ? (buf, start, end) => (buf as typeof bufferProto).utf8Slice!(start, end)
  : (buf, start, end) => buf.toString('utf8', start, end);

class ServerWebSocket<T = unknown> implements WebSocket<T>, Upgraded {
  readyState: 'open' | 'closing' | 'closed' = 'open';
  readonly topics = new Set<string>();

  constructor(
    private readonly hub: Upgrades,
    readonly handle: number,
    private readonly handlers: WebSocketHandlers<T>,
    readonly data: T,
    readonly protocol: string,
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {}

  get bufferedAmount(): number {
    return this.readyState === 'closed' ? 0 : this.hub.native.queued(this.handle);
  }

  send(data: string | Uint8Array, options?: SendOptions): SendStatus {
    if (this.readyState !== 'open') return 'closed';
    const rc = this.hub.native.wsSend(this.handle, data, flagsOf(data, options));
    return rc === FULL ? 'backpressure' : rc === GONE ? 'closed' : 'ok';
  }

  close(code?: number, reason?: string): void {
    if (this.readyState !== 'open') return;
    if (code !== undefined && !(Number.isInteger(code) && (code === 1000 || (code >= 3000 && code <= 4999)))) {
      throw new RangeError(`a WebSocket close code an app may send is 1000 or 3000-4999, not ${code}`);
    }
    if (reason !== undefined && Buffer.byteLength(reason) > 123) {
      throw new RangeError('a WebSocket close reason is at most 123 bytes (RFC 6455 5.5)');
    }
    this.readyState = 'closing';
    this.unsubscribeAll();
    this.hub.native.wsClose(this.handle, code ?? 1000, reason ?? '');
  }

  terminate(): void {
    if (this.readyState === 'closed') return;
    this.hub.native.abort(this.handle);
    this.closed(1006, '');
  }

  pause(): void {
    if (this.readyState !== 'closed') this.hub.native.readBody(this.handle, false);
  }

  resume(): void {
    if (this.readyState !== 'closed') this.hub.native.readBody(this.handle, true);
  }

  subscribe(topic: string): void {
    if (this.readyState !== 'open' || this.topics.has(topic)) return;
    this.topics.add(topic);
    this.hub.join(topic, this);
  }

  unsubscribe(topic: string): void {
    if (this.topics.delete(topic)) this.hub.leave(topic, this);
  }

  isSubscribed(topic: string): boolean {
    return this.topics.has(topic);
  }

  publish(topic: string, data: string | Uint8Array, options?: SendOptions): number {
    return this.hub.publish(topic, data, options, this);
  }

  private unsubscribeAll(): void {
    for (const topic of this.topics) this.hub.leave(topic, this);
    this.topics.clear();
  }

  private closed(code: number, reason: string): void {
    if (this.readyState === 'closed') return;
    this.readyState = 'closed';
    this.unsubscribeAll();
    this.hub.forget(this.handle, true);
    this.call(() => this.handlers.close?.(this, code, reason));
  }

  /** A handler's throw is the app's error: logged, and the connection closed with 1011. */
  call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.threw(err);
    }
  }

  private threw(err: unknown): void {
    this.hub.log(`WebSocket handler threw: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    if (this.readyState === 'open') {
      this.readyState = 'closing';
      this.unsubscribeAll();
      this.hub.native.wsClose(this.handle, 1011, 'internal error');
    }
  }

  event(type: number, a: number, b: number, buf: Buffer): void {
    switch (type) {
      case EV.WS_TEXT:
      case EV.WS_BINARY: {
        // The hot path: no closure per message.
        const message = this.handlers.message;
        if (message === undefined) break;
        const binary = type === EV.WS_BINARY;
        const data = binary ? buf.subarray(a, a + b) : utf8(buf, a, a + b);
        try {
          message.call(this.handlers, this, data, binary);
        } catch (err) {
          this.threw(err);
        }
        break;
      }
      case EV.DRAIN:
        if (this.handlers.drain !== undefined && this.readyState === 'open') this.call(() => this.handlers.drain!(this));
        break;
      case EV.WS_CLOSE: {
        const off = Math.floor(b / 256);
        this.closed(a, buf.toString('utf8', off, off + (b % 256)));
        break;
      }
      case EV.ABORT:
        this.closed(1006, '');
        break;
    }
  }

  cut(): void {
    this.terminate();
  }

  shutdown(): void {
    if (this.readyState !== 'open') return;
    this.readyState = 'closing';
    this.unsubscribeAll();
    this.hub.native.wsClose(this.handle, 1001, 'server shutting down');
  }
}

/**
 * The raw connection of a `tunnel` reply, as a Duplex: what it reads is what
 * the client sends (paused until read, the core's buffer limit is the
 * backpressure), what is written goes out as it is; end() half-closes,
 * destroy() cuts. It ends by itself when the client's side ends
 * (allowHalfOpen false, as net.Socket on a server).
 */
class Tunnel extends Duplex implements TunnelSocket, Upgraded {
  bytesRead = 0;
  bytesWritten = 0;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: string | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  private pendingWrite: ((err?: Error | null) => void) | undefined;
  private gone = false;
  private idleMs = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly hub: Upgrades, private readonly handle: number, req: UpgradeRequest) {
    super({ allowHalfOpen: false });
    const port = Number(req.REMOTE_PORT);
    this.remoteAddress = req.REMOTE_ADDR || undefined;
    this.remotePort = Number.isFinite(port) && req.REMOTE_PORT !== '' ? port : undefined;
    this.remoteFamily = this.remoteAddress === undefined ? undefined : this.remoteAddress.includes(':') ? 'IPv6' : 'IPv4';
    this.localAddress = req.SERVER_NAME || undefined;
    const local = Number(req.SERVER_PORT);
    this.localPort = Number.isFinite(local) && req.SERVER_PORT !== '' ? local : undefined;
  }

  // net.Socket's readyState, which `ws` and engine.io read.
  get readyState(): string {
    if (this.gone) return 'closed';
    return this.writable ? (this.readable ? 'open' : 'writeOnly') : this.readable ? 'readOnly' : 'closed';
  }

  get connecting(): boolean {
    return false;
  }

  override _read(): void {
    if (!this.gone) this.hub.native.readBody(this.handle, true);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.gone) {
      cb(new TsgiError('TSGI_ERR_BODY_ABORTED', 'the connection is closed'));
      return;
    }
    this.touch();
    const rc = this.hub.native.write(this.handle, chunk);
    if (rc === GONE) {
      cb(new TsgiError('TSGI_ERR_BODY_ABORTED', 'the connection is closed'));
      return;
    }
    this.bytesWritten += chunk.length;
    if (rc === FULL) this.pendingWrite = cb;
    else cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.gone) this.hub.native.end(this.handle);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.stopIdle();
    if (!this.gone) {
      this.gone = true;
      this.hub.native.abort(this.handle);
      this.hub.forget(this.handle, false);
    }
    const pending = this.pendingWrite;
    this.pendingWrite = undefined;
    pending?.(err ?? new TsgiError('TSGI_ERR_BODY_ABORTED', 'the connection is closed'));
    cb(err);
  }

  setNoDelay(): this {
    return this;  // the core's TCP sockets are TCP_NODELAY already
  }

  setKeepAlive(): this {
    return this;
  }

  setTimeout(ms: number, callback?: () => void): this {
    this.idleMs = ms > 0 ? ms : 0;
    if (callback !== undefined) {
      if (this.idleMs > 0) this.once('timeout', callback);
      else this.removeListener('timeout', callback);
    }
    this.touch();
    return this;
  }

  address(): { address: string; family: string; port: number } | {} {
    return this.localAddress === undefined ? {} : {
      address: this.localAddress,
      family: this.localAddress.includes(':') ? 'IPv6' : 'IPv4',
      port: this.localPort ?? 0,
    };
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  private touch(): void {
    this.stopIdle();
    if (this.idleMs > 0 && !this.gone) {
      this.idleTimer = setTimeout(() => this.emit('timeout'), this.idleMs);
      this.idleTimer.unref();
    }
  }

  private stopIdle(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  event(type: number, a: number, b: number, buf: Buffer): void {
    switch (type) {
      case EV.BODY:
        this.bytesRead += b;
        this.touch();
        // A reader may keep it for long: copied out of the batch, unless
        // the Buffer holds this piece alone (a large one comes in its own).
        if (!this.push(a === 0 && b === buf.byteLength ? buf : Buffer.from(buf.subarray(a, a + b)))) {
          this.hub.native.readBody(this.handle, false);
        }
        break;
      case EV.BODY_END:
        this.push(null);
        break;
      case EV.DRAIN: {
        const cb = this.pendingWrite;
        this.pendingWrite = undefined;
        cb?.();
        break;
      }
      case EV.ABORT:
        // The connection is gone (either side closed it): 'close' follows.
        this.gone = true;
        this.hub.forget(this.handle, false);
        if (!this.readableEnded) this.push(null);
        this.destroy();
        break;
    }
  }

  shutdown(): void {}

  cut(): void {
    this.destroy();
  }
}

export class Upgrades {
  private websockets = 0;
  private tunnels = 0;

  /** Open WebSockets and tunnels (counted here), messages and bytes (counted by the core). */
  get stats(): UpgradeStats {
    const [messagesIn, messagesOut, bytesIn, bytesOut] = this.native.wsCounters();
    return { websockets: this.websockets, tunnels: this.tunnels, messagesIn, messagesOut, bytesIn, bytesOut };
  }
  private readonly open = new Map<number, Upgraded>();
  private readonly topics = new Map<string, Set<ServerWebSocket>>();
  private handles = new Float64Array(64);

  constructor(readonly native: NativeServer, readonly log: (line: string) => void) {}

  get size(): number {
    return this.open.size;
  }

  /**
   * A reply with `websocket` or `tunnel`: the connection switches, or the
   * reply is refused with an error the app's failure path answers.
   */
  accept(req: UpgradeRequest, reply: Reply): void {
    if (reply.websocket !== undefined) {
      if (!req.tsgi.websocket) {
        throw new TsgiError('TSGI_ERR_REPLY_UPGRADE', 'a websocket reply to a request that is not a WebSocket handshake');
      }
      if (reply.status !== undefined || reply.body !== undefined || reply.tunnel !== undefined) {
        throw new TsgiError('TSGI_ERR_REPLY_UPGRADE', 'a websocket reply has no status, body or tunnel');
      }
      const protocol = reply.protocol ?? '';
      const enc = encodeHeaders(reply.headers);
      let block = enc.block;
      if (protocol !== '') {
        const offered = (req.header('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim());
        if (!offered.includes(protocol)) {
          throw new TsgiError('TSGI_ERR_REPLY_UPGRADE', `subprotocol ${JSON.stringify(protocol)} was not offered`);
        }
        block += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
      }
      if (this.native.upgrade(req.handle, UPGRADES.WEBSOCKET, block) === GONE) return;  // the client left
      const port = Number(req.REMOTE_PORT);
      const ws = new ServerWebSocket(this, req.handle, reply.websocket, reply.data, protocol, req.REMOTE_ADDR,
        Number.isFinite(port) ? port : 0);
      this.open.set(req.handle, ws);
      this.websockets++;
      if (reply.websocket.open !== undefined) ws.call(() => reply.websocket!.open!(ws));
      return;
    }
    const tunnel = reply.tunnel!;
    if (!req.tsgi.upgrade) {
      throw new TsgiError('TSGI_ERR_REPLY_UPGRADE', 'a tunnel reply to a request that cannot switch protocols');
    }
    if (reply.status !== undefined || reply.body !== undefined || reply.headers !== undefined) {
      throw new TsgiError('TSGI_ERR_REPLY_UPGRADE', 'a tunnel reply has no status, headers or body');
    }
    if (this.native.upgrade(req.handle, UPGRADES.TUNNEL, '') === GONE) return;
    const socket = new Tunnel(this, req.handle, req);
    this.open.set(req.handle, socket);
    this.tunnels++;
    try {
      tunnel(socket);
    } catch (err) {
      socket.destroy();
      throw err;
    }
  }

  /** An event for an upgraded handle; false when the handle is not one. */
  event(handle: number, type: number, a: number, b: number, buf: Buffer): boolean {
    const u = this.open.get(handle);
    if (u === undefined) return false;
    u.event(type, a, b, buf);
    return true;
  }

  forget(handle: number, websocket: boolean): void {
    if (this.open.delete(handle)) {
      if (websocket) this.websockets--;
      else this.tunnels--;
    }
  }

  join(topic: string, ws: ServerWebSocket): void {
    let set = this.topics.get(topic);
    if (set === undefined) this.topics.set(topic, (set = new Set()));
    set.add(ws);
  }

  leave(topic: string, ws: ServerWebSocket): void {
    const set = this.topics.get(topic);
    if (set !== undefined && set.delete(ws) && set.size === 0) this.topics.delete(topic);
  }

  /** One message to every subscriber of `topic` (but `except`), framed by the core in one call. */
  publish(topic: string, data: string | Uint8Array, options?: SendOptions, except?: ServerWebSocket): number {
    const set = this.topics.get(topic);
    if (set === undefined) return 0;
    if (this.handles.length < set.size) this.handles = new Float64Array(Math.max(set.size, this.handles.length * 2));
    let n = 0;
    for (const ws of set) if (ws !== except) this.handles[n++] = ws.handle;
    if (n === 0) return 0;
    return this.native.wsPublish(this.handles.subarray(0, n), data, flagsOf(data, options));
  }

  /** The server's wait is over: what is still open is cut, and its owner told. */
  cut(): void {
    for (const u of [...this.open.values()]) u.cut();
  }

  /** The server closes: every WebSocket is sent 1001 (going away); tunnels are their owners'. */
  shutdown(): void {
    for (const u of [...this.open.values()]) u.shutdown();
  }
}
