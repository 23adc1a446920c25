#!/usr/bin/env node
// The master process: hello-world throughput with 1 and 2 workers, memory per
// process, and reload time (SIGHUP until every new worker is ready).
//
//   RUNS=3 DURATION=5 node bench/run-master.mjs [--no-write]
//
// Arrangements (a 2-CPU machine has no room to keep wrk apart from 2 workers):
//   single    tsgi without --processes, pinned to SERVER_CPU (0); wrk on WRK_CPU (1)
//   1w-pinned --processes 1; master and worker pinned to SERVER_CPU; wrk on WRK_CPU
//   1w-shared --processes 1, nothing pinned: wrk and the worker share all CPUs
//   2w-shared --processes 2, nothing pinned: wrk and the workers share all CPUs
// Server CPU per request: utime + stime of the master and its workers over the
// run, divided by wrk's requests (less disturbed by other load than req/s).
// Each is checked first (200, exact body), warmed up
// (WARMUP s), then measured RUNS times, interleaved. wrk: THREADS (1),
// CONNECTIONS (64), keep-alive. Reload: RELOADS (5) SIGHUPs one after another,
// each waited for, idle and under wrk load (2w-shared); the time is what the
// master logs ("reload done in X s": from the signal until all new workers
// are ready and the old ones told to stop).
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, memory, processTree } from './lib/proc.mjs';
import { summary, range, fmt } from './lib/stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const BIN = path.join(root, 'bin', 'tsgi');
const APP = path.join(here, 'servers', 'hello-app.cjs');
const env = process.env;
const int = (v, d) => (v === undefined ? d : Number(v));
const RUNS = int(env.RUNS, 3);
const DURATION = int(env.DURATION, 5);
const CONNECTIONS = int(env.CONNECTIONS, 64);
const THREADS = int(env.THREADS, 1);
const WARMUP = int(env.WARMUP, 2);
const RELOADS = int(env.RELOADS, 5);
const SERVER_CPU = env.SERVER_CPU ?? '0';
const WRK_CPU = env.WRK_CPU ?? '1';
const BASE_PORT = int(env.BASE_PORT, 18181);
const WRITE = !process.argv.includes('--no-write');
// NICE (e.g. -10, root): run the servers and wrk at that priority, so other
// work on a shared machine disturbs less.
const NICE = env.NICE;
const niced = (cmd, args) => (NICE === undefined ? [cmd, args] : ['nice', ['-n', NICE, cmd, ...args]]);
const BODY = 'Hello, World!\n';

