import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../../tsgi/types.js';
import { Exchange } from './exchange.js';

/**
 * A node:http request listener as a TSGI App. The App's reply is decided
 * when the head is: at the first write() or flushHeaders() (the body then
 * streams as the app writes), or at end(). end() with the whole body before
 * any write() makes a plain reply, sent with Content-Length in one go; when
 * the listener does that synchronously (Express, Fastify with sync handlers)
 * the App answers synchronously too. A listener that throws, or whose
 * returned promise rejects before it answered, gets a 500 from the server.
 */
export function fromNodeListener(listener: (req: IncomingMessage, res: ServerResponse) => unknown): App {
  if (typeof listener !== 'function') throw new TypeError('fromNodeListener needs a (req, res) function');
  return (treq) => new Exchange(treq).run(listener);
}
