// tsgi hello world with an access log (ACCESS_LOG_FORMAT combined|json,
// default combined; ACCESS_LOG path, default a file in /tmp, truncated at
// start), or with --harakiri's sweep and watchdog (HARAKIRI=seconds, no log).
// PORT from the environment (default 8001). The cost of each against
// servers/tsgi.mjs: `node bench/run.mjs --servers=tsgi,tsgi-accesslog,...`.
import { createRequire } from 'node:module';
import { rmSync } from 'node:fs';

const require = createRequire(import.meta.url);
const root = process.env.TSGI_ROOT ?? new URL('../..', import.meta.url).pathname;
const { serve, AccessLog } = require(`${root.replace(/\/$/, '')}/dist/index.js`);

const port = Number(process.env.PORT ?? 8001);
const BODY = 'Hello, World!\n';
const HEADERS = { 'content-type': 'text/plain' };

const harakiri = process.env.HARAKIRI ? Number(process.env.HARAKIRI) * 1000 : 0;
let log;
// Our own file in /tmp is removed at exit: a run writes hundreds of MB.
const ownFile = !harakiri && process.env.ACCESS_LOG === undefined;
if (!harakiri) {
  const file = process.env.ACCESS_LOG ?? `/tmp/tsgi-bench-access-${port}.log`;
  if (file !== '-') rmSync(file, { force: true });
  log = new AccessLog({ path: file, format: process.env.ACCESS_LOG_FORMAT ?? 'combined' });
}

const server = serve(() => ({ status: 200, headers: HEADERS, body: BODY }), {
  listen: `127.0.0.1:${port}`,
  onRequestDone: log?.hook,
  harakiri,
});

const stop = () => {
  server.close(1000).then(async () => {
    if (log) {
      await log.close();
      process.stderr.write(`access log: ${log.written} lines written, ${log.dropped} dropped\n`);
      if (ownFile) rmSync(log.path, { force: true });
    }
    process.exit(0);
  });
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`ready ${port}\n`);
