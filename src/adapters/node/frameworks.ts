// What the Node adapter recognises: a Fastify instance, a Koa app, an
// Express app or a plain `(req, res)` listener.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../../tsgi/types.js';
import { fromNodeListener } from './listener.js';
import type { Listener } from './shapes.js';

interface FastifyLike {
  routing(req: IncomingMessage, res: ServerResponse): void;
  ready(): PromiseLike<unknown>;
}

/** A Fastify instance: its public `routing(req, res)`, after `ready()` once. */
function fromFastify(f: FastifyLike): App {
  const app = fromNodeListener((req, res) => f.routing(req, res));
  let ready: Promise<void> | undefined;
  let isReady = false;
  return (treq) => {
    if (isReady) return app(treq);
    ready ??= (async () => {
      await f.ready();
      isReady = true;
    })();
    return ready.then(() => app(treq));
  };
}

/**
 * Recognises what the Node adapter can run and adapts it: a Fastify
 * instance (`routing` and `ready` functions), a Koa app (`callback()`), a
 * function of two or more parameters (an Express app, a plain listener).
 * Anything else: undefined.
 */
export function fromNodeApp(x: unknown): App | undefined {
  if (x === null || (typeof x !== 'object' && typeof x !== 'function')) return undefined;
  const o = x as Record<string, unknown>;
  if (typeof o.routing === 'function' && typeof o.ready === 'function') return fromFastify(o as unknown as FastifyLike);
  if (typeof x === 'object' && typeof o.callback === 'function') {
    return fromNodeListener((o.callback as () => Listener)());
  }
  if (typeof x === 'function' && x.length >= 2) return fromNodeListener(x as Listener);
  return undefined;
}
