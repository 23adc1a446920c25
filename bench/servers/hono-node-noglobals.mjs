// Hono hello world on @hono/node-server with overrideGlobalObjects: false: undici's own
// Request and Response, as tsgi's fetch adapter uses them. PORT from the environment (default 8006).
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const port = Number(process.env.PORT ?? 8006);
const app = new Hono();
app.get('/', (c) => c.text('Hello, World!\n'));

const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1', overrideGlobalObjects: false }, () => {
  process.stdout.write(`ready ${port}\n`);
});
// wrk keeps its connections open for the whole run; no timeouts in the way.
server.keepAliveTimeout = 60_000;

const stop = () => { server.close(); server.closeAllConnections(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
