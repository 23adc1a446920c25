// The shapes the adapter's files share: Node's objects with the fields the
// adapter reads or sets, and the symbol that links each to its Exchange.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Exchange } from './exchange.js';

export type Listener = (req: IncomingMessage, res: ServerResponse) => unknown;
export type Callback = (err?: Error | null) => void;
export type HeaderValue = string | number | readonly string[];

export const X = Symbol('tsgi.exchange');

/** The fields of Node's objects the adapter reads or sets (long-standing ones; internals.ts probes the private ones). */
export type Req = IncomingMessage & {
  [X]: Exchange;
  _consuming: boolean;
  _readableState: { readingMore: boolean };
  _read(size: number): void;
  _destroy(err: Error | null, cb: Callback): void;
};
export type Res = ServerResponse & {
  [X]: Exchange;
  _header: string | null;
  finished: boolean;
};
