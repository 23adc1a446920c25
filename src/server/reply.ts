// Turns the app's reply headers into the one header block the core frames.
// The server owns framing and the connection: the app's Content-Length is
// taken as a promise the core enforces, Transfer-Encoding and the hop-by-hop
// fields are dropped (RFC 9110 7.6.1), `Connection: close` becomes a flag.
import { TsgiError } from '../errors.js';
import type { HeaderList } from '../tsgi/types.js';

// RFC 9110 5.1 (token) and 5.5 (field-value: VCHAR, obs-text, SP, HTAB).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

export interface EncodedHeaders {
  block: string;
  contentLength: number;  // -1 if the app gave none
  close: boolean;
  hasDate: boolean;
  hasLocation: boolean;
  /** The app set Content-Type. */
  hasType: boolean;
  /** X-Sendfile's path or X-Accel-Redirect's URL, when the core serves offloads (the field is not in `block`). */
  offload?: string;
  /** offload came from X-Accel-Redirect. */
  accel?: boolean;
  /** The core serves X-Sendfile and X-Accel-Redirect (--offload-root): take them out of the block. */
  offloading: boolean;
}

// What a reply field means to the server (fieldRole).
export const KEEP = 0, DROP = 1, CLOSE = 2, LENGTH = 3, DATE = 4, LOCATION = 5;

/**
 * Validates one field (a name that is not a token, or a value with a control
 * character, throws: no split reply) and says what it is to the server. Only
 * names of the lengths below need a second look. Shared by serve() and
 * toNodeListener, so both servers keep and drop the same fields.
 */
export function fieldRole(name: string, value: string): number {
  if (!TOKEN.test(name)) throw new TsgiError('TSGI_ERR_REPLY_HEADER', JSON.stringify(name));
  if (BAD_VALUE.test(value)) throw new TsgiError('TSGI_ERR_REPLY_HEADER', `value of ${name}`);
  switch (name.length) {
    case 4:
      return name.toLowerCase() === 'date' ? DATE : KEEP;
    case 8:
      return name.toLowerCase() === 'location' ? LOCATION : KEEP;
    case 2:
      return name.toLowerCase() === 'te' ? DROP : KEEP;
    case 7: {
      const lower = name.toLowerCase();
      return lower === 'upgrade' || lower === 'trailer' ? DROP : KEEP;
    }
    case 10: {
      const lower = name.toLowerCase();
      // Of Connection, only "close" means something: it ends the connection.
      if (lower === 'connection') return /(^|,)\s*close\s*(,|$)/i.test(value) ? CLOSE : DROP;
      return lower === 'keep-alive' ? DROP : KEEP;
    }
    case 14:
      if (name.toLowerCase() !== 'content-length') return KEEP;
      if (!/^\d{1,15}$/.test(value.trim())) throw new TsgiError('TSGI_ERR_REPLY_HEADER', `Content-Length ${JSON.stringify(value)}`);
      return LENGTH;
    case 16:
      return name.toLowerCase() === 'proxy-connection' ? DROP : KEEP;
    case 17:
      return name.toLowerCase() === 'transfer-encoding' ? DROP : KEEP;
    default:
      return KEEP;
  }
}

/**
 * Calls fn(ctx, name, value) for each field of a HeaderList, in order;
 * undefined values skipped, arrays spread. A context argument rather than a
 * closure: no function object per reply.
 */
export function eachHeader<T>(headers: HeaderList | undefined, ctx: T, fn: (ctx: T, name: string, value: string) => void): void {
  if (headers === undefined || headers === null) return;
  if (Array.isArray(headers)) {
    for (const pair of headers as ReadonlyArray<readonly [string, string]>) fn(ctx, pair[0], String(pair[1]));
    return;
  }
  const record = headers as Readonly<Record<string, string | number | ReadonlyArray<string> | undefined>>;
  for (const name in record) {
    const value = record[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      for (const v of value as ReadonlyArray<string>) fn(ctx, name, String(v));
    } else {
      fn(ctx, name, String(value));
    }
  }
}

function add(out: EncodedHeaders, name: string, value: string): void {
  const role = fieldRole(name, value);
  if (out.offloading && role === KEEP && (name.length === 10 || name.length === 16 || name.length === 12)) {
    const lower = name.toLowerCase();
    if (lower === 'x-sendfile' || lower === 'x-accel-redirect') {
      out.offload = value.trim();
      out.accel = lower === 'x-accel-redirect';
      return;
    }
    if (lower === 'content-type') out.hasType = true;
  }
  switch (role) {
    case DROP: return;
    case CLOSE: out.close = true; return;
    // The core writes it, from the length it actually sends.
    case LENGTH: out.contentLength = Number(value.trim()); return;
    case DATE: out.hasDate = true; break;
    case LOCATION: out.hasLocation = true; break;
  }
  out.block += name + ': ' + value + '\r\n';
}

export function encodeHeaders(headers: HeaderList | undefined, offloading = false): EncodedHeaders {
  const out: EncodedHeaders = { block: '', contentLength: -1, close: false, hasDate: false, hasLocation: false,
    hasType: false, offloading };
  eachHeader(headers, out, add);
  return out;
}

export const INTERNAL_ERROR_BODY = 'Internal Server Error\n';
