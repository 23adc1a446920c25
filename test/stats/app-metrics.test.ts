// --app-metrics: the app's own prom-client registry in /metrics, merged
// across workers (and threads) by prom-client's AggregatorRegistry: the app
// of docs/stats.md (examples/app-metrics/app.js) under --processes 2, its
// counter, histogram and gauges (sum, max, omit) exactly the sums of what
// each worker counted; a stopped worker and a throwing registry do not hold
// up or break the scrape; a metric named tsgi_* is left out; off, nothing of
// the app shows; and the same with one process and with --threads.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT, tempDir } from '../helpers/index.js';
import { TsgiProcess, runTsgi } from '../helpers/tsgi-process.js';
import { Master, get } from '../master/helpers.js';
import { STATS_LINE } from './app.js';
import { fetchText, line, parseMetrics, sample, type Metrics } from './helpers.js';

const EXAMPLE = path.join(ROOT, 'examples', 'app-metrics', 'app.js');
const dir = tempDir('tsgi-app-metrics-');
// The app's directory resolves prom-client as a project of its own would: from its node_modules.
fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));

/**
 * The example, answering with the pid of the process (and thread) that
 * served, plus what the tests need: /throw makes this process's registry
 * throw at the next read, /hang makes it never finish one; and a counter
 * named like one of tsgi's own.
 */
const APP = path.join(dir, 'app.js');
fs.writeFileSync(APP, `
const client = require('prom-client');
const { threadId } = require('node:worker_threads');
const shop = require(${JSON.stringify(EXAMPLE)});
let mode = 'ok';
new client.Gauge({ name: 'test_registry_probe', help: 'Throws or hangs on demand.', collect() {
  if (mode === 'throw') throw new Error('registry broken (expected by the test)');
  if (mode === 'hang') return new Promise(() => {});
} });
new client.Counter({ name: 'tsgi_requests_total', help: 'Named like tsgi\\'s own.' }).inc(1000);
module.exports = (req) => {
  if (req.PATH_INFO === '/throw' || req.PATH_INFO === '/hang') mode = req.PATH_INFO.slice(1);
  else shop(req);
  return { headers: { 'content-type': 'text/plain' }, body: process.pid + '.' + threadId };
};
`);

const SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
const CHECKOUTS = 3;

/** Orders of SIZES (then CHECKOUTS checkouts), each on a new connection, until each of `processes` served some (bounded); orders per pid. */
async function shop(port: number, processes: number): Promise<{ byServer: Map<string, number>; orders: number; items: number[] }> {
  const byServer = new Map<string, number>();
  const items: number[] = [];
  for (let round = 0; round < 20 && (round === 0 || byServer.size < processes); round++) {
    for (const n of SIZES) {
      const r = await get(port, `/order?items=${n}`);
      assert.equal(r.status, 200);
      const pid = r.body.split('.')[0]!;
      byServer.set(pid, (byServer.get(pid) ?? 0) + 1);
      items.push(n);
    }
  }
  assert.equal(byServer.size, processes, `orders reached ${[...byServer.keys()].join(', ')}`);
  for (let i = 0; i < CHECKOUTS; i++) assert.equal((await get(port, '/checkout')).status, 200);
  return { byServer, orders: items.length, items };
}

async function scrape(url: string): Promise<{ m: Metrics; text: string; ms: number }> {
  const t0 = performance.now();
  const res = await fetchText(`${url}/metrics`);
  const ms = performance.now() - t0;
  assert.equal(res.status, 200);
  return { m: parseMetrics(res.body), text: res.body, ms };
}

const workers = (m: Metrics, result: string): number => sample(m, 'tsgi_app_metrics_workers', { result });

