// The framers' test hooks: tsgi_testing.node (native/napi/testing_addon.cc),
// an addon built beside tsgi.node in a checkout and never shipped. Tests load
// it here, and only here: the file TSGI_TESTING_ADDON names (the ASan and
// variant builds set it to theirs), else build/Release/tsgi_testing.node.
import * as path from 'node:path';
import { ROOT } from './index.js';

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

/** One event of fcgiDecode. */
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

/** One event of wsDecode. */
export interface WsEvent {
  type: 'frame' | 'data' | 'messageEnd' | 'ping' | 'pong' | 'close' | 'error' | 'incomplete';
  opcode?: number;
  /** The message's opcode (1 text, 2 binary); for an error, the error's text. */
  message?: number | string;
  fin?: boolean;
  rsv1?: boolean;
  /** A BigInt above 2^53. */
  length?: number | bigint;
  data?: Buffer;
  /** close: the code received (0: none); error: the code to close with. */
  code?: number;
  reason?: Buffer;
  error?: string;
  detail?: number | bigint;
  position?: number | bigint;
}

export interface WsLimits {
  maxFrame?: number | bigint;
  maxMessage?: number | bigint;
  allowRsv1?: boolean;
  requireMask?: boolean;
}

/** permessage-deflate's server config (native/proto/ws/extension.h). */
export interface WsDeflateConfig {
  enabled?: boolean;
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number;
  clientMaxWindowBits?: number;
  memLevel?: number;
}

export interface WsNegotiation {
  outcome: 'accepted' | 'noOffer' | 'declined' | 'malformed' | 'badConfig';
  response?: string;
  agreed?: Required<Omit<WsDeflateConfig, 'enabled'>>;
}

export interface WsInflateOpts {
  windowBits?: number;
  noContextTakeover?: boolean;
  maxMessage?: number;
  /** Check the inflated bytes as UTF-8. */
  text?: boolean;
  /** Free zlib's state after each message. */
  release?: boolean;
}

export interface WsDeflateOpts {
  windowBits?: number;
  memLevel?: number;
  level?: number;
  noContextTakeover?: boolean;
  release?: boolean;
}

/** One message's outcome: result is a TSGI_WS_DEFLATE_RESULTS name. */
export interface WsInflated {
  result: string;
  /** The close code for the result (0 for kOk). */
  code: number;
  data: Buffer;
  /** Bytes zlib held at the message's end. */
  memory: number;
}

