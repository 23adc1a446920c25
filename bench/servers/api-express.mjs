// Express 5 with the suite's JSON route (GET /api/users/:id, servers/suite-app.mjs)
// and its hello world, on node:http (SERVER=node) or on tsgi through
// fromNodeListener (SERVER=tsgi). PORT from the environment.
import http from 'node:http';
import { createRequire } from 'node:module';
import express from 'express';
import { HELLO, user } from './suite-app.mjs';

const port = Number(process.env.PORT ?? 8007);
const app = express();
app.get('/', (req, res) => { res.type('text/plain').send(HELLO); });
app.get('/api/users/:id', (req, res) => { res.json(user(Number(req.params.id))); });

let stop;
if (process.env.SERVER === 'tsgi') {
  const require = createRequire(import.meta.url);
  const root = (process.env.TSGI_ROOT ?? new URL('../..', import.meta.url).pathname).replace(/\/$/, '');
  const { serve, fromNodeListener } = require(`${root}/dist/index.js`);
  const server = serve(fromNodeListener(app), { listen: `127.0.0.1:${port}` });
  stop = () => { server.close(1000).then(() => process.exit(0)); };
  process.stdout.write(`ready ${port}\n`);
} else {
  const server = http.createServer(app);
  server.keepAliveTimeout = 60_000;
  server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));
  stop = () => { server.close(); server.closeAllConnections(); process.exit(0); };
}
process.on('SIGTERM', () => stop());
process.on('SIGINT', () => stop());
