// The Node runtime of each worker in the stats: a master with two workers,
// one of which has its event loop blocked for 400 ms and garbage made; the
// JSON's `node` and /metrics' tsgi_nodejs_* families show the lag, the GC
// runs, the heap and the resources of that worker, and plausible figures for
// the other.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { delay } from '../helpers/index.js';
import { Master, get } from '../master/helpers.js';
import { STATS_LINE, dir } from './app.js';
import { fetchText, parseMetrics, sample } from './helpers.js';

const APP = path.join(dir, 'runtime-app.js');
writeFileSync(APP, `
module.exports = (req) => {
  if (req.PATH_INFO === '/block') { const end = Date.now() + 400; while (Date.now() < end); }
  if (req.PATH_INFO === '/garbage') { let keep = 0; for (let i = 0; i < 200000; i++) keep += [i, { i }].length; globalThis.kept = keep; }
  return { headers: { 'content-type': 'text/plain' }, body: String(process.pid) };
};
`);

let m: Master;
let statsUrl = '';

before(async () => {
  m = new Master(['--processes', '2', '--http', '127.0.0.1:0', '--stats', 'http://127.0.0.1:0', APP]);
  await m.ready();
  statsUrl = `http://127.0.0.1:${STATS_LINE.exec(m.log())![1]}`;
});

after(() => m.cleanup());

async function doc(): Promise<any> {
  return JSON.parse((await fetchText(`${statsUrl}/`)).body);
}

test('each worker reports its event-loop lag and utilization, heap, GC and active resources', async () => {
  const blocked = Number((await get(m.port, '/block')).body);
  for (let i = 0; i < 5; i++) assert.equal((await get(m.port, '/garbage')).status, 200);
  // The lag is reported per window of at least 5 s: wait for the window with the block.
  let d: any;
  const end = Date.now() + 15_000;
  for (;;) {
    d = await doc();
    const w = d.workers.find((x: any) => x.pid === blocked);
    if (w?.node !== null && w.node.eventloop_lag_max >= 0.35) break;
    assert.ok(Date.now() < end, `no 400 ms lag reported for worker pid ${blocked}:\n${JSON.stringify(d.workers, null, 1)}`);
    await delay(250);
  }
  for (const w of d.workers) {
    const n = w.node;
    assert.ok(n !== null, `worker ${w.id} has no runtime figures`);
    assert.deepEqual(Object.keys(n).sort(), ['active_resources', 'array_buffers', 'eventloop_lag_max', 'eventloop_lag_mean',
      'eventloop_lag_p50', 'eventloop_lag_p99', 'eventloop_utilization', 'external', 'gc', 'heap_total', 'heap_used', 'window']);
    assert.ok(n.eventloop_utilization >= 0 && n.eventloop_utilization <= 1, `utilization ${n.eventloop_utilization}`);
    assert.ok(n.window > 0, `window ${n.window}`);
    assert.ok(n.eventloop_lag_p50 >= 0 && n.eventloop_lag_p50 <= n.eventloop_lag_p99 && n.eventloop_lag_p99 <= n.eventloop_lag_max,
      JSON.stringify(n));
    assert.ok(n.heap_used > 1e6 && n.heap_used <= n.heap_total, JSON.stringify(n));
    assert.ok(n.external > 0 && n.array_buffers >= 0);
    assert.ok(n.active_resources >= 1, `active resources ${n.active_resources} (the IPC channel at least)`);
    assert.deepEqual(Object.keys(n.gc).sort(), ['incremental', 'major', 'minor', 'weakcb']);
    if (w.pid !== blocked) assert.ok(n.eventloop_lag_max < 0.35, `worker ${w.id} shows the other's block: ${JSON.stringify(n)}`);
  }
  const total = d.workers.reduce((s: number, w: any) => s + w.node.gc.minor.count, 0);
  assert.ok(total > 0, 'the garbage made minor collections');
  for (const w of d.workers) for (const k of Object.keys(w.node.gc)) {
    const g = w.node.gc[k];
    assert.ok(g.count === 0 ? g.seconds === 0 : g.seconds > 0, `${k}: ${JSON.stringify(g)}`);
  }
});

test('/metrics: tsgi_nodejs_* per worker, in the exposition format', async () => {
  const met = parseMetrics((await fetchText(`${statsUrl}/metrics`)).body);
  const d = await doc();
  for (const w of d.workers) {
    const id = String(w.id);
    assert.ok(sample(met, 'tsgi_nodejs_heap_used_bytes', { worker: id }) > 1e6);
    assert.ok(sample(met, 'tsgi_nodejs_heap_total_bytes', { worker: id }) > 1e6);
    const u = sample(met, 'tsgi_nodejs_eventloop_utilization_ratio', { worker: id });
    assert.ok(u >= 0 && u <= 1);
    assert.ok(sample(met, 'tsgi_nodejs_eventloop_lag_p99_seconds', { worker: id }) >= 0);
    assert.ok(sample(met, 'tsgi_nodejs_eventloop_lag_max_seconds', { worker: id }) >= 0);
    assert.ok(sample(met, 'tsgi_nodejs_active_resources', { worker: id }) >= 1);
    for (const kind of ['minor', 'major', 'incremental', 'weakcb']) {
      assert.ok(sample(met, 'tsgi_nodejs_gc_runs_total', { worker: id, kind }) >= 0);
      assert.ok(sample(met, 'tsgi_nodejs_gc_duration_seconds_total', { worker: id, kind }) >= 0);
    }
  }
  const lagMax = Math.max(...['1', '2'].map((id) => sample(met, 'tsgi_nodejs_eventloop_lag_max_seconds', { worker: id })));
  assert.ok(lagMax >= 0.35, `the blocked worker's lag: ${lagMax}`);
});
