#!/usr/bin/env node
// Resident size per workload: for each of the suite's workloads, a fresh
// server (bench/servers/suite-tsgi.mjs over HTTP, and node:http beside it
// for reference) is measured idle, then loaded for DURATION seconds, and
// read again at the end of the load and SETTLE seconds later (tsgi gives
// memory back after an idle period: --release-memory, default 5 s).
//
//   DURATION=5 SETTLE=7 node bench/run-memory.mjs [--workloads=hello,post64k] [--servers=tsgi,node] [--no-write]
//
// Pinned like the suite: servers on SERVER_CPU (0), the load generator
// (build-loadgen/tsgi-loadgen) on CLIENT_CPU (1), CONNECTIONS (64).
// Appends a section to bench/RESULTS.md.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildLoadgen } from './lib/loadgen.mjs';
import { memory, processTree } from './lib/proc.mjs';
import { Processes, git, machine, pinned, runChild, sleep } from './lib/procs.mjs';
import { commandLine } from './lib/options.mjs';
import { fmt } from './lib/stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { flag, opt } = commandLine(import.meta.url);
const env = process.env;
const log = (m) => process.stderr.write(`${m}\n`);
const DURATION = Number(env.DURATION ?? 5);
const SETTLE = Number(env.SETTLE ?? 7);
const CONNECTIONS = Number(env.CONNECTIONS ?? 64);
const SERVER_CPU = env.SERVER_CPU ?? '0';
const CLIENT_CPU = env.CLIENT_CPU ?? '1';
const PORT = Number(env.BASE_PORT ?? 18471);

const WORKLOADS = {
  hello: ['-u', '/'],
  '16k': ['-u', '/16k'],
  '1m': ['-u', '/1m'],
  post64k: ['-m', 'POST', '-u', '/echo', '--body', 'x'.repeat(65536)],
  headers20: ['-u', '/', ...Array.from({ length: 20 }, (_, i) => ['-H', `X-Header-${i}: ${'v'.repeat(40)}`]).flat()],
  json: ['-u', '/api/users/42'],
  plaintext: ['-u', '/plaintext', '--pipeline', '16'],
};
const SERVERS = {
  tsgi: { file: 'suite-tsgi.mjs', env: (port) => ({ LISTEN: `http://127.0.0.1:${port}` }) },
  node: { file: 'suite-node.mjs', env: (port) => ({ LISTEN: `127.0.0.1:${port}` }) },
};
const workloads = (opt('workloads') ?? Object.keys(WORKLOADS).join(',')).split(',');
const servers = (opt('servers') ?? 'tsgi,node').split(',');
for (const w of workloads) if (!WORKLOADS[w]) throw new Error(`unknown workload ${w}`);
for (const s of servers) if (!SERVERS[s]) throw new Error(`unknown server ${s}`);

const LOADGEN = buildLoadgen(log);
const procs = new Processes('bench-memory');

async function waitUp(port, child) {
  for (let i = 0; i < 100; i++) {
    const [cmd, argv] = pinned(CLIENT_CPU, [LOADGEN, '-p', 'http', '-u', '/', '--once', `127.0.0.1:${port}`]);
    if ((await runChild(cmd, argv)).code === 0) return;
    if (child.exited) break;
    await sleep(100);
  }
  throw new Error(`server on ${port} did not answer:\n${child.output()}`);
}

const rows = [];
let port = PORT;
for (const w of workloads) {
  for (const s of servers) {
    port++;
    const child = procs.start(`${s} ${w}`, [process.execPath, path.join(here, 'servers', SERVERS[s].file)],
      { cpu: SERVER_CPU, env: { ...env, ...SERVERS[s].env(port) } });
    await waitUp(port, child);
    await sleep(1000);
    const pids = processTree(child.pid);
    const idle = memory(pids).rssMB;
    const [cmd, argv] = pinned(CLIENT_CPU, [LOADGEN, '-p', 'http', ...WORKLOADS[w], '-c', String(CONNECTIONS), '-d', String(DURATION), `127.0.0.1:${port}`]);
    const r = await runChild(cmd, argv);
    if (r.code !== 0) throw new Error(`loadgen failed on ${s} ${w}: ${r.err}`);
    const rps = JSON.parse(r.out).rps;
    const loaded = memory(pids).rssMB;
    await sleep(SETTLE * 1000);
    const m = memory(pids);
    rows.push({ workload: w, server: s, rps, idle, loaded, settled: m.rssMB, peak: m.peakMB });
    log(`bench-memory: ${w.padEnd(10)} ${s.padEnd(5)} idle ${fmt(idle, 1)} MB, end of load ${fmt(loaded, 1)}, ${SETTLE} s later ${fmt(m.rssMB, 1)} (peak ${fmt(m.peakMB, 1)}; ${fmt(rps)} req/s)`);
    await procs.stop(child);
  }
}
procs.stopAll();

const info = machine();
const command = `DURATION=${DURATION} SETTLE=${SETTLE} CONNECTIONS=${CONNECTIONS} node bench/run-memory.mjs --workloads=${workloads.join(',')} --servers=${servers.join(',')}`;
const md = [
  `## ${new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}: resident size per workload (${servers.join(', ')})`,
  '',
  `Machine: ${info.nproc} CPUs, ${info.cpu}; node ${info.node}; HEAD ${git('rev-parse', '--short', 'HEAD')}. A fresh server per row, ` +
    `pinned to CPU ${SERVER_CPU}, the load generator to CPU ${CLIENT_CPU}, ${CONNECTIONS} connections for ${DURATION} s.`,
  '',
  '```', command, '```', '',
  `| workload | server | req/s | idle MB | end of load MB | ${SETTLE} s later MB | ${SETTLE} s later ÷ idle | peak MB |`,
  '|---|---|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.workload} | ${r.server === 'tsgi' ? 'tsgi http' : 'node:http'} | ${fmt(r.rps)} | ${fmt(r.idle, 1)} | ${fmt(r.loaded, 1)} | ` +
    `${fmt(r.settled, 1)} | ${fmt(r.settled / r.idle, 2)}× | ${fmt(r.peak, 1)} |`),
  '',
].join('\n');
process.stdout.write(`\n${md}\n`);
if (!flag('no-write')) {
  const file = path.join(here, 'RESULTS.md');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/\n*$/, '\n\n') + md);
  log('bench-memory: appended to bench/RESULTS.md');
}
