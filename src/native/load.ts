// Loads the addon: a prebuilt binary from prebuilds/<platform>-<arch>/ or the
// one node-gyp built at install. Fails loudly with what to do, never silently.
//
// tsgi.node is the server's addon. `tsgi bench`'s engine is another,
// tsgi_loadgen.node, loaded only by a bench from the main addon's folder by
// name, with the main addon's tags: build/Release/tsgi_loadgen.node beside
// build/Release/tsgi.node, prebuilds/linux-x64/tsgi_loadgen.glibc.node beside
// prebuilds/linux-x64/tsgi.glibc.node. node-gyp-build only finds the main one:
// it takes the first .node file in build/Release, and the best-tagged one in
// prebuilds/<platform>/ with ties in name order, and "tsgi." sorts before
// "tsgi_"; the name of what it found is checked all the same.
import * as path from 'node:path';

export interface NativeListenResult {
  index: number;
  /** The listening socket (owned by the server; a master passes it to workers). */
  fd: number;
  tcp: boolean;
  port: number;
  host: string;
}

export interface NativeServer {
  listen(spec: { address: string; protocol: number; mode: number; owner?: number; group?: number; exclusive: boolean;
    allow: string[] }): NativeListenResult;
  respond(handle: number, status: number, headers: string, body: string | Uint8Array | undefined,
    contentLength: number, flags: number): number;
  /** flags: REPLY_FLAGS.KEPT, or 0. */
  write(handle: number, chunk: string | Uint8Array, flags?: number): number;
  end(handle: number): number;
  /**
   * Deliver the body (flowing) or hold it. `into`: write the whole body there;
   * with `limit`, its length is unknown and the core regrows it up to `limit`.
   */
  readBody(handle: number, flowing: boolean, into?: Uint8Array, limit?: number): number;
  /**
   * The body's next bytes into `into`, from its start: BODY_READ says how
   * many (then the body pauses until the next call), or BODY_END if it ended.
   */
  readInto(handle: number, into: Uint8Array): number;
  /**
   * `length` bytes of the open file `fd` from `offset`, with sendfile; the core
   * owns fd from here on, or with `shared` takes a duplicate and the caller keeps fd.
   */
  writeFile(handle: number, fd: number, offset: number, length: number, shared?: boolean): number;
  /**
   * The app's reply named a file (X-Sendfile: a path; X-Accel-Redirect, `accel`:
   * a URL): the core answers with it under the static rules. `fields` from
   * offloadFields(); `headers` the app's other fields; `appType`: it set Content-Type.
   */
  offload(handle: number, accel: boolean, target: string, fields: Array<string | undefined>, headers: string,
    appType: boolean): number;
  /** FastCGI FILTER: deliver (true) or hold the DATA stream. */
  readData(handle: number, flowing: boolean): number;
  /** The app's error stream: FastCGI STDERR records; elsewhere returns GONE (the caller logs). */
  writeStderr(handle: number, chunk: string | Uint8Array): number;
  abort(handle: number): number;
  /** The request's connection switches protocols (UPGRADES); a WebSocket's 101 carries the header block. */
  upgrade(handle: number, kind: number, headers: string): number;
  /** One WebSocket message (WS_FLAGS). */
  wsSend(handle: number, data: string | Uint8Array, flags: number): number;
  /** One message to each handle, framed once; returns how many took it. */
  wsPublish(handles: Float64Array, data: string | Uint8Array, flags: number): number;
  /** Starts a WebSocket's close handshake (code 0: none). */
  wsClose(handle: number, code: number, reason: string): number;
  /** A reply that began and of which nothing was written is withdrawn (OK), so a 500 may replace it; else GONE. */
  retract(handle: number): number;
  /** Whether the server keeps Node's event loop alive (default true). */
  ref(on: boolean): void;
  /** WebSocket messages in, out, and their payload bytes in, out, counted by the core. */
  wsCounters(): [number, number, number, number];
  /** Bytes queued toward the handle's client, not yet taken by it. */
  queued(handle: number): number;
  stopListening(): void;
  /** Closes idle connections; without `onlyIdle`, also ends keep-alive for the rest (a graceful close). */
  closeIdle(onlyIdle?: boolean): number;
  destroyAll(): void;
  connectionCount(): number;
  close(): void;
}

export interface NativeServerOptions {
  /** Static files in the core; absent: none (src/server/static.ts builds it). */
  static?: NativeStaticOptions;
  maxHeaderSize?: number;
  /** Request header fields at most, on every protocol (default 200, at most 256): more is 431. */
  maxHeaders?: number;
  maxBodySize?: number;
  headerTimeout?: number;
  keepAliveTimeout?: number;
  ioTimeout?: number;
  maxConnections?: number;
  highWaterMark?: number;
  /** A WebSocket message's limit in bytes; past it the connection is closed with 1009. Default 16 MiB. */
  wsMaxMessage?: number;
  /** Milliseconds without a byte from a WebSocket client before a ping; without an answer, the close. Default 120000; 0: never. */
  wsIdleTimeout?: number;
  /** Milliseconds the client has to answer our close frame. Default 5000. */
  wsCloseTimeout?: number;
  /**
   * Offer permessage-deflate (RFC 7692) to WebSocket clients that ask: about
   * 180 KiB of zlib state per connection with context takeover, none between
   * messages without it; messages of 1 KiB and more are compressed. Default false.
   */
  wsCompression?: boolean;
}

