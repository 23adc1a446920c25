// TSGI 1.3: the gateway interface between servers and apps, as types. These
// are the normative form; docs/tsgi.md is the prose. The request carries the CGI/1.1
// meta-variables by name (RFC 3875 section 4.1), whatever protocol brought it.
import type { Duplex } from 'node:stream';

/** The request body: read it once, as a stream or whole with a size limit. */
export interface Body extends AsyncIterable<Uint8Array> {
  /** Bytes of the whole body. Rejects with a 413 TsgiError past `limit` (default 1 MiB). */
  bytes(limit?: number): Promise<Uint8Array>;
  /** The whole body as UTF-8 text, same limit rule. */
  text(limit?: number): Promise<string>;
  /** The whole body parsed as JSON, same limit rule; a 400 TsgiError if it is not JSON. */
  json<T = unknown>(limit?: number): Promise<T>;
  /**
   * The body's next bytes, written into `into` from its start; resolves with
   * how many as soon as some are there (like a socket read, not only once
   * `into` is full), or 0 at the end of the body. The server writes them
   * straight into `into` (over HTTP, uwsgi and SCGI it reads the socket into
   * it), so a Buffer reused from read to read and request to request gets any
   * body with one copy and no allocation. The bytes are the app's until the
   * next read into the same memory, this request's or another's: requests
   * that read at once need memory of their own. Two reads of one body at
   * once are refused. A body is read one way only: with read(), or iterated,
   * or whole.
   */
  read(into: Uint8Array): Promise<number>;
  /** True once the body was fully read, or when there was none. */
  readonly done: boolean;
}

/** The app's error stream, like WSGI's `wsgi.errors`. */
export interface ErrorStream {
  /**
   * Over FastCGI: STDERR records for this request, which the web server logs
   * (nginx: "FastCGI sent in stderr"). Over the other protocols: a line in
   * tsgi's log naming the request. Returns false while the output is above
   * its high-water mark (a hint to write less, as with Node streams).
   */
  write(chunk: string | Uint8Array): boolean;
}

/** Facts about the server and this request, like WSGI's `wsgi.*` keys. */
export interface ServerInfo {
  /** TSGI version implemented: [major, minor]. */
  readonly version: readonly [number, number];
  readonly url_scheme: 'http' | 'https';
  /** The front protocol that carried the request. */
  readonly protocol: 'http' | 'uwsgi' | 'fastcgi' | 'scgi' | 'cgi';
  /**
   * FastCGI only: the role the web server gave this request (spec 6).
   * "responder" answers it; "authorizer" decides access: a 200 reply
   * authorizes (its Variable-* headers go back to the web server), any other
   * reply is the denial the client sees. "filter" answers with a filtered
   * version of the file in `req.data` (read `req.body` first, spec 6.4).
   */
  readonly role?: 'responder' | 'authorizer' | 'filter';
  readonly multiprocess: boolean;
  readonly multithread: boolean;
  readonly run_once: boolean;
  /**
   * The request asks to switch protocols (an `Upgrade` header, RFC 9110
   * 7.8) and this connection can: HTTP/1.1 straight from the client, no
   * request body. A reply with `tunnel` takes the connection. Else false: a
   * reply with `websocket` or `tunnel` is refused (500), and an ordinary
   * reply declines the upgrade, as a server may.
   */
  readonly upgrade: boolean;
  /**
   * The request is a valid WebSocket opening handshake (RFC 6455 4.2.1:
   * GET, `Upgrade: websocket`, `Connection: upgrade`, version 13, a key):
   * a reply with `websocket` accepts it. Its `Origin`, subprotocols
   * (`Sec-WebSocket-Protocol`) and cookies are headers, for the app to check.
   */
  readonly websocket: boolean;
}

