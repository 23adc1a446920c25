// tsgi/http: a node:http-compatible server on tsgi's core, for apps that
// call http.createServer(app).listen(port) (Express's and Koa's app.listen(),
// ws's and socket.io's servers over an http.Server). What differs from
// node:http is listed in docs/adapters.md.
export { createServer, Server } from './server.js';
export type { RequestListener, ServerOptions } from './server.js';
