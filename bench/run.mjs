#!/usr/bin/env node
// Hello-world benchmark: tsgi vs node:http vs Fastify; with --suite=adapters,
// each framework on tsgi (through its adapter) vs on its own Node server.
//
//   RUNS=5 DURATION=5 node bench/run.mjs [--json] [--no-write] [--servers=tsgi,node-http] [--suite=adapters]
//
// Each server runs in its own process pinned to one CPU (SERVER_CPU, default 0);
// wrk runs pinned to another (WRK_CPU, default 1). Every server is started,
// checked (status 200, content-type text/plain, exact body), warmed up, then
// measured RUNS times, interleaved (A B C A B C ...) so drift hits all alike.
// Per run: wrk's requests/s and latency percentiles, and the server's CPU time
// (utime + stime of the whole process, /proc/PID/stat fields 14 and 15) over
// the run divided by the requests wrk completed: CPU µs per request.
//
// Environment: RUNS (5), DURATION seconds (5), CONNECTIONS (64), THREADS (1),
// WARMUP seconds (2, per server, not measured), SERVER_CPU (0), WRK_CPU (1),
// BASE_PORT (18081), SERVERS (comma list; or --servers=), NICE (e.g. -10: run the
// servers and wrk at that priority, so other work on a shared machine disturbs less; root).
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandLine, runKnobs, wholeNumber } from './lib/options.mjs';
import { childrenCpuSeconds, cpuBusy, cpuSeconds, memory } from './lib/proc.mjs';
import { background as backgroundLoad, interleavedRuns, sleep } from './lib/procs.mjs';
import { fmt, range, summaries } from './lib/stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

const { flag, opt } = commandLine(import.meta.url);

const env = process.env;
const { RUNS, DURATION, CONNECTIONS, WARMUP, SERVER_CPU, BASE_PORT, NICE } = runKnobs(18081, die);
const THREADS = wholeNumber(env.THREADS, 1, die);
const WRK_CPU = env.WRK_CPU ?? '1';
/** argv prefix that pins (and optionally renices) a command. */
const pinned = (cpu, argv) => (NICE === undefined ? ['taskset', ['-c', cpu, ...argv]] : ['nice', ['-n', String(NICE), 'taskset', '-c', cpu, ...argv]]);
const JSON_OUT = flag('json');
const WRITE = !flag('no-write');
const EXPECT_BODY = 'Hello, World!\n';

const ALL = [
  { name: 'tsgi', file: 'servers/tsgi.mjs' },
  { name: 'node:http', file: 'servers/node-http.mjs' },
  { name: 'fastify', file: 'servers/fastify.mjs' },
  // --suite=adapters: the same app both ways (the adapters' comparisons).
  { name: 'tsgi-bare-node', file: 'servers/tsgi-bare-node.mjs' },
  { name: 'express-tsgi', file: 'servers/express-tsgi.mjs' },
  { name: 'express-node', file: 'servers/express-node.mjs' },
  { name: 'fastify-tsgi', file: 'servers/fastify-tsgi.mjs' },
  { name: 'hono-tsgi', file: 'servers/hono-tsgi.mjs' },
  { name: 'hono-node', file: 'servers/hono-node.mjs' },
  // The cost of --stats: the CLI with and without it (the stats server idle, as between scrapes).
  { name: 'tsgi-cli', file: 'servers/tsgi-cli.mjs' },
  { name: 'tsgi-cli-stats', file: 'servers/tsgi-cli-stats.mjs' },
  { name: 'tsgi-cli-app-metrics', file: 'servers/tsgi-cli-app-metrics.mjs' },
  // The cost of an access log and of --harakiri (each against 'tsgi').
  { name: 'tsgi-accesslog', file: 'servers/tsgi-accesslog.mjs', env: { ACCESS_LOG_FORMAT: 'combined' } },
  { name: 'tsgi-accesslog-json', file: 'servers/tsgi-accesslog.mjs', env: { ACCESS_LOG_FORMAT: 'json' } },
  { name: 'tsgi-harakiri', file: 'servers/tsgi-accesslog.mjs', env: { HARAKIRI: '30' } },
];
/** [on tsgi, its baseline]: ratios printed for each pair measured. */
const PAIRS = [
  ['tsgi', 'node:http'], ['fastify', 'node:http'],
  ['tsgi', 'tsgi-bare-node'], ['express-tsgi', 'express-node'], ['fastify-tsgi', 'fastify'], ['hono-tsgi', 'hono-node'],
  ['tsgi-cli-stats', 'tsgi-cli'], ['tsgi-cli-app-metrics', 'tsgi-cli-stats'],
  ['tsgi-accesslog', 'tsgi'], ['tsgi-accesslog-json', 'tsgi'], ['tsgi-harakiri', 'tsgi'],
];
const SUITES = {
  default: ['tsgi', 'node:http', 'fastify'],
  adapters: ['tsgi', 'tsgi-bare-node', 'express-tsgi', 'express-node', 'fastify-tsgi', 'fastify', 'hono-tsgi', 'hono-node'],
};
const suite = opt('suite') ?? env.SUITE;
if (suite !== undefined && !(suite in SUITES)) die(`unknown suite ${suite}; known: ${Object.keys(SUITES).join(', ')}`);
const wanted = (opt('servers') ?? env.SERVERS)?.split(',').map((s) => s.trim().replace(/^node-http$/, 'node:http')) ??
  SUITES[suite ?? 'default'];
