// String reply bodies: server CPU per request and resident size, one build
// against another (TSGI_ROOT of servers/strings.mjs), interleaved rounds.
//
//   node bench/strings.mjs [ROOT_A] [ROOT_B]     (default: this checkout alone)
//
// Environment: ROUNDS (3), DURATION (5 s), WARMUP (2 s), CONNECTIONS (64),
// PATHS (/256k,/1m,/1m-stream), PORT (18640). The server runs on CPU 0, the
// load generator (tsgi bench) on CPU 1. CPU per request: the server's
// utime + stime from /proc/<pid>/stat across the measured run ÷ requests.
// RSS: right after each run, and 3 s after a server's last run (idle).
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

const here = new URL('.', import.meta.url).pathname;
const roots = process.argv.slice(2).length ? process.argv.slice(2) : [new URL('..', import.meta.url).pathname];
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const DURATION = process.env.DURATION ?? '5';
const WARMUP = process.env.WARMUP ?? '2';
const C = process.env.CONNECTIONS ?? '64';
const PATHS = (process.env.PATHS ?? '/256k,/1m,/1m-stream').split(',');
const PORT = Number(process.env.PORT ?? 18640);
const TICK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const tsgi = new URL('../bin/tsgi', import.meta.url).pathname;

function cpu(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK;  // utime, stime (fields 14, 15)
}
function rss(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(s)[1]) / 1024;
}
function load(path, seconds) {
  const out = execFileSync('taskset', ['-c', '1', 'node', tsgi, 'bench', '-c', C, '-d', `${seconds}s`, '--json',
    `http://127.0.0.1:${PORT}${path}`], { maxBuffer: 1 << 24 }).toString();
  return JSON.parse(out);
}

async function start(root) {
  const child = spawn('taskset', ['-c', '0', 'node', `${here}servers/strings.mjs`], {
    env: { ...process.env, PORT: String(PORT), TSGI_ROOT: root }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  return child;
}

const results = {};  // root -> path -> [{ us, rss, rps }]
const idle = {};     // root -> [RSS MB 3 s after its last run]
for (let round = 0; round < ROUNDS; round++) {
  for (const root of roots) {
    const child = await start(root);
    for (const path of PATHS) {
      load(path, WARMUP);
      const c0 = cpu(child.pid);
      const r = load(path, DURATION);
      const c1 = cpu(child.pid);
      const n = r.requests ?? r.completed ?? r.ok;
      const row = { us: ((c1 - c0) * 1e6) / n, rss: rss(child.pid), rps: n / Number(DURATION), errors: r.errors };
      ((results[root] ??= {})[path] ??= []).push(row);
      console.error(`round ${round + 1} ${root} ${path}: ${row.us.toFixed(1)} µs/req, ${row.rps.toFixed(0)} req/s, RSS ${row.rss.toFixed(1)} MB`);
    }
    await delay(3000);
    (idle[root] ??= []).push(rss(child.pid));
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await delay(500);
  }
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(`| path | build | server CPU µs/req | req/s | RSS MB (after the run) |`);
console.log(`|---|---|---:|---:|---:|`);
for (const path of PATHS) {
  for (const root of roots) {
    const rows = results[root][path];
    console.log(`| ${path} | ${root} | ${median(rows.map((r) => r.us)).toFixed(1)} | ${median(rows.map((r) => r.rps)).toFixed(0)} | ${median(rows.map((r) => r.rss)).toFixed(1)} |`);
  }
}
console.log();
console.log(`| build | RSS MB 3 s after the last run |`);
console.log(`|---|---:|`);
for (const root of roots) console.log(`| ${root} | ${median(idle[root]).toFixed(1)} |`);
