// A chunked 64 KiB POST read whole by the app (suite-app's POST /echo,
// bytes()), over HTTP: server CPU µs per request of one or more builds,
// interleaved rounds, medians. The server is pinned to CPU 0, wrk (with
// lib/chunked-post.lua) to CPU 1.
//
//   node bench/run-chunked.mjs [ROOT...]      (default: this checkout)
//
// Environment: ROUNDS (3), DURATION (5 s), WARMUP (2 s), CONNECTIONS (64),
// BODY_SIZE (65536), CHUNK_SIZE (16384), PORT (18470), TARGET_PATH (/echo;
// /echo-stream iterates the body instead).
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { cpuSeconds, processTree } from './lib/proc.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const roots = process.argv.length > 2 ? process.argv.slice(2) : [path.resolve(here, '..')];
const env = process.env;
const ROUNDS = Number(env.ROUNDS ?? 3);
const DURATION = Number(env.DURATION ?? 5);
const WARMUP = Number(env.WARMUP ?? 2);
const C = Number(env.CONNECTIONS ?? 64);
const PORT = Number(env.PORT ?? 18470);
const url = `http://127.0.0.1:${PORT}${env.TARGET_PATH ?? '/echo'}`;
const script = path.join(here, 'lib/chunked-post.lua');

const wrk = (seconds) => execFileSync('taskset', ['-c', '1', 'wrk', '-t1', `-c${C}`, `-d${seconds}s`, '-s', script, url],
  { encoding: 'utf8', env });

async function once(root) {
  const server = spawn('taskset', ['-c', '0', 'node', path.join(here, 'servers/suite-tsgi.mjs')],
    { env: { ...env, TSGI_ROOT: root, LISTEN: `http://127.0.0.1:${PORT}` }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    server.stdout.once('data', resolve);
    server.once('exit', () => reject(new Error(`the server under ${root} exited`)));
  });
  try {
    if (WARMUP > 0) wrk(WARMUP);
    const pids = processTree(server.pid);
    const before = cpuSeconds(pids);
    const out = wrk(DURATION);
    const cpu = cpuSeconds(pids) - before;
    const requests = Number(/(\d+) requests in/.exec(out)[1]);
    const non2xx = Number(/non2xx (\d+)/.exec(out)[1]);
    if (non2xx > 0 || /Socket errors/.test(out)) throw new Error(`errors under ${root}:\n${out}`);
    return { requests, us: (cpu * 1e6) / requests };
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
  }
}

const runs = new Map(roots.map((r) => [r, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const root of roots) {
    const r = await once(root);
    runs.get(root).push(r);
    process.stderr.write(`round ${round + 1} ${root}: ${r.requests} requests, ${r.us.toFixed(1)} µs/req\n`);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log('| build | server CPU µs/req, median (min–max) | req/s median |');
console.log('|---|---:|---:|');
for (const [root, rs] of runs) {
  const us = rs.map((r) => r.us);
  console.log(`| ${root} | ${median(us).toFixed(1)} (${Math.min(...us).toFixed(1)}–${Math.max(...us).toFixed(1)}) | ` +
    `${Math.round(median(rs.map((r) => r.requests)) / DURATION).toLocaleString('en')} |`);
}
