// Hono hello world on tsgi, through fromFetch. PORT from the environment (default 8003).
import { createRequire } from 'node:module';
import { Hono } from 'hono';

const require = createRequire(import.meta.url);
// The CommonJS build directly, as servers/tsgi.mjs does; TSGI_ROOT picks another build.
const root = process.env.TSGI_ROOT ?? new URL('../..', import.meta.url).pathname;
const { serve, fromFetch } = require(`${root.replace(/\/$/, '')}/dist/index.js`);

const port = Number(process.env.PORT ?? 8003);
const app = new Hono();
app.get('/', (c) => c.text('Hello, World!\n'));

const server = serve(fromFetch(app), { listen: `127.0.0.1:${port}` });

const stop = () => { server.close(1000).then(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`ready ${port}\n`);