/** Every app family against the orders sent: the exact sums (max for the largest order), the omitted gauge absent. */
function checkShop(m: Metrics, items: number[]): void {
  assert.equal(sample(m, 'shop_orders_total', { size: 'small' }), items.filter((n) => n <= 5).length);
  assert.equal(sample(m, 'shop_orders_total', { size: 'large' }), items.filter((n) => n > 5).length);
  for (const le of [1, 5, 10]) assert.equal(line(m, 'shop_order_items_bucket', { le: String(le) }), items.filter((n) => n <= le).length);
  assert.equal(line(m, 'shop_order_items_bucket', { le: '+Inf' }), items.length);
  assert.equal(line(m, 'shop_order_items_count', {}), items.length);
  assert.equal(line(m, 'shop_order_items_sum', {}), items.reduce((a, b) => a + b, 0));
  assert.equal(sample(m, 'shop_carts_open'), items.length - CHECKOUTS);
  assert.equal(sample(m, 'shop_largest_order_items'), Math.max(...items));
  assert.ok(!m.families.some((f) => f.name === 'shop_worker_start_time_seconds'), 'an aggregator: omit gauge is left out');
  assert.equal(m.families.find((f) => f.name === 'shop_order_items')?.type, 'HISTOGRAM');
}

/** tsgi's own tsgi_requests_total, per worker, and not the app's clashing one (1000 per process). */
function checkOwn(m: Metrics, requests: number): void {
  const own = m.series.filter((s) => s.name === 'tsgi_requests_total');
  assert.ok(own.every((s) => s.labels.worker !== undefined), 'only tsgi\'s own tsgi_requests_total');
  assert.equal(own.reduce((n, s) => n + s.value, 0), requests);
}

test('the app of docs/stats.md is examples/app-metrics/app.js', () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'stats.md'), 'utf8');
  const block = [...doc.matchAll(/```js\n([\s\S]*?)```/g)].map((b) => b[1]!).find((b) => b.includes('shop_orders_total'));
  assert.ok(block !== undefined, 'docs/stats.md shows the example');
  assert.equal(block.trim(), fs.readFileSync(EXAMPLE, 'utf8').trim());
});

