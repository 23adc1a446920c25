// tsgi hello world on one listener given as LISTEN, in serve()'s syntax:
// "uwsgi://127.0.0.1:18201", "uwsgi:///tmp/app.sock", "scgi://127.0.0.1:18202",
// "http://127.0.0.1:18203". The same app and reply as bench/servers/tsgi.mjs.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
// TSGI_ROOT: another checkout or a copy of dist/ + build/ (see tsgi.mjs).
const root = path.resolve(process.env.TSGI_ROOT ?? new URL('../..', import.meta.url).pathname);
const { serve } = require(path.join(root, 'dist/index.js'));

const listen = process.env.LISTEN;
if (!listen) throw new Error('LISTEN is not set');
const BODY = 'Hello, World!\n';
const HEADERS = { 'content-type': 'text/plain' };

const server = serve(() => ({ status: 200, headers: HEADERS, body: BODY }), { listen });

const stop = () => { server.close(1000).then(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`ready ${listen}\n`);
