// The response: the writeHead, write, end and flushHeaders set on `res`, and
// the reply's headers read back from Node's store.
import { STATUS_CODES } from 'node:http';
import type { Chunk, HeaderList } from '../../tsgi/types.js';
import { kOutHeaders, nodeError } from './internals.js';
import { X, type Callback, type HeaderValue, type Res } from './shapes.js';

/** What `_header` holds once the head is decided: Node's own headersSent and setHeader read it. */
const HEAD_DECIDED = 'HTTP/1.1 (tsgi)\r\n\r\n';

function checkChunk(chunk: unknown): asserts chunk is string | Uint8Array {
  if (chunk === null) throw nodeError(TypeError, 'ERR_STREAM_NULL_VALUES', 'May not write null values to stream');
  if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
    throw nodeError(TypeError, 'ERR_INVALID_ARG_TYPE',
      `The "chunk" argument must be of type string or an instance of Buffer or Uint8Array. Received ${typeof chunk}`);
  }
}

/** A string stays a string (serve() sends it as UTF-8) unless another encoding is named. */
function toChunk(chunk: string | Uint8Array, encoding: unknown): Chunk {
  if (typeof chunk !== 'string') return chunk;
  if (encoding === undefined || encoding === null || encoding === 'utf8' || encoding === 'utf-8') return chunk;
  return Buffer.from(chunk, encoding as BufferEncoding);
}

function headersSentError(): Error {
  return nodeError(Error, 'ERR_HTTP_HEADERS_SENT', 'Cannot write headers after they are sent to the client');
}

/**
 * Node's writeHead, without building the header string: the status and the
 * headers are kept for the TSGI reply. Like Node, it sends nothing; the head
 * leaves with the first write, end() or flushHeaders(). All of Node's forms:
 * (status), (status, reason), (status, headers), (status, reason, headers),
 * headers as an object or an array ([k, v, k, v] or [[k, v], ...]). The
 * reason phrase is kept in statusMessage but not sent: TSGI replies carry
 * the status code only, and the server writes the standard phrase.
 */
export function resWriteHead(this: Res, statusCode: number, reason?: unknown, obj?: unknown): Res {
  if (this._header) throw headersSentError();
  const original = statusCode;
  statusCode |= 0;
  if (statusCode < 100 || statusCode > 999) {
    throw nodeError(RangeError, 'ERR_HTTP_INVALID_STATUS_CODE', `Invalid status code: ${String(original)}`);
  }
  if (typeof reason === 'string') {
    this.statusMessage = reason;
  } else {
    this.statusMessage ||= STATUS_CODES[statusCode] || 'unknown';
    obj ??= reason;
  }
  this.statusCode = statusCode;
  const x = this[X];
  if (obj !== undefined && obj !== null) {
    if (hasStoredHeaders(this)) mergeHeaders(this, obj);
    else x.given = obj;
  }
  x.status = statusCode;
  this._header = HEAD_DECIDED;
  return this;
}

export function hasStoredHeaders(res: Res): boolean {
  if (kOutHeaders !== undefined) return (res as unknown as Record<symbol, unknown>)[kOutHeaders] !== null;
  return res.getHeaderNames().length > 0;
}

/** writeHead's headers over those already set: they replace by name, an array may repeat a name. */
function mergeHeaders(res: Res, obj: unknown): void {
  if (Array.isArray(obj)) {
    const pairs = pairsOf(obj);
    for (const [k] of pairs) res.removeHeader(k);
    for (const [k, v] of pairs) if (k) res.appendHeader(k, v);
    return;
  }
  const o = obj as Record<string, HeaderValue>;
  for (const k of Object.keys(o)) if (k) res.setHeader(k, o[k]!);
}

function pairsOf(arr: readonly unknown[]): Array<[string, string | readonly string[]]> {
  const out: Array<[string, string | readonly string[]]> = [];
  if (arr.length > 0 && Array.isArray(arr[0])) {
    for (const p of arr as ReadonlyArray<readonly [string, HeaderValue]>) out.push([p[0], norm(p[1])]);
    return out;
  }
  if (arr.length % 2 !== 0) {
    throw nodeError(TypeError, 'ERR_INVALID_ARG_VALUE', 'The argument \'headers\' must have an even number of entries');
  }
  for (let i = 0; i < arr.length; i += 2) out.push([arr[i] as string, norm(arr[i + 1] as HeaderValue)]);
  return out;
}