export interface TestingBinding {
  parseHead(buf: Uint8Array, maxHead?: number, maxHeaders?: number, maxTarget?: number): ParsedHead;
  decodeChunked(buf: Uint8Array, pieceSize: number): {
    result: 'done' | 'again' | 'error'; body: Buffer; consumed: number; error?: string;
  };
  /** The uwsgi framer (native/napi/cgi_binding.cc), checked at every split. */
  parseUwsgi(buf: Uint8Array, maxBlock?: number, maxVars?: number): {
    result: 'ok' | 'again' | 'error'; error?: string; message?: string; detail?: number;
    headLen?: number; contentLength?: number | bigint; modifier1?: number; vars?: [string, string][];
  };
  /** The SCGI framer (native/napi/cgi_binding.cc), checked at every split. */
  parseScgi(buf: Uint8Array, maxBlock?: number, maxVars?: number): {
    result: 'ok' | 'again' | 'error'; error?: string; message?: string; detail?: number;
    headLen?: number; contentLength?: number | bigint; vars?: [string, string][];
  };
  /**
   * The FastCGI record layer (native/napi/fastcgi_binding.cc). Decodes buf whole
   * and in pieces of pieceSize (0/absent: byte by byte and every two-way split) and throws
   * unless all give the same events.
   */
  fcgiDecode(buf: Uint8Array, pieceSize?: number, limits?: { maxParams?: number; maxVars?: number }): FcgiEvent[];
  /** STDOUT (or STDERR) records for data, optionally padded to 8 and ended. */
  fcgiEncodeStdout(requestId: number, data: Uint8Array, pad: boolean, end?: boolean, stderr?: boolean): Buffer;
  /** An END_REQUEST record. */
  fcgiEndRequest(requestId: number, appStatus: number, protocolStatus: number): Buffer;
  /** An UNKNOWN_TYPE record. */
  fcgiUnknownType(type: number): Buffer;
  /** The GET_VALUES_RESULT answering a GET_VALUES query for these names. */
  fcgiGetValuesResult(names: string[], values: { maxConns?: number; maxReqs?: number; mpxsConns?: boolean },
    pad?: boolean): Buffer;
  /**
   * The WebSocket frame decoder (native/napi/ws_binding.cc). Decodes buf whole and in
   * pieces of pieceSize (0/absent: byte by byte and every two-way split) and throws
   * unless all give the same events.
   */
  wsDecode(buf: Uint8Array, pieceSize?: number, limits?: WsLimits): WsEvent[];
  /** A server frame header, or null for one no peer may receive. */
  wsHeader(opcode: number, fin: boolean, length: number | bigint, rsv1?: boolean): Buffer | null;
  /** A server frame: header and payload, or null. */
  wsFrame(opcode: number, fin: boolean, payload: Uint8Array, rsv1?: boolean): Buffer | null;
  /** A close frame (code 0: no body), the reason cut on a character boundary; or null. */
  wsClose(code: number, reason: Uint8Array): Buffer | null;
  /** How many bytes of s fit in max without cutting a UTF-8 sequence. */
  wsUtf8Prefix(s: Uint8Array, max: number): number;
  /** The WebSocket framer's errors, name -> text and close code, in enum order. */
  wsErrors(): Record<string, { text: string; code: number }>;
  /** SHA-1 of buf (native/proto/ws/handshake.cc), fed whole or in pieces of pieceSize. */
  wsSha1(buf: Uint8Array, pieceSize?: number): Buffer;
  /** Sec-WebSocket-Accept for a Sec-WebSocket-Key. */
  wsAccept(key: string): string;
  /** A Sec-WebSocket-Key is base64 of 16 bytes. */
  wsKeyValid(key: string): boolean;
  /** A Sec-WebSocket-Version is 13. */
  wsVersionValid(version: string): boolean;
  /** permessage-deflate negotiation over one or several Sec-WebSocket-Extensions values. */
  wsNegotiate(values: string | string[], config?: WsDeflateConfig): WsNegotiation;
  /** Messages (each an array of payload pieces) through one Inflater; stops at the first failure. */
  wsInflate(messages: (Uint8Array | Uint8Array[])[], opts?: WsInflateOpts): WsInflated[];
  /** One message inflated whole, byte by byte and split in two everywhere; throws unless all agree. */
  wsInflateSplits(payload: Uint8Array, opts?: WsInflateOpts): Omit<WsInflated, 'memory'>;
  /** Messages through one Deflater: each payload as sent with RSV1. */
  wsDeflate(messages: (Uint8Array | Uint8Array[])[], opts?: WsDeflateOpts): { result: string; data: Buffer; memory: number }[];
  /** TSGI_WS_DEFLATE_RESULTS: name -> text and close code. */
  wsDeflateResults(): Record<string, { text: string; code: number }>;
  /** The memory bounds deflate.h promises for these settings. */
  wsDeflateBounds(windowBits: number, memLevel: number): { deflate: number; inflate: number };
  /** Static files' rules (native/static/rules.h); strings are latin1. */
  staticCleanPath(path: Buffer | string, decode: boolean):
    { error: string } | { error?: undefined; path: string; trailingSlash: boolean; hidden: boolean };
  staticRange(value: string, size: number | bigint): 'ignore' | 'unsatisfiable' | Array<[number | bigint, number | bigint]>;
  staticPreconditions(fields: { ifMatch?: string; ifNoneMatch?: string; ifModifiedSince?: string;
    ifUnmodifiedSince?: string }, etag: string, mtime: number): number;
  staticIfRange(value: string, etag: string, mtime: number): boolean;
  /** available: bits 1 << 1 (gzip), 1 << 2 (br). */
  staticCoding(value: string | null, available: number): 'identity' | 'gzip' | 'br';
  staticParseDate(value: string): number | null;
  staticFormatDate(seconds: number): string;
  staticEtag(ino: number | bigint, size: number | bigint, mtimeNs: number | bigint): string;
}

/** The file the hooks are loaded from. */
export const TESTING_ADDON = process.env.TSGI_TESTING_ADDON
  ? path.resolve(process.env.TSGI_TESTING_ADDON)
  : path.join(ROOT, 'build', 'Release', 'tsgi_testing.node');

function load(): TestingBinding {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(TESTING_ADDON) as TestingBinding;
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new Error(`the test hooks' addon ${TESTING_ADDON} does not load (npm run build:native builds it): ${reason}`);
  }
}

export const hooks: TestingBinding = load();