const SERVERS = ALL.filter((s) => wanted.includes(s.name));
if (SERVERS.length === 0) die(`no known server in ${wanted}; known: ${ALL.map((s) => s.name).join(', ')}`);

function die(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(1);
}
const log = (msg) => process.stderr.write(`${msg}\n`);

for (const tool of ['wrk', 'taskset']) {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    die(`${tool} is not installed (apt-get install -y ${tool === 'taskset' ? 'util-linux' : tool})`);
  }
}
if (SERVERS.some((s) => s.name === 'tsgi') && !existsSync(path.join(root, 'dist/index.js'))) {
  die('dist/ is missing: run `npm run build:native && npm run build:ts` first');
}
// ---- servers ---------------------------------------------------------------

function startServer(s, port) {
  const [cmd, argv] = pinned(SERVER_CPU, [process.execPath, path.join(here, s.file)]);
  const child = spawn(cmd, argv, {
    cwd: root,
    env: { ...env, ...s.env, PORT: String(port), NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  child.on('exit', (code, signal) => {
    if (!child.stopping) log(`bench: ${s.name} exited (${signal ?? code}) early:\n${output}`);
    child.exited = true;
  });
  child.output = () => output;
  return child;
}

function get(port) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('latin1') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(2000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

async function waitReady(s, port, child) {
  const until = Date.now() + 20_000;
  let last;
  while (Date.now() < until) {
    if (child.exited) die(`${s.name} died while starting:\n${child.output()}`);
    try {
      return await get(port);
    } catch (err) {
      last = err;
      await sleep(100);
    }
  }
  die(`${s.name} did not answer on port ${port}: ${last?.message}\n${child.output()}`);
}

function verify(s, res) {
  const problems = [];
  if (res.status !== 200) problems.push(`status ${res.status}`);
  if (!/^text\/plain\b/.test(res.headers['content-type'] ?? '')) problems.push(`content-type ${res.headers['content-type']}`);
  if (res.body !== EXPECT_BODY) problems.push(`body ${JSON.stringify(res.body)}`);
  if (problems.length) die(`${s.name} answered wrongly: ${problems.join(', ')}`);
  return { framing: res.headers['content-length'] !== undefined ? 'content-length' : res.headers['transfer-encoding'] ?? 'close' };
}

// ---- wrk ---------------------------------------------------------------------

function wrk(port, seconds) {
  const [cmd, argv] = pinned(WRK_CPU, ['wrk', `-t${THREADS}`, `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${port}/`]);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited ${code}:\n${out}`))));
  });
}

/** wrk's duration strings ("812.00us", "1.23ms", "2.00s") in milliseconds. */
function ms(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60000 }[m[2]];
}

function parseWrk(out) {
  const num = (re) => { const m = re.exec(out); return m ? Number(m[1]) : NaN; };
  const pct = (p) => { const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out); return m ? ms(m[1]) : NaN; };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    p50: pct(50), p75: pct(75), p90: pct(90), p99: pct(99),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
    socketErrors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

// ---- output --------------------------------------------------------------------

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  const nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  return { nproc: Number(nproc), cpu: model, node: process.version, kernel: os.release(), wrk: wrkVersion() };
}
function wrkVersion() {
  try {
    return execFileSync('wrk', ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0].trim();
  } catch (err) {
    return String(err.stdout ?? '').split('\n')[0].trim() || 'wrk';
  }
}

function table(results) {
  const rows = [
    '| server | req/s median (min–max) | server CPU µs/req median (min–max) | server CPU use (others; steal) | wrk CPU use (others; steal) | p50 ms | p99 ms median (min–max) | RSS MB end (peak) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    rows.push(`| ${r.name} | ${range(r.rps)} | ${range(r.cpuUsPerReq, 2)} | ${fmt(r.cpuUse.median * 100)}% (${fmt(r.others.median * 100)}%; ${fmt(r.steal.median * 100)}%) | ${fmt(r.wrkUse.median * 100)}% (${fmt(r.wrkOthers.median * 100)}%; ${fmt(r.wrkSteal.median * 100)}%) | ${fmt(r.p50.median, 2)} | ${range(r.p99, 2)} | ${fmt(r.memory.rssMB, 1)} (${fmt(r.memory.peakMB, 1)}) |`);
  }
  const lines = [rows.join('\n')];
  const byName = new Map(results.map((r) => [r.name, r]));
  const ratio = PAIRS.filter(([a, b]) => byName.has(a) && byName.has(b)).map(([a, b]) => {
    const r = byName.get(a);
    const base = byName.get(b);
    return `| ${r.name} / ${base.name} | ${fmt(r.rps.median / base.rps.median, 2)}× | ${fmt(r.cpuUsPerReq.median / base.cpuUsPerReq.median, 2)}× | ${fmt(r.p99.median, 2)} vs ${fmt(base.p99.median, 2)} |`;
  });
  if (ratio.length) lines.push(['| ratio | req/s | CPU per request | p99 ms |', '|---|---:|---:|---:|', ...ratio].join('\n'));
  return lines.join('\n\n');
}

// ---- main ------------------------------------------------------------------------

const children = [];
function stopAll() {
  for (const c of children) {
    if (c.exited) continue;
    c.stopping = true;
    try { c.kill('SIGTERM'); } catch { /* already gone */ }
  }
}
process.on('SIGINT', () => { stopAll(); process.exit(130); });
process.on('exit', stopAll);

const info = machine();
const loadBefore = os.loadavg();
// What else runs on the machine, measured over one second before we start.
const background = await backgroundLoad();  // CPU-seconds per second, all CPUs
const command = `${NICE !== undefined ? `NICE=${NICE} ` : ''}RUNS=${RUNS} DURATION=${DURATION} CONNECTIONS=${CONNECTIONS} node bench/run.mjs` +
  (opt('servers') ?? env.SERVERS ? ` --servers=${wanted.join(',')}` : suite ? ` --suite=${suite}` : '');
log(`bench: ${info.nproc} CPUs (${info.cpu}), node ${info.node}; servers on CPU ${SERVER_CPU}, wrk on CPU ${WRK_CPU}`);
if (background > 0.1) log(`bench: warning: ${fmt(background * 100)}% of a CPU busy before starting (load average ${loadBefore[0].toFixed(2)}); numbers will be noisy`);
log(`bench: wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s --latency, ${RUNS} runs per server, interleaved`);

const live = [];
for (const [i, s] of SERVERS.entries()) {
  const port = BASE_PORT + i;
  const child = startServer(s, port);
  children.push(child);
  const res = await waitReady(s, port, child);
  const { framing } = verify(s, res);
  log(`bench: ${s.name} on :${port} (pid ${child.pid}) answers 200 "${EXPECT_BODY.trim()}" (${framing})`);
  live.push({ ...s, port, child, runs: [] });
}

await interleavedRuns({
  tag: 'bench', targets: live, runs: RUNS, warmup: WARMUP, load: (s, seconds) => wrk(s.port, seconds), servers: live, log, die,
  measure: async (s) => {
    const t0 = process.hrtime.bigint();
    const cpu0 = cpuSeconds([s.child.pid]);
    const busy0 = cpuBusy(SERVER_CPU);
    const wrkBusy0 = cpuBusy(WRK_CPU);
    const wrkCpu0 = childrenCpuSeconds();
    const out = await wrk(s.port, DURATION);
    const cpu1 = cpuSeconds([s.child.pid]);
    const busy1 = cpuBusy(SERVER_CPU);
    const wrkBusy1 = cpuBusy(WRK_CPU);
    const wrkCpu = childrenCpuSeconds() - wrkCpu0;
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const w = parseWrk(out);
    if (!Number.isFinite(w.rps) || !(w.requests > 0)) die(`cannot read wrk's output:\n${out}`);
    const cpu = cpu1 - cpu0;
    // Time the server's CPU spent on anything but the server (other processes, wrk's spill-over).
    // /proc/stat is sampled per tick, the processes' times are exact: expect a few % of slack.
    const others = Math.max(0, (busy1.busy - busy0.busy - cpu) / wall);
    const steal = (busy1.steal - busy0.steal) / wall;
    // Same for wrk's CPU: if others take it, wrk (not the server) caps req/s.
    const wrkOthers = Math.max(0, (wrkBusy1.busy - wrkBusy0.busy - wrkCpu) / wall);
    const wrkSteal = (wrkBusy1.steal - wrkBusy0.steal) / wall;
    return { ...w, cpuSeconds: cpu, wall, cpuUsPerReq: (cpu * 1e6) / w.requests, cpuUse: cpu / wall, others, steal,
      wrkUse: wrkCpu / wall, wrkOthers, wrkSteal };
  },
  report: (s, r) => `${s.name.padEnd(9)} ${fmt(r.rps).padStart(7)} req/s  ${fmt(r.cpuUsPerReq, 2).padStart(6)} µs/req  p50 ${fmt(r.p50, 2)}ms` +
    `  p99 ${fmt(r.p99, 2)}ms  server cpu ${fmt(r.cpuUse * 100)}% (others ${fmt(r.others * 100)}%, steal ${fmt(r.steal * 100)}%)` +
    `  wrk cpu ${fmt(r.wrkUse * 100)}% (others ${fmt(r.wrkOthers * 100)}%, steal ${fmt(r.wrkSteal * 100)}%)` +
    `${r.non2xx || r.socketErrors ? `  [non-2xx ${r.non2xx}, socket errors ${r.socketErrors}]` : ''}`,
});

const loadAfter = os.loadavg();
const results = live.map((s) => ({
  name: s.name,
  pid: s.child.pid,
  ...summaries(s.runs, ['rps', 'cpuUsPerReq', 'cpuUse', 'others', 'steal', 'wrkSteal', 'wrkUse', 'wrkOthers', 'p50', 'p99']),
  errors: s.runs.reduce((a, r) => a + r.non2xx + r.socketErrors, 0),
  memory: memory([s.child.pid]),
  runs: s.runs,
}));
stopAll();

const md = table(results);
// Other work during the runs (not only before): say so next to the numbers.
const busyOthers = Math.max(...results.map((r) => Math.max(r.others.median, r.wrkOthers.median)));
const noisy = busyOthers > 0.2
  ? `**Other processes took up to ${fmt(busyOthers * 100)}% of the server's or wrk's CPU during the runs (median per server): ` +
    'req/s and latency are bounded by the scheduler, not by the servers; compare CPU per request.**'
  : '';
if (noisy) log(`bench: ${noisy.replace(/\*\*/g, '')}`);
const errs = results.filter((r) => r.errors > 0).map((r) => `${r.name}: ${r.errors} non-2xx responses or socket errors`);
const date = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
const section = [
  `## ${date}: hello world, ${SERVERS.map((s) => s.name).join(' vs ')}`,
  '',
  `Machine: ${info.nproc} CPUs, ${info.cpu}, Linux ${info.kernel}; node ${info.node}; ${info.wrk}. ` +
    `Before starting, ${fmt(background * 100)}% of a CPU was busy with other work; load average ${loadBefore[0].toFixed(2)} before, ${loadAfter[0].toFixed(2)} after` +
    (background > 0.1 ? ' (**the machine was not idle: other processes competed for the CPUs**).' : '.'),
  `Servers pinned to CPU ${SERVER_CPU}, \`wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s --latency\` pinned to CPU ${WRK_CPU}; ` +
    `${RUNS} interleaved runs per server after a ${WARMUP}s warm-up each` +
    (NICE !== undefined ? `; servers and wrk at nice ${NICE}.` : '.'),
  '',
  '```',
  command,
  '```',
  '',
  md,
  '',
  'CPU µs/req: server process user+system time during the run / requests wrk completed. ' +
    'CPU use: server CPU time / wall time (100% = the server saturated its core); ' +
    '"others": time that CPU spent on other processes during the run; "steal": time the hypervisor took from it. ' +
    'If wrk is near 100% of its CPU, or others take much of it, req/s is capped by the client, not the server.',
  ...(noisy ? ['', noisy] : []),
  ...(errs.length ? ['', `**Errors:** ${errs.join('; ')}`] : []),
  '',
].join('\n');

if (WRITE) {
  const file = path.join(here, 'RESULTS.md');
  const head = '# Benchmark results\n\nAppended by `node bench/run.mjs` (see bench/README.md). Newest last.\n\n';
  const old = existsSync(file) ? readFileSync(file, 'utf8') : head;
  writeFileSync(file, old.replace(/\n*$/, '\n\n') + section);
  log(`bench: appended to ${path.relative(process.cwd(), file) || file}`);
}
if (JSON_OUT) {
  process.stdout.write(JSON.stringify({ date, machine: info, command, load: { before: loadBefore, after: loadAfter, backgroundCpus: background }, config: { RUNS, DURATION, CONNECTIONS, THREADS, WARMUP, SERVER_CPU, WRK_CPU, NICE }, results }, null, 2) + '\n');
} else {
  process.stdout.write(`\n${md}\n`);
}
