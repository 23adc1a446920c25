#!/usr/bin/env node
// The cost of a /metrics scrape with --app-metrics: tsgi --processes N
// (default 4) on an app with METRICS prom-client metrics (default 50: 20
// counters × 5 label values, 15 gauges, 15 histograms × 2 label values with
// prom-client's 11 default buckets), scraped SCRAPES times one after the
// other, with and without --app-metrics (tsgi's own families only). Per
// scrape: the latency, the master's CPU and the workers' CPU (utime + stime
// from /proc over the scrapes, divided by their number; the once-a-second
// reports fall in both modes alike). tsgi pinned to SERVER_CPU (0), this
// client to CLIENT_CPU (1). RUNS rounds (3), interleaved; medians.
//
//   RUNS=3 SCRAPES=200 node bench/app-metrics.mjs
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds } from './lib/proc.mjs';
import { fmt, median } from './lib/stats.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const RUNS = Number(env.RUNS ?? 3);
const SCRAPES = Number(env.SCRAPES ?? 200);
const PROCESSES = Number(env.PROCESSES ?? 4);
const METRICS = Number(env.METRICS ?? 50);
const SERVER_CPU = env.SERVER_CPU ?? '0';
const CLIENT_CPU = env.CLIENT_CPU ?? '1';

execFileSync('taskset', ['-pc', CLIENT_CPU, String(process.pid)], { stdio: 'ignore' });
const dir = mkdtempSync(path.join(os.tmpdir(), 'tsgi-bench-app-metrics-'));
symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
const app = path.join(dir, 'app.js');
const counters = Math.round(METRICS * 0.4);
const gauges = Math.round(METRICS * 0.3);
const histograms = METRICS - counters - gauges;
writeFileSync(app, `
const client = require('prom-client');
const AGG = ['sum', 'max', 'min', 'average', 'first'];
for (let i = 0; i < ${counters}; i++) {
  const c = new client.Counter({ name: 'bench_counter_' + i + '_total', help: 'A counter.', labelNames: ['route'] });
  for (let r = 0; r < 5; r++) c.inc({ route: '/r' + r }, i + r);
}
for (let i = 0; i < ${gauges}; i++) new client.Gauge({ name: 'bench_gauge_' + i, help: 'A gauge.', aggregator: AGG[i % 5] }).set(i);
for (let i = 0; i < ${histograms}; i++) {
  const h = new client.Histogram({ name: 'bench_histogram_' + i + '_seconds', help: 'A histogram.', labelNames: ['method'] });
  for (const m of ['GET', 'POST']) for (let k = 0; k < 20; k++) h.observe({ method: m }, k / 10);
}
module.exports = () => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok\\n' });
`);

let port = 18300;
async function start(appMetrics) {
  const statsPort = ++port;
  const args = [path.join(root, 'bin', 'tsgi'), '--processes', String(PROCESSES), '--http', `127.0.0.1:${++port}`,
    '--stats', `http://127.0.0.1:${statsPort}`, ...(appMetrics ? ['--app-metrics'] : []), app];
  const child = spawn('taskset', ['-c', SERVER_CPU, process.execPath, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.setEncoding('utf8').on('data', (c) => { log += c; });
  const deadline = Date.now() + 30_000;
  while (!/workers ready/.test(log)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`tsgi did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const workers = [...log.matchAll(/\(pid (\d+)\) ready/g)].map((m) => Number(m[1]));
  return { child, workers, url: `http://127.0.0.1:${statsPort}/metrics` };
}

async function measure(appMetrics) {
  const s = await start(appMetrics);
  try {
    let bytes = 0;
    for (let i = 0; i < 5; i++) bytes = (await (await fetch(s.url)).text()).length;  // warm-up
    const times = [];
    const master0 = cpuSeconds([s.child.pid]);
    const workers0 = cpuSeconds(s.workers);
    for (let i = 0; i < SCRAPES; i++) {
      const t0 = performance.now();
      const res = await fetch(s.url);
      const text = await res.text();
      times.push(performance.now() - t0);
      if (res.status !== 200 || (appMetrics && !text.includes('bench_histogram_0_seconds_bucket'))) throw new Error(`bad scrape: ${res.status}`);
    }
    const sorted = [...times].sort((a, b) => a - b);
    return {
      bytes, ms: median(times), p99: sorted[Math.floor(sorted.length * 0.99)],
      // taskset's child is tsgi's node (exec), so its pid is the master's.
      master: (cpuSeconds([s.child.pid]) - master0) * 1000 / SCRAPES,
      workers: (cpuSeconds(s.workers) - workers0) * 1000 / SCRAPES,
    };
  } finally {
    s.child.kill('SIGTERM');
    await new Promise((r) => s.child.once('exit', r));
  }
}

const rows = { off: [], on: [] };
for (let r = 0; r < RUNS; r++) {
  rows.off.push(await measure(false));
  rows.on.push(await measure(true));
}
const med = (list, k) => median(list.map((x) => x[k]));
process.stdout.write(`tsgi --processes ${PROCESSES}, ${METRICS} app metrics (${counters} counters × 5 labels, ${gauges} gauges, ` +
  `${histograms} histograms × 2 labels × 11 buckets), ${SCRAPES} scrapes × ${RUNS} runs, medians; CLK_TCK granularity 10 ms over the run\n\n`);
process.stdout.write('| /metrics | body bytes | latency ms median | p99 ms | master CPU ms/scrape | all workers CPU ms/scrape |\n|---|---:|---:|---:|---:|---:|\n');
for (const [name, list] of [['tsgi\'s own (no --app-metrics)', rows.off], ['with --app-metrics', rows.on]]) {
  process.stdout.write(`| ${name} | ${fmt(med(list, 'bytes'))} | ${fmt(med(list, 'ms'), 2)} | ${fmt(med(list, 'p99'), 2)} | ` +
    `${fmt(med(list, 'master'), 2)} | ${fmt(med(list, 'workers'), 2)} |\n`);
}
