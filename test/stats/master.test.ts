// --stats under a master with two workers: each worker's numbers reach the
// master over IPC; the JSON and /metrics add up to the requests sent; a
// running request shows in its worker; a replaced worker counts a respawn.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Master, get } from '../master/helpers.js';
import { APP, ERROR_BODY, OK_BODY, STATS_LINE, dir } from './app.js';
import { fetchText, line, parseMetrics, sample } from './helpers.js';

let m: Master;
let statsUrl = '';
const SOCK = path.join(dir, 'app.sock');
const OK = 20;
const ERRORS = 2;

before(async () => {
  m = new Master(['--processes', '2', '--http', '127.0.0.1:0', '--socket', SOCK, '--stats', 'http://127.0.0.1:0', APP]);
  await m.ready();
  statsUrl = `http://127.0.0.1:${STATS_LINE.exec(m.log())![1]}`;
  // New connections, so both workers get some.
  for (let i = 0; i < OK; i++) assert.equal((await get(m.port, `/?n=${i}`)).body, OK_BODY);
  for (let i = 0; i < ERRORS; i++) assert.equal((await get(m.port, '/boom')).status, 500);
});

after(() => m.cleanup());

async function stats(): Promise<any> {
  const res = await fetchText(`${statsUrl}/`);
  assert.equal(res.status, 200);
  return JSON.parse(res.body);
}

test('the JSON has one entry per worker, and their counters add up to the traffic', async () => {
  const doc = await stats();
  assert.equal(doc.mode, 'master');
  assert.equal(doc.pid, m.pid);
  assert.equal(doc.load, 0);
  assert.equal(doc.sockets.length, 2);
  assert.equal(doc.sockets[0].name, `127.0.0.1:${m.port}`);
  assert.equal(doc.sockets[0].proto, 'http');
  assert.equal(doc.sockets[0].queue, 0);
  assert.ok(doc.sockets[0].max_queue > 0);
  // A unix listener's queue is not in /proc: null, not a made-up 0.
  assert.deepEqual(doc.sockets[1], { name: SOCK, proto: 'uwsgi', queue: null, max_queue: null, shared: 0, can_offload: 0 });
  assert.deepEqual(doc.workers.map((w: any) => w.id), [1, 2]);
  assert.deepEqual(doc.workers.map((w: any) => w.pid).sort(), m.workerPids().sort());
  const sum = (f: (w: any) => number) => doc.workers.reduce((n: number, w: any) => n + f(w), 0);
  assert.equal(sum((w) => w.requests), OK + ERRORS);
  assert.equal(sum((w) => w.exceptions), ERRORS);
  assert.equal(sum((w) => w.tx), OK * OK_BODY.length + ERRORS * ERROR_BODY.length);
  assert.equal(sum((w) => w.responses['2xx']), OK);
  for (const w of doc.workers) {
    assert.equal(w.status, 'idle');
    assert.equal(w.accepting, 1);
    assert.equal(w.respawn_count, 1);
    assert.equal(w.in_flight, 0);
    assert.ok(w.rss > 10 * 1024 * 1024, `rss ${w.rss}`);
    assert.ok(Math.abs(w.last_spawn - Date.now() / 1000) < 60);
    assert.ok(w.report_age !== null && w.report_age < 2_000, `report_age ${w.report_age}`);
    if (w.requests > 0) assert.ok(w.avg_rt > 0 && w.running_time > 0);
  }
});

test('/metrics: one series per worker, counters adding up to the traffic', async () => {
  const met = parseMetrics((await fetchText(`${statsUrl}/metrics`)).body);
  let requests = 0;
  let exceptions = 0;
  let observed = 0;
  for (const id of ['1', '2']) {
    requests += sample(met, 'tsgi_requests_total', { worker: id });
    exceptions += sample(met, 'tsgi_exceptions_total', { worker: id });
    observed += line(met, 'tsgi_request_duration_seconds_count', { worker: id });
    assert.ok(sample(met, 'tsgi_worker_rss_bytes', { worker: id }) > 0);
  }
  assert.equal(requests, OK + ERRORS);
  assert.equal(exceptions, ERRORS);
  assert.equal(observed, OK + ERRORS);
  assert.equal(sample(met, 'tsgi_workers', { status: 'idle' }), 2);
  assert.equal(sample(met, 'tsgi_listen_queue', { socket: `127.0.0.1:${m.port}` }), 0);
});

test('a running request shows in the current requests of the worker running it', async () => {
  const held = get(m.port, '/hold?from=master-test');
  await new Promise((r) => setTimeout(r, 300));
  const doc = await stats();
  const busy = doc.workers.filter((w: any) => w.status === 'busy');
  assert.equal(busy.length, 1, JSON.stringify(doc.workers.map((w: any) => [w.id, w.status])));
  assert.equal(doc.load, 1);
  assert.deepEqual(busy[0].current_requests.map((c: any) => [c.method, c.uri]), [['GET', '/hold?from=master-test']]);
  assert.ok(busy[0].current_requests[0].running_time >= 200_000);
  assert.equal((await held).body, OK_BODY);
});

test('a killed worker is replaced: its slot counts a respawn, the new pid starts from zero', async () => {
  const before = (await stats()).workers.find((w: any) => w.id === 1);
  process.kill(before.pid, 'SIGKILL');
  await m.waitFor(/^tsgi: worker 1 \(pid \d+\) ready$/, 2);
  const after = (await stats()).workers.filter((w: any) => w.id === 1);
  assert.equal(after.length, 1);
  assert.notEqual(after[0].pid, before.pid);
  assert.equal(after[0].respawn_count, 2);
  assert.equal(after[0].requests, 0);
  const met = parseMetrics((await fetchText(`${statsUrl}/metrics`)).body);
  assert.equal(sample(met, 'tsgi_worker_respawns_total', { worker: '1' }), 2);
});
