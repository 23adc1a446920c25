// The Node request-listener adapter: runs an app written for node:http
// (Express, Koa, Fastify, a plain (req, res) listener) as a TSGI App.
// Work in progress: the full implementation follows.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../tsgi/types.js';

/** Adapts a node:http request listener to a TSGI App. */
export function fromNodeListener(listener: (req: IncomingMessage, res: ServerResponse) => unknown): App {
  void listener;
  return () => { throw new Error('fromNodeListener: not implemented yet'); };
}

/** Adapts an Express app, a Koa app, a Fastify instance or a (req, res) listener; undefined otherwise. */
export function fromNodeApp(x: unknown): App | undefined {
  if (typeof x === 'function' && x.length >= 2) return fromNodeListener(x as (req: IncomingMessage, res: ServerResponse) => unknown);
  return undefined;
}
