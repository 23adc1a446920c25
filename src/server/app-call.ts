// The app's step of a request, shared by serve() and toNodeListener: call the
// app, hand its reply on when it is ready, and answer its errors the same way.
import { TsgiError } from '../errors.js';
import type { App, Reply, Request } from '../tsgi/types.js';
import { INTERNAL_ERROR_BODY } from './reply.js';

/**
 * run(req): the app called on req, its reply (returned, or resolved) given
 * to `send`, any error (thrown by either, or rejected) to `fail`. Made once
 * per server, so per request it costs what a run() written inside the server
 * would: req's closure context, and the two callbacks of a promise's then().
 * Returns true when the reply is still pending (the app returned a promise).
 */
export function appRunner<R extends Request>(app: App, send: (req: R, reply: Reply) => void,
  fail: (req: R, err: unknown) => void): (req: R) => boolean {
  return (req) => {
    try {
      const result = app(req);
      if (result !== null && typeof result === 'object' && typeof (result as Promise<Reply>).then === 'function') {
        (result as Promise<Reply>).then(
          (reply) => {
            try {
              send(req, reply);
            } catch (err) {
              fail(req, err);
            }
          },
          (err) => fail(req, err),
        );
        return true;
      }
      send(req, result as Reply);
    } catch (err) {
      fail(req, err);
    }
    return false;
  };
}

/**
 * Logs an error of the app's and returns the status that answers it. A
 * TsgiError that says the request was at fault (a body over the reader's
 * limit, bad JSON) keeps its own 4xx; anything else is the app's fault: 500.
 */
export function logAppError(log: (line: string) => void, req: Request, err: unknown): number {
  const status = err instanceof TsgiError && err.status >= 400 && err.status < 500 ? err.status : 500;
  // A client's mistake is one line (it comes at request rate, and a stack
  // would show install paths); a stack only for the app's own failure.
  const detail = status !== 500 ? (err as TsgiError).message
    : err instanceof Error ? (err.stack ?? err.message) : String(err);
  log(`${status === 500 ? 'app error' : `answered ${status}`} on ${req.REQUEST_METHOD} ${req.REQUEST_URI}: ${detail}`);
  return status;
}

/** The text/plain body of that answer: a 4xx's own message, never a 500's error text or a stack. */
export function appErrorBody(status: number, err: unknown): string {
  return status === 500 ? INTERNAL_ERROR_BODY : `${err instanceof TsgiError ? err.message : ''}\n`;
}
