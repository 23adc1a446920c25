#!/usr/bin/env node
// Static files: a 1 KiB and a 1 MiB file, 64 keep-alive connections, from
// tsgi (--static-map: the core answers, no JavaScript), nginx (sendfile on,
// open_file_cache), express.static on node:http and @fastify/static.
//
//   RUNS=3 DURATION=5 node bench/run-static.mjs
//
// Each server is pinned alone to SERVER_CPU (0), wrk to WRK_CPU (1). Every
// URL is checked first (200, the file's exact bytes), each server warmed up
// (WARMUP s), then measured RUNS times, interleaved. Server CPU per request:
// utime + stime of its processes (nginx: master and worker) from /proc over
// the run, divided by wrk's requests. Client CPU per request: wrk's own
// (this process's waited-for children, /proc/self/stat cutime + cstime),
// which shows which side bounds the requests/s. Prints a markdown table of
// medians; nothing is written.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { childrenCpuSeconds, cpuSeconds, processTree } from './lib/proc.mjs';
import { interleavedRuns, nginxConfig, sleep } from './lib/procs.mjs';
import { fmt, median } from './lib/stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const env = process.env;
const int = (v, d) => (v === undefined ? d : Number(v));
const RUNS = int(env.RUNS, 3), DURATION = int(env.DURATION, 5), WARMUP = int(env.WARMUP, 2);
const CONNECTIONS = int(env.CONNECTIONS, 64);
const SERVER_CPU = env.SERVER_CPU ?? '0', WRK_CPU = env.WRK_CPU ?? '1';
const log = (m) => process.stderr.write(`${m}\n`);

const dir = mkdtempSync(path.join(os.tmpdir(), 'tsgi-bench-static-'));
const pub = path.join(dir, 'public');
mkdirSync(pub);
const FILES = { '1k': randomBytes(1024), '1m': randomBytes(1024 * 1024) };
for (const [name, bytes] of Object.entries(FILES)) writeFileSync(path.join(pub, `${name}.bin`), bytes);
writeFileSync(path.join(dir, 'app.cjs'), "module.exports = () => ({ status: 404, body: 'not static' });\n");

const children = [];
function start(name, argv, extraEnv = {}) {
  const child = spawn('taskset', ['-c', SERVER_CPU, ...argv], { cwd: root, env: { ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  child.output = () => out;
  child.on('exit', () => { child.exited = true; });
  children.push(child);
  return child;
}
const stopAll = () => { for (const c of children) if (!c.exited) try { c.kill('SIGTERM'); } catch { /* gone */ } };
process.on('exit', () => { stopAll(); rmSync(dir, { recursive: true, force: true }); });

function get(port, p) {
  return new Promise((resolve, reject) => {
    request({ port, host: '127.0.0.1', path: p }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c)).on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    }).on('error', reject).end();
  });
}

async function ready(s) {
  for (let i = 0; i < 100; i++) {
    await sleep(100);
    if (s.child.exited) throw new Error(`${s.name} exited:\n${s.child.output()}`);
    try {
      for (const [name, bytes] of Object.entries(FILES)) {
        const r = await get(s.port, `/static/${name}.bin`);
        if (r.status !== 200 || !r.body.equals(bytes)) throw new Error(`bad reply from ${s.name}: ${r.status}, ${r.body.length} bytes`);
      }
      return;
    } catch (err) {
      if (String(err).includes('bad reply')) throw err;
    }
  }
  throw new Error(`${s.name} did not start:\n${s.child.output()}`);
}

function wrk(port, file, seconds) {
  const out = execFileSync('taskset', ['-c', WRK_CPU, 'wrk', '-t1', `-c${CONNECTIONS}`, `-d${seconds}s`,
    `http://127.0.0.1:${port}/static/${file}.bin`], { encoding: 'utf8' });
  if (/Socket errors|Non-2xx/.test(out)) throw new Error(`errors:\n${out}`);
  return Number(/(\d+) requests in/.exec(out)[1]);
}

const servers = [];
const add = (name, port, argv, extraEnv) => servers.push({ name, port, child: start(name, argv, extraEnv) });
add('tsgi --static-map', 18801, [process.execPath, path.join(root, 'bin', 'tsgi'), '--http', '127.0.0.1:18801',
  '--static-map', `/static=${pub}`, path.join(dir, 'app.cjs')]);
writeFileSync(path.join(dir, 'nginx.conf'), nginxConfig({ dir, by: 'bench/run-static.mjs', http: `
  sendfile on;
  tcp_nopush on;
  open_file_cache max=1000 inactive=60s;
  open_file_cache_valid 1s;`, servers: `
  server {
    listen 127.0.0.1:18802;
    location /static/ { alias ${pub}/; }
  }` }));
add('nginx', 18802, ['nginx', '-p', dir, '-c', path.join(dir, 'nginx.conf')]);
add('express.static (node:http)', 18803, [process.execPath, path.join(here, 'servers', 'static-express.mjs')],
  { PORT: '18803', DIR: pub });
const fastifyStatic = existsSync(path.join(root, 'node_modules', '@fastify', 'static'));
if (fastifyStatic) {
  add('@fastify/static', 18804, [process.execPath, path.join(here, 'servers', 'static-fastify.mjs')], { PORT: '18804', DIR: pub });
} else {
  log('bench-static: @fastify/static is not installed (npm install): skipped');
}
for (const s of servers) await ready(s);

const targets = servers.flatMap((s) => Object.keys(FILES).map((file) => ({ ...s, file, name: `${s.name} ${file}` })));
await interleavedRuns({
  tag: 'bench-static', targets, runs: RUNS, warmup: WARMUP, settleMs: 100,
  load: (t, seconds) => wrk(t.port, t.file, seconds), log,
  die: (m) => { throw new Error(m); },
  measure: (t) => {
    const pids = processTree(t.child.pid);
    const c0 = cpuSeconds(pids);
    const w0 = childrenCpuSeconds();
    const t0 = performance.now();
    const n = wrk(t.port, t.file, DURATION);
    const secs = (performance.now() - t0) / 1000;
    return { rps: n / secs, us: ((cpuSeconds(pids) - c0) * 1e6) / n, client: ((childrenCpuSeconds() - w0) * 1e6) / n };
  },
  report: (t, r) => `${t.name}: ${fmt(r.rps)} req/s, ${fmt(r.us, 1)} µs CPU/req, wrk ${fmt(r.client, 1)} µs/req`,
});

const med = (t, k) => median(t.runs.map((r) => r[k]));
const find = (name, file) => targets.find((t) => t.name === `${name} ${file}`);
console.log(`| file | server | req/s | server CPU µs/req | wrk CPU µs/req | CPU/req vs nginx | req/s vs express.static |`);
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const file of Object.keys(FILES)) {
  const ngx = find('nginx', file), ex = find('express.static (node:http)', file);
  for (const t of targets.filter((x) => x.file === file)) {
    console.log(`| ${file} | ${t.name.slice(0, -file.length - 1)} | ${fmt(med(t, 'rps'))} | ${fmt(med(t, 'us'), 1)} | ` +
      `${fmt(med(t, 'client'), 1)} | ` +
      `${fmt(med(t, 'us') / med(ngx, 'us'), 2)}× | ${fmt(med(t, 'rps') / med(ex, 'rps'), 1)}× |`);
  }
}
stopAll();
