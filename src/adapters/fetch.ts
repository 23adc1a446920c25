// Fetch-API handlers (Hono, `export default { fetch }`) as TSGI apps: the
// TSGI request becomes a global Request, the Response a TSGI reply.
import type { App, Chunk, Reply, Request as TsgiRequest } from '../tsgi/types.js';

/** What a fetch handler gets as its second argument: Hono's `c.env`. */
export interface FetchEnv {
  readonly tsgi: TsgiRequest;
}

// Handler argument types stay loose: Hono's `fetch` takes (request, env?, ctx?).
/* eslint-disable @typescript-eslint/no-explicit-any */
export type FetchHandler = (request: Request, ...rest: any[]) => Response | Promise<Response>;
export type FetchApp = FetchHandler | { fetch: FetchHandler };

const NO_BODY_METHODS = new Set(['GET', 'HEAD']);

function urlOf(req: TsgiRequest): string {
  const scheme = req.tsgi.url_scheme;
  const host = req.header('host') ?? `${req.SERVER_NAME}:${req.SERVER_PORT}`;
  let target = req.REQUEST_URI;
  if (target === '' || target[0] !== '/') {
    target = req.SCRIPT_NAME + req.PATH_INFO + (req.QUERY_STRING === '' ? '' : '?' + req.QUERY_STRING);
  }
  return `${scheme}://${host}${target}`;
}

function bodyStream(req: TsgiRequest): ReadableStream<Uint8Array> {
  let it: AsyncIterator<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      it ??= req.body[Symbol.asyncIterator]();
      const r = await it.next();
      if (r.done) controller.close();
      else controller.enqueue(r.value);
    },
    async cancel() {
      await it?.return?.();
    },
  });
}

function toRequest(req: TsgiRequest): Request {
  const method = req.REQUEST_METHOD;
  const init: RequestInit & { duplex?: 'half' } = { method, headers: req.headers as [string, string][], signal: req.signal };
  if (!NO_BODY_METHODS.has(method) && !req.body.done) {
    init.body = bodyStream(req);
    init.duplex = 'half';
  }
  return new Request(urlOf(req), init);
}

async function* streamBody(body: ReadableStream<Uint8Array>): AsyncGenerator<Chunk> {
  const reader = body.getReader();
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) return;
      yield r.value;
    }
  } finally {
    reader.releaseLock();
  }
}

function toReply(res: Response): Reply {
  const headers: Array<[string, string]> = [];
  for (const [name, value] of res.headers) {
    if (name !== 'set-cookie') headers.push([name, value]);
  }
  for (const cookie of res.headers.getSetCookie()) headers.push(['set-cookie', cookie]);
  return { status: res.status, headers, body: res.body === null ? undefined : streamBody(res.body) };
}

/** Whether `x` is an object with a `fetch` method (a Hono app, `export default { fetch }`). */
export function isFetchApp(x: unknown): boolean {
  return x !== null && (typeof x === 'object' || typeof x === 'function') &&
    typeof (x as { fetch?: unknown }).fetch === 'function';
}

/** A fetch handler, or an object with a `fetch` method, as a TSGI app. */
export function fromFetch(handler: FetchApp): App {
  const call: FetchHandler = typeof handler === 'function'
    ? handler
    : (request, env) => handler.fetch(request, env);
  return (req) => {
    const env: FetchEnv = { tsgi: req };
    const res = call(toRequest(req), env);
    return res instanceof Response ? toReply(res) : Promise.resolve(res).then(toReply);
  };
}
