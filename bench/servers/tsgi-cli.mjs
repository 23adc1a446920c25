// tsgi hello world through the CLI (bin/tsgi's main(), one process), with
// STATS=ADDR for --stats ADDR (servers/tsgi-cli-stats.mjs sets it): the cost of the
// stats counters against the same command line without them; APP_METRICS=1 adds
// --app-metrics (servers/tsgi-cli-app-metrics.mjs).
// `node bench/run.mjs --servers=tsgi-cli,tsgi-cli-stats`. PORT from the environment.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const root = (process.env.TSGI_ROOT ?? new URL('../..', import.meta.url).pathname).replace(/\/$/, '');
const { main } = require(`${root}/dist/cli/main.js`);

const port = Number(process.env.PORT ?? 8001);
const args = ['--http', `127.0.0.1:${port}`];
if (process.env.STATS) args.push('--stats', process.env.STATS);
if (process.env.APP_METRICS) args.push('--app-metrics');
args.push(new URL('./hello-app.cjs', import.meta.url).pathname);
await main(args);
process.stdout.write(`ready ${port}\n`);
