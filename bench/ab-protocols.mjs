#!/usr/bin/env node
// A/B of two tsgi builds on every protocol, pinned: the hello-world server
// (bench/servers/tsgi-cgi.mjs) on SERVER_CPU, `tsgi bench` (native/loadgen)
// on CLIENT_CPU. Per protocol, RUNS rounds, each starting A then B afresh
// (interleaved, so a slow minute hits both); per run the requests/s and the
// server's CPU µs per request (utime + stime from /proc/PID/stat). Prints
// the medians and B/A.
//
//   node bench/ab-protocols.mjs A_ROOT B_ROOT [http uwsgi scgi fastcgi]
//
// A_ROOT, B_ROOT: a checkout or a copy of dist/ + build/Release of each build.
// Environment: RUNS (5), DURATION s (5), WARMUP s (1), CONNECTIONS (64),
// PORT (18620), SERVER_CPU (0), CLIENT_CPU (1). Other workloads, as in
// instructions-protocols.sh: SERVER (a file in servers/, default
// tsgi-cgi.mjs; suite-tsgi.mjs answers the suite's routes), TARGET_PATH (/)
// and BENCH_ARGS (more `tsgi bench` options), e.g. the suite's post64k:
//   SERVER=suite-tsgi.mjs TARGET_PATH=/echo BENCH_ARGS="-m POST --body-file F" \
//     node bench/ab-protocols.mjs A B fastcgi
// HEADERS_FILE sends each line of a file as a request field (`-H`), values
// with spaces and all; the suite's headers20 is
//   SERVER=suite-tsgi.mjs HEADERS_FILE=bench/headers20.txt node bench/ab-protocols.mjs A B http
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const tsgi = path.join(here, '..', 'bin', 'tsgi');
const [a, b, ...rest] = process.argv.slice(2);
if (!a || !b) {
  process.stderr.write('usage: node bench/ab-protocols.mjs A_ROOT B_ROOT [http uwsgi scgi fastcgi]\n');
  process.exit(2);
}
const protocols = rest.length ? rest : ['http', 'uwsgi', 'scgi', 'fastcgi'];
const env = process.env;
const RUNS = Number(env.RUNS ?? 5);
const DURATION = Number(env.DURATION ?? 5);
const WARMUP = Number(env.WARMUP ?? 1);
const C = Number(env.CONNECTIONS ?? 64);
const PORT = Number(env.PORT ?? 18620);
const SERVER_CPU = env.SERVER_CPU ?? '0';
const CLIENT_CPU = env.CLIENT_CPU ?? '1';
const SERVER = env.SERVER ?? 'tsgi-cgi.mjs';
const TARGET_PATH = env.TARGET_PATH ?? '/';
const BENCH_ARGS = (env.BENCH_ARGS ?? '').split(/\s+/).filter(Boolean);
if (env.HEADERS_FILE) {
  for (const line of readFileSync(env.HEADERS_FILE, 'latin1').split('\n')) if (line) BENCH_ARGS.push('-H', line);
}
const TICK = 100;  // USER_HZ: /proc/PID/stat counts in 1/100 s

const cpuTicks = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const after = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(after[11]) + Number(after[12]);  // utime, stime (fields 14, 15)
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const bench = (args) => {
  const r = spawnSync('taskset', ['-c', CLIENT_CPU, process.execPath, tsgi, 'bench', ...BENCH_ARGS, ...args], {
    encoding: 'utf8',
  });
  return r.status === 0 ? JSON.parse(r.stdout) : null;
};
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function once(root, protocol) {
  const target = `${protocol}://127.0.0.1:${PORT}`;
  const server = spawn('taskset', ['-c', SERVER_CPU, process.execPath, path.join(here, 'servers', SERVER)], {
    env: { ...env, LISTEN: target, TSGI_ROOT: root }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    server.stdout.once('data', resolve);
    server.once('exit', () => reject(new Error(`${root}: the server exited`)));
  });
  try {
    const check = bench(['-c', '1', '-n', '1', '--expect-status', '200', '--json', `${target}${TARGET_PATH}`]);
    if (!check || check.errors.total) throw new Error(`${root} ${protocol}: the check request failed`);
    bench(['-c', String(C), '-d', String(WARMUP), '--json', `${target}${TARGET_PATH}`]);
    const pid = server.pid;  // taskset execs node: the same pid
    const t0 = cpuTicks(pid);
    const r = bench(['-c', String(C), '-d', String(DURATION), '--expect-status', '200', '--json', `${target}${TARGET_PATH}`]);
    const t1 = cpuTicks(pid);
    if (!r || r.errors.total) throw new Error(`${root} ${protocol}: errors under load`);
    return { rps: r.rps, us: ((t1 - t0) / TICK) * 1e6 / r.requests };
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    await sleep(200);
  }
}

const rows = [];
for (const p of protocols) {
  const runs = { a: [], b: [] };
  for (let i = 0; i < RUNS; i++) {
    runs.a.push(await once(a, p));
    runs.b.push(await once(b, p));
    process.stderr.write(`${p} run ${i + 1}/${RUNS}: A ${runs.a[i].rps.toFixed(0)} req/s ${runs.a[i].us.toFixed(2)} µs, ` +
      `B ${runs.b[i].rps.toFixed(0)} req/s ${runs.b[i].us.toFixed(2)} µs\n`);
  }
  const m = (k, s) => median(runs[k].map((x) => x[s]));
  rows.push([p, m('a', 'rps'), m('b', 'rps'), m('a', 'us'), m('b', 'us')]);
}
console.log('| protocol | A req/s | B req/s | B/A | A server µs/req | B server µs/req | B/A |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const [p, ra, rb, ua, ub] of rows) {
  console.log(`| ${p} | ${ra.toFixed(0)} | ${rb.toFixed(0)} | ${(rb / ra).toFixed(3)} | ${ua.toFixed(2)} | ${ub.toFixed(2)} | ${(ub / ua).toFixed(3)} |`);
}
