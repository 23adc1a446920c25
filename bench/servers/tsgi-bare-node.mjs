// The TSGI hello world of servers/tsgi.mjs, served by node:http through
// toNodeListener. PORT from the environment (default 8005).
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const root = process.env.TSGI_ROOT ?? new URL('../..', import.meta.url).pathname;
const { toNodeListener } = require(`${root.replace(/\/$/, '')}/dist/index.js`);

const port = Number(process.env.PORT ?? 8005);
const BODY = 'Hello, World!\n';
const HEADERS = { 'content-type': 'text/plain' };

const server = http.createServer(toNodeListener(() => ({ status: 200, headers: HEADERS, body: BODY })));
// wrk keeps its connections open for the whole run; no timeouts in the way.
server.keepAliveTimeout = 60_000;

server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));
const stop = () => { server.close(); server.closeAllConnections(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
