// Fastify hello world (as servers/fastify.mjs) on tsgi, through fromNodeApp. PORT from the environment (default 8007).
import { createRequire } from 'node:module';
import Fastify from 'fastify';

const require = createRequire(import.meta.url);
const root = (process.env.TSGI_ROOT ?? new URL('../..', import.meta.url).pathname).replace(/\/$/, '');
const { serve } = require(`${root}/dist/server/serve.js`);
const { fromNodeApp } = require(`${root}/dist/adapters/node/index.js`);

const port = Number(process.env.PORT ?? 8007);
const BODY = 'Hello, World!\n';

const app = Fastify({ logger: false });
app.get('/', (request, reply) => {
  reply.code(200).header('content-type', 'text/plain').send(BODY);
});

const server = serve(fromNodeApp(app), { listen: `127.0.0.1:${port}` });
const stop = () => { server.close(1000).then(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`ready ${port}\n`);