/** Servers still running, stopped (master and workers, by pid) if this script ends early. */
const running = new Set();
process.on('exit', () => {
  for (const s of running) {
    for (const pid of [s.child.pid, ...workerPids(s)]) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
});
process.on('SIGINT', () => process.exit(130));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function start(name, port, args, cpu) {
  const argv = [BIN, '--http', `127.0.0.1:${port}`, ...args, APP];
  const [cmd, cargs] = cpu === undefined ? [process.execPath, argv] : ['taskset', ['-c', cpu, process.execPath, ...argv]];
  const child = spawn(...niced(cmd, cargs), { stdio: ['ignore', 'ignore', 'pipe'] });
  const s = { name, port, child, log: '' };
  running.add(s);
  child.on('exit', () => running.delete(s));
  child.stderr.setEncoding('utf8').on('data', (c) => { s.log += c; });
  return s;
}

async function waitLog(s, re, n = 1, ms = 30_000) {
  const deadline = Date.now() + ms;
  while ((s.log.match(new RegExp(re.source, 'gm')) ?? []).length < n) {
    if (Date.now() > deadline) throw new Error(`${s.name}: no ${re} in ${ms} ms:\n${s.log}`);
    if (s.child.exitCode !== null) throw new Error(`${s.name} exited:\n${s.log}`);
    await sleep(20);
  }
}

function workerPids(s) {
  const alive = new Set();
  for (const m of s.log.matchAll(/^tsgi: worker \d+ \(pid (\d+)\) (ready|exited|died)/gm)) {
    if (m[2] === 'ready') alive.add(Number(m[1]));
    else alive.delete(Number(m[1]));
  }
  return [...alive];
}

function get(port) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => { body += c; }).on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function wrk(port, seconds, pinned) {
  const args = [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${port}/`];
  const [cmd, cargs] = pinned ? ['taskset', ['-c', WRK_CPU, 'wrk', ...args]] : ['wrk', args];
  const child = spawn(...niced(cmd, cargs), { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c) => { out += c; });
  const done = new Promise((resolve) => child.on('exit', () => {
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
    const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    resolve({ rps, p99ms: p99 ? Number(p99[1]) * { us: 0.001, ms: 1, s: 1000 }[p99[2]] : NaN,
      errors: errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
      non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0), out });
  }));
  return { child, done };
}

async function stop(s) {
  s.child.kill('SIGTERM');
  await new Promise((r) => (s.child.exitCode !== null ? r() : s.child.on('exit', r)));
}

const ARRANGEMENTS = [
  { name: 'single', args: [], serverCpu: SERVER_CPU, wrkPinned: true },
  { name: '1w-pinned', args: ['--processes', '1'], serverCpu: SERVER_CPU, wrkPinned: true },
  { name: '1w-shared', args: ['--processes', '1'], serverCpu: undefined, wrkPinned: false },
  { name: '2w-shared', args: ['--processes', '2'], serverCpu: undefined, wrkPinned: false },
];

async function main() {
  const results = new Map(ARRANGEMENTS.map((a) => [a.name, []]));
  const mem = new Map();
  for (let run = 0; run < RUNS; run++) {
    for (const [i, a] of ARRANGEMENTS.entries()) {
      const s = start(a.name, BASE_PORT + i, a.args, a.serverCpu);
      await waitLog(s, a.args.length ? /^tsgi: \d+ workers? ready$/ : /^tsgi: serving/);
      const r = await get(s.port);
      if (r.status !== 200 || r.body !== BODY) throw new Error(`${a.name}: bad reply ${r.status} ${JSON.stringify(r.body)}`);
      await wrk(s.port, WARMUP, a.wrkPinned).done;
      const tree = processTree(s.child.pid);
      const cpu0 = cpuSeconds(tree);
      const w = await wrk(s.port, DURATION, a.wrkPinned).done;
      const requests = Number(/(\d+) requests in/.exec(w.out)?.[1]);
      w.cpuUs = ((cpuSeconds(tree) - cpu0) / requests) * 1e6;
      if (w.errors || w.non2xx) throw new Error(`${a.name}: wrk errors\n${w.out}`);
      results.get(a.name).push(w);
      if (run === 0) {
        const workers = workerPids(s);
        mem.set(a.name, { master: a.args.length ? memory([s.child.pid]).rssMB : NaN,
          workers: workers.map((p) => memory([p]).rssMB), single: a.args.length ? NaN : memory([s.child.pid]).rssMB });
      }
      await stop(s);
      process.stderr.write(`run ${run + 1}/${RUNS} ${a.name}: ${fmt(w.rps)} req/s, p99 ${fmt(w.p99ms, 2)} ms, ${fmt(w.cpuUs, 1)} CPU µs/request\n`);
    }
  }

  // Reload time: idle, then under load.
  const reload = {};
  for (const loaded of [false, true]) {
    const s = start('reload', BASE_PORT + 9, ['--processes', '2'], undefined);
    await waitLog(s, /^tsgi: 2 workers ready$/);
    const load = loaded ? wrk(s.port, 600, false) : undefined;
    if (load) await sleep(1000);
    const times = [];
    for (let i = 1; i <= RELOADS; i++) {
      s.child.kill('SIGHUP');
      await waitLog(s, /^tsgi: reload done in/, i);
      await waitLog(s, /exited \(code 0\)$/, 2 * i);
      times.push(Number([...s.log.matchAll(/^tsgi: reload done in ([\d.]+) s/gm)].at(-1)[1]));
    }
    if (load) {
      load.child.kill('SIGINT');
      const w = await load.done;
      reload.loadErrors = w.errors + w.non2xx;
      reload.loadRps = w.rps;
    }
    reload[loaded ? 'loaded' : 'idle'] = summary(times);
    await stop(s);
  }

  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  const lines = [];
  lines.push(`## ${new Date().toISOString().replace('T', ' ').slice(0, 19)} UTC: Master: workers and reloads`, '');
  lines.push(`\`${NICE !== undefined ? `NICE=${NICE} ` : ''}RUNS=${RUNS} DURATION=${DURATION} node bench/run-master.mjs\` — ${os.cpus().length} CPUs (${os.cpus()[0].model}), ` +
    `node ${process.version}, wrk -t${THREADS} -c${CONNECTIONS} keep-alive, hello world (bench/servers/hello-app.cjs), ` +
    `load average at the end ${load}. Median (min–max) of ${RUNS} interleaved runs of ${DURATION} s.`, '');
  lines.push('| arrangement | req/s | p99 latency ms | server CPU µs/request | RSS MB (master / each worker) |', '|---|---|---|---|---|');
  for (const a of ARRANGEMENTS) {
    const rs = results.get(a.name);
    const m = mem.get(a.name);
    const rss = a.args.length ? `${fmt(m.master, 1)} / ${m.workers.map((x) => fmt(x, 1)).join(', ')}` : `${fmt(m.single, 1)} (one process)`;
    lines.push(`| ${a.name} | ${range(summary(rs.map((r) => r.rps)))} | ${range(summary(rs.map((r) => r.p99ms)), 2)} | ` +
      `${range(summary(rs.map((r) => r.cpuUs)), 1)} | ${rss} |`);
  }
  lines.push('', `Reload (\`--processes 2\`, ${RELOADS} SIGHUPs, each waited for): idle ${range(reload.idle, 2)} s; ` +
    `under wrk load ${range(reload.loaded, 2)} s (${fmt(reload.loadRps)} req/s meanwhile, ${reload.loadErrors} failed requests).`, '');
  const text = lines.join('\n') + '\n';
  process.stdout.write(text);
  if (WRITE) {
    const file = path.join(here, 'RESULTS.md');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/\n*$/, '\n\n') + text);
  }
}

if (!existsSync(path.join(root, 'dist', 'cli', 'main.js'))) {
  process.stderr.write('build first: npm run build:ts\n');
  process.exit(1);
}
try {
  execFileSync('wrk', ['--version'], { stdio: 'ignore' });
} catch (err) {
  if (err.code === 'ENOENT') { process.stderr.write('wrk is needed (apt-get install wrk)\n'); process.exit(1); }
}
main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