/** Static files as the core reads them (native/napi/static_options.cc): pairs flattened. */
export interface NativeStaticOptions {
  map: string[];
  check: string[];
  index: string[];
  offload: string[];
  expires?: number;
  expiresType: string[];
  followSymlinks: boolean;
  dotfiles: boolean;
  cacheEntries?: number;
  cacheValid?: number;
  /** [extension, Content-Type, ...] */
  mime: string[];
  /** Pass each request the core answers on to JS (record flag SERVED, then a SERVED event) for onRequestDone. */
  report?: boolean;
}

/** batch: a Buffer with byteOffset 0 (request records are read as u32 words). */
/**
 * One batch of events: `events` when they outgrew the shared array, `own`
 * the Buffers of their own that large pieces came in (an event's offset
 * -(i + 1) names the i-th), and the regrown Buffers of bodies read whole
 * (BODY_END's b, -(i + 1)).
 */
export type OnEvents = (batch: Buffer, count: number, events?: Float64Array, own?: Buffer[]) => void;

/** What the addon was built with and the platform features its core uses (native/napi/platform_binding.cc). */
export interface PlatformInfo {
  /** 'epoll', 'kqueue', or 'kqueue (libkqueue)'. */
  poller: string;
  /** How connections are accepted: accept4 with flags, or accept + fcntl. */
  accept: string;
  /** How a send to a closed peer avoids SIGPIPE: MSG_NOSIGNAL or SO_NOSIGPIPE. */
  noSigpipe: string;
  msgMore: boolean;
  deferAccept: boolean;
  /** EPOLLEXCLUSIVE on shared listeners: whether this kernel accepts it, or why not used. */
  exclusiveAccept: string;
  /** The file-sending path: sendfile(2) (Linux or macOS form) or pread + write. */
  sendfile: string;
  /** What seal() makes first: 'memfd' (sealed shared memory) or 'file' (an unlinked read-only file). */
  sealed: string;
  compiler: string;
  napiVersion: number;
  /** The glibc whose headers the addon was built against, e.g. 'glibc 2.28'; null elsewhere. */
  libc: string | null;
  /** The oldest glibc this build loads on when its symbol versions are pinned ('2.28'), else null. */
  glibcFloor: string | null;
  /** Built with the portable (plain POSIX) paths forced on. */
  portable: boolean;
  sanitizers: boolean;
}

export interface Binding {
  /** What the addon was built with and the platform features its core uses. */
  platform(): PlatformInfo;
  /**
   * Gives idle memory back to the system (src/server/memory-release.ts): with
   * `collect`, a memory-reducing garbage collection of this thread's isolate
   * first (when the runtime offers one); then this thread's recycled blocks
   * and the C heap's free pages.
   */
  releaseMemory(collect: boolean): { collected: boolean; blocks: number; heap: boolean };
  /**
   * A read-only descriptor holding a copy of `bytes` that nothing can change
   * (native/net/sealed.h); `tmpdir` for the fallback's file ('' for the
   * default). Throws with the system's reason.
   */
  sealBytes(bytes: Uint8Array, tmpdir: string): number;
  listeningSocket(fd: number): { tcp: boolean } | null;
  /** A close-on-exec copy of a listening socket's fd (throws TSGI_ERR_LISTEN if fd is not one). */
  dupListener(fd: number): number;
  /**
   * A listening socket bound as Server.listen() binds one, owned by the caller
   * and watched by no loop (throws TSGI_ERR_LISTEN). `path`: the unix socket
   * file to unlink after closing fd ('' for other kinds).
   */
  bindListener(spec: { address: string; mode?: number; owner?: number; group?: number }):
    { fd: number; tcp: boolean; host: string; port: number; path: string };
  /** systemd readiness: one datagram to NOTIFY_SOCKET. 0 or -errno. */
  sdNotify(socket: string, message: string): number;
  Server: new (options: NativeServerOptions, onEvents: OnEvents, onLog: (line: string) => void,
    events: Float64Array) => NativeServer;
  /**
   * The numbers shared with the core (native/napi/abi.h), list -> key -> value.
   * Read them through src/native/abi.ts, which types them.
   */
  abi: Record<'events' | 'eventSlots' | 'record' | 'pair' | 'recordFlags' | 'reply' | 'replyFlags' | 'protocols',
    Record<string, number>>;
  /** Each framer's errors, name -> text, in enum order (the list in each framer.h). */
  errors: { uwsgi: Record<string, string>; scgi: Record<string, string>; fastcgi: Record<string, string> };
}

