// tsgi serving the suite's app (servers/suite-app.mjs) on LISTEN, in serve()'s
// syntax: "http://127.0.0.1:18401", "uwsgi:///tmp/x.sock", "scgi://…", "fastcgi://…".
// TSGI_ROOT picks another build (see servers/tsgi.mjs).
import { createRequire } from 'node:module';
import path from 'node:path';
import { tsgiApp } from './suite-app.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(process.env.TSGI_ROOT ?? new URL('../..', import.meta.url).pathname);
const { serve } = require(path.join(root, 'dist/index.js'));

const listen = process.env.LISTEN;
if (!listen) throw new Error('LISTEN is not set');
const server = serve(tsgiApp, { listen });

const stop = () => { server.close(1000).then(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`ready ${listen}\n`);