function norm(v: HeaderValue): string | readonly string[] {
  return typeof v === 'string' || Array.isArray(v) ? v as string | readonly string[] : String(v);
}

export function resWrite(this: Res, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  if (typeof encoding === 'function') {
    cb = encoding;
    encoding = undefined;
  }
  checkChunk(chunk);
  const x = this[X];
  if (this.finished || x.destroyed) {
    x.refuse(this.finished
      ? nodeError(Error, 'ERR_STREAM_WRITE_AFTER_END', 'write after end')
      : nodeError(Error, 'ERR_STREAM_DESTROYED', 'Cannot call write after a stream was destroyed'),
    cb as Callback | undefined);
    return false;
  }
  if (!this._header) (this as unknown as { _implicitHeader(): void })._implicitHeader();
  return x.send(toChunk(chunk, encoding), cb as Callback | undefined);
}

export function resEnd(this: Res, chunk?: unknown, encoding?: unknown, cb?: unknown): Res {
  if (typeof chunk === 'function') {
    cb = chunk;
    chunk = undefined;
  } else if (typeof encoding === 'function') {
    cb = encoding;
    encoding = undefined;
  }
  if (chunk !== undefined && chunk !== null) checkChunk(chunk);
  const x = this[X];
  if (this.finished) {
    if (typeof cb === 'function') {
      if (!this.writableFinished) this.once('finish', cb as Callback);
      else process.nextTick(cb as Callback, nodeError(Error, 'ERR_STREAM_ALREADY_FINISHED',
        'Cannot call end after a stream was finished'));
    }
    return this;
  }
  if (x.destroyed) {
    if (typeof cb === 'function') process.nextTick(cb as Callback, nodeError(Error, 'ERR_STREAM_DESTROYED',
      'Cannot call end after a stream was destroyed'));
    return this;
  }
  if (!this._header) (this as unknown as { _implicitHeader(): void })._implicitHeader();
  this.finished = true;
  if (typeof cb === 'function') this.once('finish', cb as Callback);
  x.close(chunk === undefined || chunk === null ? undefined : toChunk(chunk as string | Uint8Array, encoding));
  return this;
}

/** Sends the head now, with no body yet (server-sent events, long polls). */
export function resFlushHeaders(this: Res): void {
  if (!this._header) (this as unknown as { _implicitHeader(): void })._implicitHeader();
  const x = this[X];
  if (!x.destroyed && !this.finished) x.send('', undefined);
}

export function refused(res: Res, err: Error, cb: Callback | undefined): void {
  cb?.(err);
  if (res.listenerCount('error') > 0) res.emit('error', err);
}

/** writeHead's headers as a TSGI header list (nothing set with setHeader before). */
export function givenHeaders(given: unknown): HeaderList {
  if (Array.isArray(given)) {
    const pairs = pairsOf(given);
    const dropLength = pairs.some(([k]) => k.length === 17 && k.toLowerCase() === 'transfer-encoding');
    const out: Array<[string, string]> = [];
    for (const [k, v] of pairs) {
      if (!k || (dropLength && k.length === 14 && k.toLowerCase() === 'content-length')) continue;
      if (typeof v === 'string') out.push([k, v]);
      else for (const one of v) out.push([k, String(one)]);
    }
    return out;
  }
  const o = given as Record<string, HeaderValue>;
  let te = false;
  for (const k in o) if (k.length === 17 && k.toLowerCase() === 'transfer-encoding') te = true;
  if (!te) return o as HeaderList;
  const out: Record<string, HeaderValue> = {};
  for (const k in o) if (!(k.length === 14 && k.toLowerCase() === 'content-length')) out[k] = o[k]!;
  return out as HeaderList;
}

/** The headers set with setHeader, by Node's public methods (when kOutHeaders is not found). */
export function publicHeaders(res: Res): HeaderList {
  const names = (res as unknown as { getRawHeaderNames(): string[] }).getRawHeaderNames();
  const dropLength = res.hasHeader('transfer-encoding');
  const out: Record<string, HeaderValue> = {};
  for (const name of names) {
    if (dropLength && name.toLowerCase() === 'content-length') continue;
    const v = res.getHeader(name);
    if (v !== undefined) out[name] = v as HeaderValue;
  }
  return out as HeaderList;
}
