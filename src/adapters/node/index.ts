// The Node request-listener adapter: runs an app written for node:http
// (Express, Koa, Fastify, a plain `(req, res)` listener) as a TSGI App.
//
// `req` and `res` are real http.IncomingMessage and http.ServerResponse
// objects: frameworks check `instanceof` and Express swaps their prototypes
// for its own (which inherit from those classes), so the adapter cannot rely
// on a subclass. What it changes is set on each instance as own properties
// that point at shared module functions (no closure per request): on `req`,
// `_read` and `_destroy` (the hooks Readable itself lets options set); on
// `res`, `writeHead`, `write`, `end` and `flushHeaders`. Everything else is
// Node's own code: setHeader and friends, `headersSent` (from `_header`),
// `writableEnded` and `writableLength` (from the socket). `writableFinished`
// becomes an own `true` when the adapter emits 'finish': Node 20 and 22
// compute it from the socket, Node 24 reads a private flag that only Node's
// own finishing sets.
//
// The socket is one small object per request, an `Exchange`, which also
// holds the reply's state: the head, the TSGI promise, the queue of written
// chunks that the server pulls as an async iterable. Backpressure follows
// the server: a chunk leaves the queue only when the server asks for the
// next one, which it does once the client took the previous one.
//
// Its files: internals.ts finds Node's private symbols and makes Node's
// errors; request.ts and response.ts are the functions set on `req` and
// `res`; exchange.ts is the socket and the reply's state; reply-stream.ts the
// streamed body serve() pulls; listener.ts and frameworks.ts the adapters;
// upgrade.ts the request of an 'upgrade' event (tsgi/http's server).
export { fromNodeListener } from './listener.js';
export { fromNodeApp, nodeAppHooks } from './frameworks.js';
export { upgradeRequest } from './upgrade.js';
