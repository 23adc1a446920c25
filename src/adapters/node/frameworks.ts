// What the Node adapter recognises: a Fastify instance, a Koa app, an
// Express app or a plain `(req, res)` listener.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App, Lifecycle } from '../../tsgi/types.js';
import { fromNodeListener } from './listener.js';
import type { Listener } from './shapes.js';

interface FastifyLike {
  routing(req: IncomingMessage, res: ServerResponse): void;
  ready(): PromiseLike<unknown>;
  close?(): PromiseLike<unknown>;
}

function isFastify(o: Record<string, unknown>): boolean {
  return typeof o.routing === 'function' && typeof o.ready === 'function';
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
  if (isFastify(o)) return fromFastify(o as unknown as FastifyLike);
  if (typeof x === 'object' && typeof o.callback === 'function') {
    return fromNodeListener((o.callback as () => Listener)());
  }
  if (typeof x === 'function' && x.length >= 2) return fromNodeListener(x as Listener);
  return undefined;
}

/**
 * The lifecycle a Node app brings (TSGI 1.1 section 1.1): a Fastify
 * instance's ready() at startup (its plugins load before the first request)
 * and close() at shutdown (its onClose hooks run); an app that is an
 * EventEmitter (Koa, Express) gets the 'close' event its node:http server
 * would have emitted. undefined for a plain listener.
 */
export function nodeAppHooks(x: unknown): Lifecycle | undefined {
  if (x === null || (typeof x !== 'object' && typeof x !== 'function')) return undefined;
  const o = x as Record<string, unknown>;
  if (isFastify(o)) {
    const f = o as unknown as FastifyLike;
    return { startup: () => f.ready(), ...(typeof f.close === 'function' ? { shutdown: () => f.close!() } : {}) };
  }
  if (typeof o.emit === 'function' && typeof o.on === 'function') {
    return { shutdown: () => void (o.emit as (e: string) => boolean).call(x, 'close') };
  }
  return undefined;
}
