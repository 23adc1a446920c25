// tsgi hello world. PORT from the environment (default 8001).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// The CommonJS build directly: works whether or not dist/index.mjs was written.
// TSGI_ROOT points at another checkout (or a copy of dist/ + build/) to compare builds.
const root = process.env.TSGI_ROOT ?? new URL('../..', import.meta.url).pathname;
const { serve } = require(`${root.replace(/\/$/, '')}/dist/index.js`);

const port = Number(process.env.PORT ?? 8001);
const BODY = 'Hello, World!\n';
const HEADERS = { 'content-type': 'text/plain' };

const server = serve(() => ({ status: 200, headers: HEADERS, body: BODY }), {
  listen: `127.0.0.1:${port}`,
});

const stop = () => { server.close(1000).then(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`ready ${port}\n`);
