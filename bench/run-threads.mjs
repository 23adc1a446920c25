#!/usr/bin/env node
// --threads: hello-world throughput of one tsgi process with --threads 1 and 2.
//
//   RUNS=3 DURATION=5 node bench/run-threads.mjs
//
// Arrangements on a 2-CPU machine:
//   shared  nothing pinned: wrk and the server's threads share both CPUs
//   pinned  server on SERVER_CPU (0), wrk on WRK_CPU (1): 2 threads on one CPU
// Server CPU per request: utime + stime of the process (all threads) over the
// run ÷ wrk's requests (less disturbed by other load than req/s). Each server
// is checked first (200, exact body), warmed up (WARMUP s), then measured RUNS
// times, interleaved. wrk: -t1 -c CONNECTIONS (64), keep-alive. Prints a
// markdown table; nothing is written.
import { spawn, execFileSync } from 'node:child_process';
import { request } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds } from './lib/proc.mjs';
import { interleavedRuns, sleep } from './lib/procs.mjs';
import { summary, range } from './lib/stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.join(here, '..', 'bin', 'tsgi');
const APP = path.join(here, 'servers', 'hello-app.cjs');
const env = process.env;
const int = (v, d) => (v === undefined ? d : Number(v));
const RUNS = int(env.RUNS, 3), DURATION = int(env.DURATION, 5), WARMUP = int(env.WARMUP, 2);
const CONNECTIONS = int(env.CONNECTIONS, 64);
const SERVER_CPU = env.SERVER_CPU ?? '0', WRK_CPU = env.WRK_CPU ?? '1';

function get(port) {
  return new Promise((resolve, reject) => {
    request({ port, host: '127.0.0.1', path: '/' }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; }).on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject).end();
  });
}

async function start(threads, pinned, port) {
  const args = [BIN, '--http', `127.0.0.1:${port}`, '--threads', String(threads), APP];
  const child = pinned ? spawn('taskset', ['-c', SERVER_CPU, process.execPath, ...args], { stdio: 'ignore' })
    : spawn(process.execPath, args, { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    await sleep(100);
    try {
      const r = await get(port);
      if (r.status !== 200 || r.body !== 'Hello, World!\n') throw new Error(`bad reply ${r.status} ${JSON.stringify(r.body)}`);
      return child;
    } catch (err) {
      if (String(err).includes('bad reply')) throw err;
    }
  }
  throw new Error(`--threads ${threads} did not start`);
}

function wrk(port, seconds, pinned) {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, `http://127.0.0.1:${port}/`];
  const out = pinned ? execFileSync('taskset', ['-c', WRK_CPU, 'wrk', ...args], { encoding: 'utf8' })
    : execFileSync('wrk', args, { encoding: 'utf8' });
  const requests = Number(/(\d+) requests in/.exec(out)[1]);
  const errors = /Socket errors/.test(out) || /Non-2xx/.test(out);
  if (errors) throw new Error(`errors:\n${out}`);
  return requests;
}

const rows = [];
for (const pinned of [false, true]) {
  const servers = [];
  for (const threads of [1, 2]) servers.push({ threads, port: 18700 + threads + (pinned ? 10 : 0) });
  for (const s of servers) s.child = await start(s.threads, pinned, s.port);
  await interleavedRuns({
    tag: 'bench-threads', targets: servers, label: (s) => `--threads ${s.threads}`, runs: RUNS, warmup: WARMUP,
    load: (s, seconds) => wrk(s.port, seconds, pinned), log: (msg) => process.stderr.write(`${msg}\n`), settleMs: 0,
    measure: (s) => {
      const c0 = cpuSeconds([s.child.pid]);
      const t0 = performance.now();
      const n = wrk(s.port, DURATION, pinned);
      const secs = (performance.now() - t0) / 1000;
      return { rps: n / secs, us: ((cpuSeconds([s.child.pid]) - c0) * 1e6) / n };
    },
  });
  for (const s of servers) {
    s.child.kill('SIGTERM');
    rows.push(`| ${pinned ? `pinned (server CPU ${SERVER_CPU}, wrk CPU ${WRK_CPU})` : 'shared (nothing pinned)'} | ` +
      `--threads ${s.threads} | ${range(summary(s.runs.map((r) => r.rps)))} | ${range(summary(s.runs.map((r) => r.us)), 2)} |`);
  }
  await sleep(500);
}
console.log('| arrangement | server | req/s median (min–max) | server CPU µs/req median (min–max) |');
console.log('|---|---|---:|---:|');
for (const r of rows) console.log(r);