export interface Request {
  readonly REQUEST_METHOD: string;
  /** The mount point the app is served under; "" at the root. */
  readonly SCRIPT_NAME: string;
  /** The path below SCRIPT_NAME, percent-decoded. */
  readonly PATH_INFO: string;
  /** After "?", undecoded; "" if none. */
  readonly QUERY_STRING: string;
  /** The request-target as sent, undecoded. */
  readonly REQUEST_URI: string;
  /** "" when the request has none. */
  readonly CONTENT_TYPE: string;
  /** Decimal, or "" when the request has no Content-Length (e.g. chunked). */
  readonly CONTENT_LENGTH: string;
  readonly SERVER_NAME: string;
  readonly SERVER_PORT: string;
  /** "HTTP/1.1" or "HTTP/1.0". */
  readonly SERVER_PROTOCOL: string;
  readonly REMOTE_ADDR: string;
  readonly REMOTE_PORT: string;

  /** A CGI variable by name, including HTTP_* for request headers. */
  var(name: string): string | undefined;
  /** All CGI variables as a plain object (built on each call). */
  vars(): Record<string, string>;
  /** A request header by name, case-insensitive; repeated fields joined with ", ". */
  header(name: string): string | undefined;
  /**
   * Header fields in the order received, names as sent. Fields whose names
   * contain "_" are dropped, as nginx and Apache do, so that `X_Forwarded_For`
   * cannot pose as `X-Forwarded-For` once mapped to HTTP_X_FORWARDED_FOR.
   */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Body;
  /**
   * FastCGI FILTER only: the file to filter (the FCGI_DATA stream), read like
   * the body, after it; its size is DATA_LENGTH and its modification time
   * DATA_LAST_MOD (seconds since the epoch), both in var(). Otherwise undefined.
   */
  readonly data: Body | undefined;
  /** The error stream: where an app writes diagnostics for the operator. */
  readonly errors: ErrorStream;
  /** Fires when the client goes away before the reply is complete. */
  readonly signal: AbortSignal;
  readonly tsgi: ServerInfo;
}

/** Pairs, or an object whose values may be arrays; an undefined value is skipped. */
export type HeaderList =
  | ReadonlyArray<readonly [string, string]>
  | Readonly<Record<string, string | number | ReadonlyArray<string> | undefined>>;

export type Chunk = string | Uint8Array;

/**
 * A file, or a range of it, as the body: the server opens it, sets
 * Content-Length, and sends it with sendfile(2) where the protocol allows
 * (HTTP, uwsgi, SCGI), so its bytes never enter JavaScript. An error opening
 * it (missing, not a regular file, a range past its end) is an app error.
 */
export interface FileBody {
  /** The file's path. */
  readonly path: string;
  /** First byte to send (default 0). */
  readonly offset?: number;
  /** Bytes to send (default: to the end of the file). */
  readonly length?: number;
}

/**
 * Bytes sealed once by the server's seal() into memory nothing can change,
 * sent from there as a file is (sendfile where the protocol allows), so a
 * body replied many times costs no copy through user space per reply. The
 * server sets Content-Length. A TSGI 1.3 server takes it as a reply body.
 */
export interface SealedBody {
  /** How many bytes were sealed. */
  readonly byteLength: number;
  /**
   * Lets the memory go once the replies under way have sent it (otherwise
   * when the object is collected). Replying with it afterwards is an app
   * error (TSGI_ERR_REPLY_FILE).
   */
  close(): void;
}

export type ReplyBody =
  | Chunk
  | Iterable<Chunk>
  | AsyncIterable<Chunk>
  | FileBody
  | SealedBody
  | null
  | undefined;

