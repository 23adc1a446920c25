// Express hello world on tsgi, through fromNodeListener. PORT from the environment (default 8005).
import { createRequire } from 'node:module';
import express from 'express';

const require = createRequire(import.meta.url);
// The CommonJS build directly, as servers/tsgi.mjs does; TSGI_ROOT picks another build.
const root = (process.env.TSGI_ROOT ?? new URL('../..', import.meta.url).pathname).replace(/\/$/, '');
const { serve } = require(`${root}/dist/server/serve.js`);
const { fromNodeListener } = require(`${root}/dist/adapters/node/index.js`);

const port = Number(process.env.PORT ?? 8005);
const app = express();
app.get('/', (req, res) => { res.type('text/plain').send('Hello, World!\n'); });

const server = serve(fromNodeListener(app), { listen: `127.0.0.1:${port}` });

const stop = () => { server.close(1000).then(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`ready ${port}\n`);
