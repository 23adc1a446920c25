// The request node:http's 'upgrade' event hands over: an IncomingMessage
// with the request's method, URL, version and headers over the connection
// the reply took. Its body is no stream of its own: whatever follows the
// head comes as the socket's data.
import { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Request } from '../../tsgi/types.js';
import { appTarget } from '../target.js';
import { setHeaders, setVersion } from './request.js';
import type { Req } from './shapes.js';

/** An ended IncomingMessage for `treq` whose `socket` is the connection taken by a tunnel reply. */
export function upgradeRequest(treq: Request, socket: unknown): IncomingMessage {
  const req = new IncomingMessage(socket as Socket) as Req;
  req.method = treq.REQUEST_METHOD;
  req.url = appTarget(treq);
  setVersion(req, treq.SERVER_PROTOCOL);
  setHeaders(req, treq);
  (req as { upgrade?: boolean }).upgrade = true;
  req.complete = true;
  req.push(null);
  return req;
}
