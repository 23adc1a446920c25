// The request: `req`'s version and headers from the TSGI request, and the
// `_read` and `_destroy` hooks set on it.
import type { IncomingMessage } from 'node:http';
import type { Request } from '../../tsgi/types.js';
import { kHeadersCount } from './internals.js';
import { X, type Callback, type Req } from './shapes.js';

export function setVersion(req: Req, protocol: string): void {
  let major = 1, minor = protocol === 'HTTP/1.1' ? 1 : 0;
  if (protocol !== 'HTTP/1.1' && protocol !== 'HTTP/1.0') {
    const m = /^HTTP\/(\d)(?:\.(\d))?$/.exec(protocol);
    if (m) {
      major = Number(m[1]);
      minor = Number(m[2] ?? 0);
    }
  }
  req.httpVersionMajor = major;
  req.httpVersionMinor = minor;
  req.httpVersion = major === 1 ? (minor === 1 ? '1.1' : '1.0') : `${major}.${minor}`;
}

/**
 * rawHeaders from the request's fields; `headers` is left to Node's lazy
 * getter (joined as Node joins them: set-cookie an array, cookie with "; ",
 * duplicates of single-valued fields dropped). Over uwsgi, SCGI and FastCGI
 * Content-Type and Content-Length are CGI variables, not HTTP_* ones.
 */
export function setHeaders(req: Req, treq: Request): void {
  const list = treq.headers;
  const raw: string[] = [];
  let hasType = false, hasLength = false;
  for (let i = 0; i < list.length; i++) {
    const pair = list[i]!;
    raw.push(pair[0], pair[1]);
  }
  if (treq.tsgi.protocol !== 'http') {
    for (let i = 0; i < raw.length; i += 2) {
      const n = raw[i]!;
      if (n === 'content-type') hasType = true;
      else if (n === 'content-length') hasLength = true;
    }
    const type = treq.CONTENT_TYPE;
    if (type !== '' && !hasType) raw.push('content-type', type);
    const length = treq.CONTENT_LENGTH;
    if (length !== '' && !hasLength) raw.push('content-length', length);
    // A FastCGI body of unknown length: say so as Node would see a chunked
    // one, so body parsers (type-is's hasBody) read it.
    else if (length === '' && !hasLength && treq.tsgi.protocol === 'fastcgi' && !treq.body.done) {
      raw.push('transfer-encoding', 'chunked');
    }
  }
  req.rawHeaders = raw;
  if (kHeadersCount !== undefined) {
    (req as unknown as Record<symbol, number>)[kHeadersCount] = raw.length;
  } else {
    const dst: Record<string, string | string[]> = {};
    const add = (req as unknown as { _addHeaderLine?: (f: string, v: string, d: object) => void })._addHeaderLine;
    for (let i = 0; i < raw.length; i += 2) {
      if (typeof add === 'function') {
        add.call(req, raw[i]!, raw[i + 1]!, dst);
      } else {
        const k = raw[i]!.toLowerCase();
        const prev = dst[k];
        if (k === 'set-cookie') dst[k] = [...(prev ?? []), raw[i + 1]!];
        else dst[k] = prev === undefined ? raw[i + 1]! : `${prev as string}${k === 'cookie' ? '; ' : ', '}${raw[i + 1]!}`;
      }
    }
    req.headers = dst as IncomingMessage['headers'];
  }
}

/** Readable's _read: pull one chunk of the TSGI body per call (Readable asks again when it wants more). */
export function reqRead(this: Req): void {
  if (!this._consuming) {
    this._readableState.readingMore = false;
    this._consuming = true;
  }
  void this[X].readBody();
}

/**
 * Like IncomingMessage's: destroying an incomplete request marks it
 * aborted, and the error is only emitted when someone listens for it. Node
 * also destroys the socket then; here that ends the reply the same way.
 */
export function reqDestroy(this: Req, err: Error | null, cb: Callback): void {
  const x = this[X];
  if (!x.quiet && (!this.readableEnded || !this.complete)) {
    this.aborted = true;
    this.emit('aborted');
  }
  if (this.aborted && !x.destroyed && !x.quiet) x.destroy(err ?? undefined);
  process.nextTick(reqDestroyed, this, err, cb);
}

function reqDestroyed(req: Req, err: Error | null, cb: Callback): void {
  cb(err !== null && req.listenerCount('error') > 0 ? err : undefined);
}
