// Node internals, found and checked once, and errors with Node's codes.
//
// IncomingMessage builds `headers` lazily from `rawHeaders` and a count kept
// under a symbol (kHeadersCount); ServerResponse keeps its headers under
// kOutHeaders as { lower: [name, value] }. Both are private to Node, so each
// is looked up and tried on a probe here; without them the adapter takes the
// public road (builds `headers` eagerly, reads the headers back by name).
import { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

function findSymbol(obj: object, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(obj).find((s) => s.description === description);
}

export const kHeadersCount = ((): symbol | undefined => {
  const probe = new IncomingMessage(null as unknown as Socket);
  const k = findSymbol(probe, 'kHeadersCount');
  if (k === undefined) return undefined;
  probe.rawHeaders = ['Set-Cookie', 'a', 'set-cookie', 'b', 'X-One', '1', 'x-one', '2'];
  (probe as unknown as Record<symbol, number>)[k] = 8;
  const h = probe.headers;
  const ok = Array.isArray(h['set-cookie']) && h['set-cookie'].join() === 'a,b' && h['x-one'] === '1, 2';
  return ok ? k : undefined;
})();

export const kOutHeaders = ((): symbol | undefined => {
  const probe = new ServerResponse(new IncomingMessage(null as unknown as Socket));
  const k = findSymbol(probe, 'kOutHeaders');
  if (k === undefined) return undefined;
  probe.setHeader('X-Probe', ['a', 'b']);
  const store = (probe as unknown as Record<symbol, Record<string, [string, unknown]> | null>)[k];
  const entry = store?.['x-probe'];
  return Array.isArray(entry) && entry[0] === 'X-Probe' && Array.isArray(entry[1]) ? k : undefined;
})();

/** An error with Node's code: apps and frameworks test `err.code`. */
export function nodeError(Kind: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor, code: string,
  message: string): Error & { code: string } {
  const err = new Kind(message) as Error & { code: string };
  err.code = code;
  return err;
}