test('--app-metrics needs --stats http://ADDR, and a prom-client the app can load', () => {
  const noStats = runTsgi(['--http', '127.0.0.1:0', '--app-metrics', APP]);
  assert.equal(noStats.code, 2);
  assert.match(noStats.stderr, /--app-metrics .* needs --stats http:\/\/ADDR/);
  const plain = runTsgi(['--http', '127.0.0.1:0', '--stats', '127.0.0.1:0', '--app-metrics', APP]);
  assert.equal(plain.code, 2);
  const lonely = tempDir('tsgi-app-metrics-none-');
  fs.writeFileSync(path.join(lonely, 'app.js'), 'module.exports = () => "ok";\n');
  const missing = runTsgi(['--http', '127.0.0.1:0', '--stats', 'http://127.0.0.1:0', '--app-metrics', path.join(lonely, 'app.js')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, new RegExp(`--app-metrics: prom-client cannot be found from ${lonely} \\(the app's directory\\)`));
});

let m: Master;
let url = '';
let sent: Awaited<ReturnType<typeof shop>>;

before(async () => {
  m = new Master(['--processes', '2', '--http', '127.0.0.1:0', '--stats', 'http://127.0.0.1:0', '--app-metrics', APP], { cwd: dir });
  await m.ready();
  url = `http://127.0.0.1:${STATS_LINE.exec(m.log())![1]}`;
  sent = await shop(m.port, 2);
});

after(() => m.cleanup());

test('--processes 2: the app\'s counter, histogram and gauges are the sums over both workers', async () => {
  const { m: met, text } = await scrape(url);
  assert.equal(workers(met, 'merged'), 2);
  assert.equal(workers(met, 'late'), 0);
  assert.equal(workers(met, 'failed'), 0);
  checkShop(met, sent.items);
  checkOwn(met, sent.orders + CHECKOUTS);
  assert.equal(text.match(/^# TYPE tsgi_requests_total /gm)?.length, 1);
  await m.waitFor(/^tsgi: --app-metrics: the app's metric tsgi_requests_total is left out of \/metrics: names starting with tsgi_ are tsgi's own$/);
  // The JSON document is tsgi's alone.
  assert.doesNotMatch((await fetchText(`${url}/`)).body, /shop_/);
});

test('--processes 2: a stopped worker does not hold up the scrape; its previous numbers count, marked late', async (t) => {
  const [pid] = m.workerPids();
  process.kill(pid!, 'SIGSTOP');
  t.after(() => process.kill(pid!, 'SIGCONT'));
  const { m: met, ms } = await scrape(url);
  assert.ok(ms < 2_000, `the scrape took ${ms.toFixed(0)} ms`);
  assert.equal(workers(met, 'late'), 1);
  assert.equal(workers(met, 'merged'), 1);
  checkShop(met, sent.items);
});

test('--processes 2: a registry that throws leaves out that worker\'s numbers only, and tsgi\'s own metrics stay', async () => {
  const broken = (await get(m.port, '/throw')).body.split('.')[0]!;
  const { m: met } = await scrape(url);
  assert.equal(workers(met, 'failed'), 1);
  assert.equal(workers(met, 'merged'), 1);
  assert.equal(line(met, 'shop_order_items_count', {}), sent.orders - sent.byServer.get(broken)!);
  checkOwn(met, sent.orders + CHECKOUTS + 1);
  await m.waitFor(/^tsgi: --app-metrics: the app's registry threw: registry broken \(expected by the test\)$/);
});

test('one process: the registry read in place; a hung collect() is late, not a hung scrape', async () => {
  const p = await TsgiProcess.start(['--http', '127.0.0.1:0', '--stats', 'http://127.0.0.1:0', '--app-metrics', APP], { cwd: dir });
  try {
    const single = `http://127.0.0.1:${(await p.waitFor(STATS_LINE))[1]}`;
    const s = await shop(p.port, 1);
    let { m: met } = await scrape(single);
    assert.equal(workers(met, 'merged'), 1);
    checkShop(met, s.items);
    checkOwn(met, s.orders + CHECKOUTS);
    await get(p.port, '/hang');
    const late = await scrape(single);
    assert.ok(late.ms < 2_000, `the scrape took ${late.ms.toFixed(0)} ms`);
    met = late.m;
    assert.equal(workers(met, 'late'), 1);
    checkShop(met, s.items);
  } finally {
    await p.stop();
  }
});

test('without --app-metrics nothing of the app is read or shown', async () => {
  const p = await TsgiProcess.start(['--http', '127.0.0.1:0', '--stats', 'http://127.0.0.1:0', APP], { cwd: dir });
  try {
    const single = `http://127.0.0.1:${(await p.waitFor(STATS_LINE))[1]}`;
    await get(p.port, '/order?items=2');
    const { m: met, text } = await scrape(single);
    assert.doesNotMatch(text, /^(# [A-Z]+ )?(shop_|test_registry_probe|tsgi_app_metrics)/m);
    checkOwn(met, 1);
  } finally {
    await p.stop();
  }
});

test('--processes 2 --threads 2: every thread\'s registry is in the sum', async () => {
  const p = new Master(['--processes', '2', '--threads', '2', '--http', '127.0.0.1:0', '--stats', 'http://127.0.0.1:0', '--app-metrics', APP],
    { cwd: dir });
  try {
    await p.ready();
    const threaded = `http://127.0.0.1:${STATS_LINE.exec(p.log())![1]}`;
    const s = await shop(p.port, 2);
    const { m: met } = await scrape(threaded);
    assert.equal(workers(met, 'merged'), 2);
    checkShop(met, s.items);
  } finally {
    await p.cleanup();
  }
});

test('--threads 2, one process: both threads\' registries are in the sum', async () => {
  const p = await TsgiProcess.start(['--threads', '2', '--http', '127.0.0.1:0', '--stats', 'http://127.0.0.1:0', '--app-metrics', APP],
    { cwd: dir });
  try {
    const threaded = `http://127.0.0.1:${(await p.waitFor(STATS_LINE))[1]}`;
    const s = await shop(p.port, 1);
    const { m: met } = await scrape(threaded);
    assert.equal(workers(met, 'merged'), 1);
    checkShop(met, s.items);
  } finally {
    await p.stop();
  }
});
