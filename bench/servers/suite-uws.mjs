// uWebSockets.js (the published build @trufflesuite/uws-js-unofficial, a
// bench-only devDependency) answering the suite's HTTP routes that it runs:
// GET /, /plaintext, /16k, /1m, /api/users/:id and POST /echo, the same bytes
// as servers/suite-app.mjs. /echo counts the body's bytes as they come
// (onData's views are valid only during the call): uWS's own idiom.
// uWS adds Date and its own uWebSockets header to every reply. PORT from the
// environment (default 8013).
import { createRequire } from 'node:module';
import { BODY_16K, BODY_1M, HELLO, PLAINTEXT, user } from './suite-app.mjs';

const require = createRequire(import.meta.url);
const uWS = require('@trufflesuite/uws-js-unofficial');

const port = Number(process.env.PORT ?? 8013);

let listenSocket = null;
uWS.App()
  .get('/', (res) => {
    res.cork(() => res.writeHeader('content-type', 'text/plain').end(HELLO));
  })
  .get('/plaintext', (res) => {
    res.cork(() => res.writeHeader('content-type', 'text/plain').writeHeader('server', 'bench').end(PLAINTEXT));
  })
  .get('/16k', (res) => {
    res.cork(() => res.writeHeader('content-type', 'text/plain').end(BODY_16K));
  })
  .get('/1m', (res) => {
    res.cork(() => res.writeHeader('content-type', 'text/plain').end(BODY_1M));
  })
  .post('/echo', (res) => {
    let n = 0;
    let aborted = false;
    res.onAborted(() => { aborted = true; });
    res.onData((chunk, last) => {
      n += chunk.byteLength;
      if (last && !aborted) res.cork(() => res.writeHeader('content-type', 'text/plain').end(String(n)));
    });
  })
  .get('/api/users/:id', (res, req) => {
    const body = JSON.stringify(user(Number(req.getParameter(0))));
    res.cork(() => res.writeHeader('content-type', 'application/json').end(body));
  })
  .any('/*', (res) => {
    res.cork(() => res.writeStatus('404 Not Found').writeHeader('content-type', 'text/plain').end('not found\n'));
  })
  .listen('127.0.0.1', port, (socket) => {
    if (!socket) {
      process.stderr.write(`suite-uws: cannot listen on 127.0.0.1:${port}\n`);
      process.exit(1);
    }
    listenSocket = socket;
    process.stdout.write(`ready ${uWS.us_socket_local_port(socket)}\n`);
  });

const stop = () => {
  if (listenSocket) uWS.us_listen_socket_close(listenSocket);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
