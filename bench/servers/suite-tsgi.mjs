// tsgi serving the suite's app (servers/suite-app.mjs) on LISTEN, in serve()'s
// syntax: "http://127.0.0.1:18401", "uwsgi:///tmp/x.sock", "scgi://…", "fastcgi://…".
// TSGI_ROOT picks another build (see servers/tsgi.mjs).
import { createRequire } from 'node:module';
import path from 'node:path';
import { BODY_1M, tsgiApp } from './suite-app.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(process.env.TSGI_ROOT ?? new URL('../..', import.meta.url).pathname);
const { serve, seal } = require(path.join(root, 'dist/index.js'));

const listen = process.env.LISTEN;
if (!listen) throw new Error('LISTEN is not set');
// GET /1m-sealed: /1m's bytes sealed once and sent with sendfile (where the build has seal()).
const SEALED_1M = seal ? { status: 200, headers: { 'content-type': 'text/plain' }, body: seal(BODY_1M) } : undefined;
const app = SEALED_1M ? (req) => (req.REQUEST_URI === '/1m-sealed' ? SEALED_1M : tsgiApp(req)) : tsgiApp;
const server = serve(app, { listen });

const stop = () => { server.close(1000).then(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`ready ${listen}\n`);
