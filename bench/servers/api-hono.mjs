// Hono 4 with the suite's JSON route (GET /api/users/:id, servers/suite-app.mjs)
// and its hello world, on @hono/node-server (SERVER=node) or on tsgi through
// fromFetch (SERVER=tsgi). PORT from the environment. GLOBALS=1 replaces the
// global Response on tsgi (fromFetch's overrideGlobalObjects, off by default);
// GLOBALS=0 keeps undici's on @hono/node-server (its overrideGlobalObjects,
// on by default): the two servers can be compared like with like.
import { createRequire } from 'node:module';
import { Hono } from 'hono';
import { HELLO, user } from './suite-app.mjs';

const port = Number(process.env.PORT ?? 8008);
const app = new Hono();
app.get('/', (c) => c.text(HELLO));
app.get('/api/users/:id', (c) => c.json(user(Number(c.req.param('id')))));

let stop;
if (process.env.SERVER === 'tsgi') {
  const require = createRequire(import.meta.url);
  const root = (process.env.TSGI_ROOT ?? new URL('../..', import.meta.url).pathname).replace(/\/$/, '');
  const { serve, fromFetch } = require(`${root}/dist/index.js`);
  const server = serve(fromFetch(app, { overrideGlobalObjects: process.env.GLOBALS === '1' }), { listen: `127.0.0.1:${port}` });
  stop = () => { server.close(1000).then(() => process.exit(0)); };
  process.stdout.write(`ready ${port}\n`);
} else {
  const { serve } = await import('@hono/node-server');
  const overrideGlobalObjects = process.env.GLOBALS !== '0';
  const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1', overrideGlobalObjects }, () => process.stdout.write(`ready ${port}\n`));
  server.keepAliveTimeout = 60_000;
  stop = () => { server.close(); server.closeAllConnections(); process.exit(0); };
}
process.on('SIGTERM', () => stop());
process.on('SIGINT', () => stop());
