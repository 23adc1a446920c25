// The load generators' own cost: client CPU time per request of wrk, of
// `tsgi bench` (the engine in the addon, inside a Node process) and of the
// standalone build-loadgen/tsgi-loadgen (the same engine without Node), all over
// HTTP/1.1 keep-alive against one tsgi server, same -c, interleaved.
// Server pinned to SERVER_CPU (0), client to CLIENT_CPU (1). CPU per client is
// the whole process's user + system time (from /proc, when it is reaped:
// Node's start-up included), divided by the requests it completed.
//
//   RUNS=5 DURATION=5 CONNECTIONS=64 node bench/run-client-cpu.mjs
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildLoadgen } from './lib/loadgen.mjs';
import { childrenCpuSeconds, cpuSeconds } from './lib/proc.mjs';
import { fmt, median } from './lib/stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const env = process.env;
const RUNS = Number(env.RUNS ?? 5), DURATION = Number(env.DURATION ?? 5), CONNECTIONS = Number(env.CONNECTIONS ?? 64);
const SERVER_CPU = env.SERVER_CPU ?? '0', CLIENT_CPU = env.CLIENT_CPU ?? '1', PORT = Number(env.PORT ?? 18301);
const LOADGEN = buildLoadgen();
const target = `127.0.0.1:${PORT}`;

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { err += d; });
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')}: ${code}\n${err}`))));
  });
}

const CLIENTS = {
  wrk: {
    argv: ['wrk', '-t1', `-c${CONNECTIONS}`, `-d${DURATION}s`, `http://${target}/`],
    requests: (out) => Number(/(\d+) requests in/.exec(out)[1]),
  },
  'tsgi bench': {
    argv: [process.execPath, path.join(root, 'bin/tsgi'), 'bench', '--json', '-c', String(CONNECTIONS), '-d', `${DURATION}s`,
      '--expect-body-length', '14', target],
    requests: (out) => { const j = JSON.parse(out); if (j.errors.total) throw new Error(out); return j.requests; },
  },
  'loadgen (standalone)': {
    argv: [LOADGEN, '-c', String(CONNECTIONS), '-d', String(DURATION), '--expect-length', '14', target],
    requests: (out) => { const j = JSON.parse(out); if (j.errors.total) throw new Error(out); return j.requests; },
  },
};

const server = spawn('taskset', ['-c', SERVER_CPU, process.execPath, path.join(here, 'servers/tsgi.mjs')],
  { env: { ...env, PORT: String(PORT) }, stdio: 'inherit' });
process.on('exit', () => server.kill());
await new Promise((r) => setTimeout(r, 1000));
await run('taskset', ['-c', CLIENT_CPU, ...CLIENTS.wrk.argv.slice(0, 3), '-d2s', CLIENTS.wrk.argv[4]]);  // warm-up

const rows = Object.fromEntries(Object.keys(CLIENTS).map((k) => [k, []]));
for (let i = 0; i < RUNS; i++) {
  for (const [name, c] of Object.entries(CLIENTS)) {
    const cpu0 = childrenCpuSeconds();
    const srv0 = cpuSeconds([server.pid]);
    const t0 = performance.now();
    const out = await run('taskset', ['-c', CLIENT_CPU, ...c.argv]);
    const wall = (performance.now() - t0) / 1000;
    const cpu = childrenCpuSeconds() - cpu0;
    const requests = c.requests(out);
    const r = { rps: requests / DURATION, clientUs: (cpu * 1e6) / requests, clientUse: cpu / wall,
      serverUs: ((cpuSeconds([server.pid]) - srv0) * 1e6) / requests };
    rows[name].push(r);
    process.stderr.write(`run ${i + 1}/${RUNS} ${name.padEnd(22)} ${fmt(r.rps).padStart(8)} req/s  client ${fmt(r.clientUs, 2)} µs/req ` +
      `(${fmt(r.clientUse * 100)}% of its CPU)  server ${fmt(r.serverUs, 2)} µs/req\n`);
  }
}
server.kill();
console.log(`| client (-c${CONNECTIONS}, ${DURATION} s, ${RUNS} interleaved runs) | req/s median | client CPU µs/req median (min–max) | client CPU use | server CPU µs/req |`);
console.log('|---|---:|---:|---:|---:|');
for (const [name, rs] of Object.entries(rows)) {
  const us = rs.map((r) => r.clientUs);
  console.log(`| ${name} | ${fmt(median(rs.map((r) => r.rps)))} | ${fmt(median(us), 2)} (${fmt(Math.min(...us), 2)}–${fmt(Math.max(...us), 2)}) | ` +
    `${fmt(median(rs.map((r) => r.clientUse)) * 100)}% | ${fmt(median(rs.map((r) => r.serverUs)), 2)} |`);
}
