// Loads the addon: a prebuilt binary from prebuilds/<platform>-<arch>/ or the
// one node-gyp built at install. Fails loudly with what to do, never silently.
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
  write(handle: number, chunk: string | Uint8Array): number;
  end(handle: number): number;
  readBody(handle: number, flowing: boolean): number;
  /** `length` bytes of the open file `fd` from `offset`, with sendfile; the core owns fd from here on. */
  writeFile(handle: number, fd: number, offset: number, length: number): number;
  /** FastCGI FILTER: deliver (true) or hold the DATA stream. */
  readData(handle: number, flowing: boolean): number;
  /** The app's error stream: FastCGI STDERR records; elsewhere returns GONE (the caller logs). */
  writeStderr(handle: number, chunk: string | Uint8Array): number;
  abort(handle: number): number;
  stopListening(): void;
  closeIdle(): number;
  destroyAll(): void;
  connectionCount(): number;
  close(): void;
}

export interface NativeServerOptions {
  maxHeaderSize?: number;
  maxHeaders?: number;
  maxBodySize?: number;
  headerTimeout?: number;
  keepAliveTimeout?: number;
  ioTimeout?: number;
  maxConnections?: number;
  highWaterMark?: number;
}

/** batch: a Buffer with byteOffset 0 (request records are read as u32 words). */
export type OnEvents = (batch: Buffer, count: number, events?: Float64Array) => void;

export interface ParsedHead {
  result: 'ok' | 'again' | 'error';
  status?: number;
  reason?: string;
  method?: string;
  target?: string;
  path?: string;
  query?: string;
  host?: string;
  flags?: number;
  /** A BigInt above 2^53. */
  contentLength?: number | bigint;
  headLen?: number;
  headers?: [string, string][];
}

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
  compiler: string;
  napiVersion: number;
  /** The glibc whose headers the addon was built against, e.g. 'glibc 2.28'; null elsewhere. */
  libc: string | null;
  /** Built with the portable (plain POSIX) paths forced on. */
  portable: boolean;
  sanitizers: boolean;
}

export interface Binding {
  /** What the addon was built with and the platform features its core uses. */
  platform(): PlatformInfo;
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
  events: {
    REQUEST: number; BODY: number; BODY_END: number; BODY_ERROR: number; ABORT: number; DRAIN: number;
    DATA: number; DATA_END: number; DATA_ERROR: number;
  };
  /**
   * The numbers shared with the core (native/napi/abi.h), list -> key -> value.
   * Read them through src/native/abi.ts, which types them.
   */
  abi: Record<'events' | 'eventSlots' | 'record' | 'recordFlags' | 'reply' | 'replyFlags' | 'protocols',
    Record<string, number>>;
  /** Each framer's errors, name -> text, in enum order (the list in each framer.h). */
  errors: { uwsgi: Record<string, string>; scgi: Record<string, string>; fastcgi: Record<string, string> };
  parseHead(buf: Uint8Array, maxHead?: number, maxHeaders?: number, maxTarget?: number): ParsedHead;
  decodeChunked(buf: Uint8Array, pieceSize: number): {
    result: 'done' | 'again' | 'error'; body: Buffer; consumed: number; error?: string;
  };
  /** Test hook: the uwsgi framer (native/napi/cgi_binding.cc), checked at every split. */
  parseUwsgi(buf: Uint8Array, maxBlock?: number, maxVars?: number): {
    result: 'ok' | 'again' | 'error'; error?: string; message?: string; detail?: number;
    headLen?: number; contentLength?: number | bigint; modifier1?: number; vars?: [string, string][];
  };
  /** Test hook: the SCGI framer (native/napi/cgi_binding.cc), checked at every split. */
  parseScgi(buf: Uint8Array, maxBlock?: number, maxVars?: number): {
    result: 'ok' | 'again' | 'error'; error?: string; message?: string; detail?: number;
    headLen?: number; contentLength?: number | bigint; vars?: [string, string][];
  };
  /**
   * Test hook: the FastCGI record layer (native/napi/fastcgi_binding.cc). Decodes buf whole
   * and in pieces of pieceSize (0/absent: byte by byte and every two-way split) and throws
   * unless all give the same events.
   */
  fcgiDecode(buf: Uint8Array, pieceSize?: number, limits?: { maxParams?: number; maxVars?: number }): FcgiEvent[];
  /** Test hook: STDOUT (or STDERR) records for data, optionally padded to 8 and ended. */
  fcgiEncodeStdout(requestId: number, data: Uint8Array, pad: boolean, end?: boolean, stderr?: boolean): Buffer;
  /** Test hook: an END_REQUEST record. */
  fcgiEndRequest(requestId: number, appStatus: number, protocolStatus: number): Buffer;
  /** Test hook: an UNKNOWN_TYPE record. */
  fcgiUnknownType(type: number): Buffer;
  /** Test hook: the GET_VALUES_RESULT answering a GET_VALUES query for these names. */
  fcgiGetValuesResult(names: string[], values: { maxConns?: number; maxReqs?: number; mpxsConns?: boolean },
    pad?: boolean): Buffer;
  /** `tsgi bench`'s load engine (native/loadgen/, native/napi/loadgen_binding.cc): runs on its own threads. */
  benchStart(options: NativeBenchOptions, onEvent: (type: 'progress' | 'done' | 'error',
    data: NativeBenchProgress | string) => void): { stop(): void };
}

/** Options of benchStart; absent fields take the engine's defaults. Seconds for times. */
export interface NativeBenchOptions {
  protocol: 'http' | 'uwsgi' | 'scgi' | 'fastcgi';
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
}

/** About once a second while a bench run goes; counts are since the warm-up ended. */
export interface NativeBenchProgress {
  elapsed: number;
  measuring: boolean;
  requests: number;
  errors: number;
  bytesIn: number;
}

/** One event of the fcgiDecode test hook. */
export interface FcgiEvent {
  type: 'begin' | 'abort' | 'params' | 'paramsError' | 'stdin' | 'stdinEnd' | 'data' | 'dataEnd' |
    'getValues' | 'unknownType' | 'error' | 'incomplete';
  requestId?: number;
  role?: number;
  flags?: number;
  data?: Buffer;
  vars?: [string, string][];
  /** A BigInt above 2^53. */
  contentLength?: number | bigint;
  hasContentLength?: boolean;
  names?: string[];
  recordType?: number;
  error?: string;
  message?: string;
  detail?: number;
  position?: number;
}

/** Which addon file this process loaded, and how it was found (`tsgi doctor`). */
export interface AddonOrigin {
  /** Absolute path of the loaded `.node` file. */
  path: string;
  /** env: TSGI_ADDON named it; prebuilt: from prebuilds/; compiled: built at install (build/). */
  source: 'env' | 'prebuilt' | 'compiled';
}

let origin: AddonOrigin | undefined;

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
