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
}

function add(out: EncodedHeaders, name: string, value: string): void {
  if (!TOKEN.test(name)) throw new TsgiError('TSGI_ERR_REPLY_HEADER', JSON.stringify(name));
  if (BAD_VALUE.test(value)) throw new TsgiError('TSGI_ERR_REPLY_HEADER', `value of ${name}`);
  switch (name.length) {
    case 4:
      if (name.toLowerCase() === 'date') out.hasDate = true;
      break;
    case 8:
      if (name.toLowerCase() === 'location') out.hasLocation = true;
      break;
    case 2:
      if (name.toLowerCase() === 'te') return;
      break;
    case 7: {
      const lower = name.toLowerCase();
      if (lower === 'upgrade' || lower === 'trailer') return;
      break;
    }
    case 10: {
      const lower = name.toLowerCase();
      if (lower === 'connection') {
        if (/(^|,)\s*close\s*(,|$)/i.test(value)) out.close = true;
        return;
      }
      if (lower === 'keep-alive') return;
      break;
    }
    case 14:
      if (name.toLowerCase() === 'content-length') {
        const v = value.trim();
        if (!/^\d{1,15}$/.test(v)) throw new TsgiError('TSGI_ERR_REPLY_HEADER', `Content-Length ${JSON.stringify(value)}`);
        out.contentLength = Number(v);
        return;  // the core writes it, from the length it actually sends
      }
      break;
    case 16:
      if (name.toLowerCase() === 'proxy-connection') return;
      break;
    case 17:
      if (name.toLowerCase() === 'transfer-encoding') return;
      break;
  }
  out.block += name + ': ' + value + '\r\n';
}

export function encodeHeaders(headers: HeaderList | undefined): EncodedHeaders {
  const out: EncodedHeaders = { block: '', contentLength: -1, close: false, hasDate: false, hasLocation: false };
  if (headers === undefined || headers === null) return out;
  if (Array.isArray(headers)) {
    for (const pair of headers as ReadonlyArray<readonly [string, string]>) {
      add(out, pair[0], String(pair[1]));
    }
    return out;
  }
  const record = headers as Readonly<Record<string, string | number | ReadonlyArray<string> | undefined>>;
  for (const name in record) {
    const value = record[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      for (const v of value as ReadonlyArray<string>) add(out, name, String(v));
    } else {
      add(out, name, String(value));
    }
  }
  return out;
}

export const INTERNAL_ERROR_BODY = 'Internal Server Error\n';