/** tsgi_loadgen.node, `tsgi bench`'s load engine (native/loadgen/, native/napi/loadgen_binding.cc). */
export interface LoadgenBinding {
  /** Starts a run on the engine's own threads. */
  benchStart(options: NativeBenchOptions, onEvent: (type: 'progress' | 'done' | 'error',
    data: NativeBenchProgress | string) => void): { stop(): void };
}

/** Options of benchStart; absent fields take the engine's defaults. Seconds for times. */
export interface NativeBenchOptions {
  protocol: 'http' | 'uwsgi' | 'scgi' | 'fastcgi' | 'ws';
  target: string;
  method?: string;
  path?: string;
  host?: string;
  headers?: [string, string][];
  params?: [string, string][];
  body?: Uint8Array;
  keepConn?: boolean;
  connections?: number;
  threads?: number;
  duration?: number;
  requests?: number;
  warmup?: number;
  timeout?: number;
  rate?: number;
  pipeline?: number;
  multiplex?: number;
  expectStatus?: number;
  expectBodyLength?: number;
  /** WebSocket: echo (default) or subscribe (one more connection publishes). */
  wsMode?: 'echo' | 'subscribe';
  /** WebSocket: message bytes (32). */
  wsMessageSize?: number;
  /** WebSocket: binary messages instead of text. */
  wsBinary?: boolean;
  /** WebSocket subscribe: what published messages start with ("pub:"). */
  wsPrefix?: string;
}

/** About once a second while a bench run goes; counts are since the warm-up ended. */
export interface NativeBenchProgress {
  elapsed: number;
  measuring: boolean;
  requests: number;
  errors: number;
  bytesIn: number;
}

/** Which addon file this process loaded, and how it was found (`tsgi doctor`). */
export interface AddonOrigin {
  /** Absolute path of the loaded `.node` file. */
  path: string;
  /** env: TSGI_ADDON named it; prebuilt: from prebuilds/; compiled: built at install (build/). */
  source: 'env' | 'prebuilt' | 'compiled';
}

let origin: AddonOrigin | undefined;

/** The main addon's file name: tsgi.node, or a prebuild's tsgi.<tags>.node. */
const MAIN_ADDON = /^tsgi(\.[^.]+)*\.node$/;

/**
 * The file of the addon `name` (e.g. 'tsgi_loadgen') that goes with the main
 * addon `main`: the same folder and tags.
 */
export function companionPath(main: string, name: string): string {
  const base = path.basename(main);
  const tags = MAIN_ADDON.test(base) ? base.slice('tsgi'.length) : '.node';
  return path.join(path.dirname(main), name + tags);
}

let loadgen: LoadgenBinding | undefined;

/** `tsgi bench`'s engine, tsgi_loadgen.node, loaded on first use from the main addon's folder. */
export function loadgenBinding(): LoadgenBinding {
  if (loadgen) return loadgen;
  const file = companionPath(addonOrigin().path, 'tsgi_loadgen');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loadgen = require(file) as LoadgenBinding;
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    const e = new Error(`tsgi: cannot load the load generator ${file}, which goes with the addon ` +
      `${addonOrigin().path}: ${reason}. Reinstall tsgi (npm rebuild tsgi) to get both.`);
    (e as Error & { code: string }).code = 'TSGI_ERR_ADDON_LOAD';
    throw e;
  }
  return loadgen;
}

/** The addon file this process loaded (set once the addon is loaded). */
export function addonOrigin(): AddonOrigin {
  if (!origin) throw new Error('tsgi: the native addon is not loaded');
  return origin;
}

function load(): Binding {
  const root = path.resolve(__dirname, '..', '..');
  const override = process.env.TSGI_ADDON;
  try {
    let file: string;
    let source: AddonOrigin['source'];
    if (override) {
      file = path.resolve(override);
      source = 'env';
    } else {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const gypBuild = require('node-gyp-build') as { resolve(dir: string): string };
      file = gypBuild.resolve(root);
      source = file.split(path.sep).includes('prebuilds') ? 'prebuilt' : 'compiled';
      if (!MAIN_ADDON.test(path.basename(file))) throw new Error(`node-gyp-build found ${file}, not tsgi's addon`);
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const binding = require(file) as Binding;
    origin = { path: file, source };
    return binding;
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    const e = new Error(override
      ? `tsgi: cannot load the native addon TSGI_ADDON names (${override}): ${reason}`
      : `tsgi: cannot load its native addon for ${process.platform}-${process.arch} (node ${process.version}, ` +
        `N-API): ${reason}. No prebuilt binary matched and none was built: install a C++ toolchain ` +
        `(python3, make, g++ or clang) and run "npm rebuild tsgi".`);
    (e as Error & { code: string }).code = 'TSGI_ERR_ADDON_LOAD';
    throw e;
  }
}

export const binding: Binding = load();
