// String reply bodies (bench/strings.mjs): GET /256k and /1m answer that many
// bytes of "x" given as one JavaScript string, /1m-stream the 1 MiB as four
// write() calls of 256 KiB strings, and / a string of SMALL bytes (default 14),
// for bench/instructions.sh strings. PORT from the environment (default 8001);
// TSGI_ROOT as in servers/tsgi.mjs, to compare builds.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const root = process.env.TSGI_ROOT ?? new URL('../..', import.meta.url).pathname;
const { serve } = require(`${root.replace(/\/$/, '')}/dist/index.js`);

const port = Number(process.env.PORT ?? 8001);
const S256K = 'x'.repeat(256 * 1024);
const S1M = 'x'.repeat(1024 * 1024);
const SMALL = 'x'.repeat(Number(process.env.SMALL ?? 14));
const HEADERS = { 'content-type': 'text/plain' };

async function* quarters() {
  for (let i = 0; i < 4; i++) yield S256K;
}

const server = serve((req) => {
  const uri = req.REQUEST_URI;
  if (uri === '/256k') return { status: 200, headers: HEADERS, body: S256K };
  if (uri === '/1m') return { status: 200, headers: HEADERS, body: S1M };
  if (uri === '/1m-stream') return { status: 200, headers: { ...HEADERS, 'content-length': String(S1M.length) }, body: quarters() };
  return { status: 200, headers: HEADERS, body: SMALL };
}, { listen: `127.0.0.1:${port}` });

const stop = () => { server.close(1000).then(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`ready ${port}\n`);