export interface Reply {
  /** 200 when absent. 200..599 (1xx interim replies are the server's business). */
  status?: number;
  /** Several fields of one name (two Set-Cookie) as repeated pairs or an array value. */
  headers?: HeaderList;
  /**
   * A string (sent as UTF-8), bytes, or a sync or async iterable of either,
   * streamed with backpressure. A known length becomes Content-Length;
   * otherwise HTTP/1.1 replies are chunked.
   */
  body?: ReplyBody;
  /**
   * Accept a WebSocket (req.tsgi.websocket): the server answers 101 with
   * `Sec-WebSocket-Accept` and `headers`, then frames, checks and
   * reassembles messages and answers pings and closes itself; the handlers
   * see whole messages. `status` and `body` must be absent.
   */
  websocket?: WebSocketHandlers;
  /** The subprotocol chosen among the client's `Sec-WebSocket-Protocol` offers. */
  protocol?: string;
  /** Per-connection data for the handlers: `ws.data`. */
  data?: unknown;
  /**
   * Take the connection itself (req.tsgi.upgrade): from here on its bytes
   * flow both ways through `socket`, a Node Duplex; the app writes the 101
   * head itself. What node:http's 'upgrade' event gives, for `ws` and
   * socket.io. `status`, `headers` and `body` must be absent.
   */
  tunnel?: (socket: TunnelSocket) => void;
}

/** What WebSocket.send() says: queued below the high-water mark, above it (wait for drain), or not sent. */
export type SendStatus = 'ok' | 'backpressure' | 'closed';

export interface SendOptions {
  /** A binary message (default for Uint8Array); text for strings unless set. */
  binary?: boolean;
  /** Compress with permessage-deflate when negotiated (default true above a small size). */
  compress?: boolean;
}

/** One accepted WebSocket connection (TSGI 1.1). */
export interface WebSocket<T = unknown> {
  /** The reply's `data`. */
  readonly data: T;
  readonly protocol: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Bytes queued toward the client not yet taken by it. */
  readonly bufferedAmount: number;
  /** 'open' until close() or the client's close, 'closing', then 'closed'. */
  readonly readyState: 'open' | 'closing' | 'closed';
  send(data: string | Uint8Array, options?: SendOptions): SendStatus;
  /** Starts the close handshake (RFC 6455 7.1.2); `close` follows once done or timed out. */
  close(code?: number, reason?: string): void;
  /** Closes the connection without a handshake. */
  terminate(): void;
  /** Stops reading from the client (its messages wait in the kernel), until resume(). */
  pause(): void;
  resume(): void;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  isSubscribed(topic: string): boolean;
  /** Sends to every subscriber of `topic` but this one; returns how many were sent to. */
  publish(topic: string, data: string | Uint8Array, options?: SendOptions): number;
}

export interface WebSocketHandlers<T = any> {
  open?(ws: WebSocket<T>): void;
  /** A whole message: text as a string (valid UTF-8, checked), binary as bytes valid during the call. */
  message?(ws: WebSocket<T>, data: string | Uint8Array, isBinary: boolean): void;
  /** The queue fell below the low-water mark after a send() said 'backpressure'. */
  drain?(ws: WebSocket<T>): void;
  /** Once, when the connection is gone: the close code received (1005: none; 1006: no close frame) and reason. */
  close?(ws: WebSocket<T>, code: number, reason: string): void;
}

/** The connection a `tunnel` reply takes: a Duplex with the net.Socket members `ws` and socket.io use. */
export interface TunnelSocket extends Duplex {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: string | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  setNoDelay(noDelay?: boolean): this;
  setKeepAlive(enable?: boolean, initialDelay?: number): this;
  setTimeout(ms: number, callback?: () => void): this;
  address(): { address: string; family: string; port: number } | {};
  ref(): this;
  unref(): this;
}

export type App = (req: Request) => Reply | Promise<Reply>;

/**
 * TSGI 1.1 lifecycle hooks (docs/tsgi.md section 1.1): exported by the app
 * module beside the app, or carried by the exported app value. The server
 * awaits `startup` before it accepts the first request and `shutdown` once it
 * has drained, before the process ends, within its shutdown timeout.
 */
export interface Lifecycle {
  startup?(): unknown;
  shutdown?(): unknown;
}

/** An app that wraps an app (docs/tsgi.md section 1). */
export type Middleware = (next: App) => App;
