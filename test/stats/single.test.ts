// --stats on one process (no master): the uWSGI-shaped JSON field by field
// against the requests sent, /metrics through a Prometheus text parser, a
// running request in current_requests, and the HTTP server's other answers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { TsgiProcess } from '../helpers/tsgi-process.js';
import { get } from '../master/helpers.js';
import { APP, ERROR_BODY, OK_BODY, STATS_LINE } from './app.js';
import { fetchText, line, parseMetrics, sample } from './helpers.js';

let p: TsgiProcess;
let statsUrl = '';
const OK = 5;
const ERRORS = 2;

before(async () => {
  p = new TsgiProcess(['--http', '127.0.0.1:0', '--stats', 'http://127.0.0.1:0', APP]);
  await p.ready();
  statsUrl = `http://127.0.0.1:${(await p.waitFor(STATS_LINE))[1]}`;
  for (let i = 0; i < OK; i++) assert.equal((await get(p.port, `/ok?n=${i}`)).body, OK_BODY);
  for (let i = 0; i < ERRORS; i++) assert.equal((await get(p.port, '/boom')).status, 500);
});

after(() => p.stop());

/** Loopback-only: somaxconn caps the core's backlog of 1024. */
const maxQueue = Math.min(1024, Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8')));

test('GET / is the uWSGI-shaped JSON document, every field checked against the traffic', async () => {
  const res = await fetchText(`${statsUrl}/`);
  assert.equal(res.status, 200);
  assert.equal(res.type, 'application/json');
  const doc = JSON.parse(res.body);
  assert.deepEqual(Object.keys(doc).sort(),
    ['cwd', 'gid', 'last_reload', 'listen_queue', 'load', 'mode', 'pid', 'reloads', 'sockets', 'started_at', 'uid', 'version', 'workers']);
  assert.equal(doc.reloads, 0);
  assert.equal(doc.last_reload, null);
  assert.ok(Math.abs(doc.started_at - Date.now() / 1000) < 60, `started_at ${doc.started_at}`);
  assert.equal(doc.version, JSON.parse(readFileSync('package.json', 'utf8')).version);
  assert.equal(doc.mode, 'single');
  assert.equal(doc.pid, p.pid);
  assert.equal(doc.uid, process.getuid!());
  assert.equal(doc.gid, process.getgid!());
  assert.equal(typeof doc.cwd, 'string');
  assert.equal(doc.listen_queue, 0);
  assert.equal(doc.load, 0);
  assert.deepEqual(doc.sockets, [{ name: `127.0.0.1:${p.port}`, proto: 'http', queue: 0, max_queue: maxQueue, shared: 0, can_offload: 0 }]);
  assert.equal(doc.workers.length, 1);
  const w = doc.workers[0];
  const total = OK + ERRORS;
  assert.equal(w.id, 0);
  assert.equal(w.pid, p.pid);
  assert.equal(w.accepting, 1);
  assert.equal(w.requests, total);
  assert.equal(w.delta_requests, total);
  assert.equal(w.exceptions, ERRORS);
  assert.equal(w.status, 'idle');
  assert.ok(w.rss > 10 * 1024 * 1024 && w.rss < 1024 * 1024 * 1024, `rss ${w.rss}`);
  assert.ok(w.vsz >= w.rss, `vsz ${w.vsz}`);
  assert.ok(Number.isInteger(w.running_time) && w.running_time > 0, `running_time ${w.running_time}`);
  assert.ok(Number.isInteger(w.avg_rt) && w.avg_rt > 0 && w.avg_rt <= w.running_time, `avg_rt ${w.avg_rt}`);
  assert.ok(Math.abs(w.last_spawn - Date.now() / 1000) < 60, `last_spawn ${w.last_spawn}`);
  assert.equal(w.respawn_count, 1);
  assert.equal(w.tx, OK * OK_BODY.length + ERRORS * ERROR_BODY.length);
  assert.equal(w.in_flight, 0);
  assert.deepEqual(w.current_requests, []);
  assert.deepEqual(w.responses, { '1xx': 0, '2xx': OK, '3xx': 0, '4xx': 0, '5xx': ERRORS });
  assert.ok(w.duration_sum > 0 && w.duration_sum * 1e6 <= w.running_time + 1);
  assert.deepEqual(Object.keys(w.duration_buckets),
    ['0.001', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1.0', '2.5', '5.0', '10.0', '+Inf']);
  assert.equal(w.duration_buckets['+Inf'], total);
  assert.equal(typeof w.report_age, 'number');
  // /stats is the same document.
  const again = JSON.parse((await fetchText(`${statsUrl}/stats`)).body);
  assert.equal(again.workers[0].requests, total);
});

test('/metrics parses as Prometheus text and its counters match the traffic', async () => {
  const res = await fetchText(`${statsUrl}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.type, 'text/plain; version=0.0.4; charset=utf-8');
  const m = parseMetrics(res.body);
  const worker = { worker: '0' };
  assert.equal(sample(m, 'tsgi_requests_total', worker), OK + ERRORS);
  assert.equal(sample(m, 'tsgi_exceptions_total', worker), ERRORS);
  assert.equal(sample(m, 'tsgi_responses_total', { worker: '0', code: '2xx' }), OK);
  assert.equal(sample(m, 'tsgi_responses_total', { worker: '0', code: '5xx' }), ERRORS);
  assert.equal(sample(m, 'tsgi_sent_bytes_total', worker), OK * OK_BODY.length + ERRORS * ERROR_BODY.length);
  assert.equal(m.families.find((f) => f.name === 'tsgi_request_duration_seconds')?.type, 'HISTOGRAM');
  assert.equal(line(m, 'tsgi_request_duration_seconds_count', worker), OK + ERRORS);
  assert.equal(line(m, 'tsgi_request_duration_seconds_bucket', { worker: '0', le: '+Inf' }), OK + ERRORS);
  assert.ok(line(m, 'tsgi_request_duration_seconds_sum', worker) > 0);
  assert.ok(sample(m, 'tsgi_worker_rss_bytes', worker) > 10 * 1024 * 1024);
  assert.equal(sample(m, 'tsgi_requests_in_flight', worker), 0);
  assert.equal(sample(m, 'tsgi_worker_respawns_total', worker), 1);
  assert.equal(sample(m, 'tsgi_listen_queue', { socket: `127.0.0.1:${p.port}`, proto: 'http' }), 0);
  assert.equal(sample(m, 'tsgi_listen_queue_max', { socket: `127.0.0.1:${p.port}` }), maxQueue);
  assert.equal(sample(m, 'tsgi_workers', { status: 'idle' }), 1);
  for (const f of m.families) assert.notEqual(f.help, '', `${f.name} has HELP`);
});

test('a running request shows in current_requests with its method, URI and time', async () => {
  const held = get(p.port, '/hold?who=test');
  await new Promise((r) => setTimeout(r, 300));
  const doc = JSON.parse((await fetchText(`${statsUrl}/`)).body);
  const w = doc.workers[0];
  assert.equal(w.status, 'busy');
  assert.equal(w.in_flight, 1);
  assert.equal(doc.load, 1);
  assert.equal(w.current_requests.length, 1);
  const c = w.current_requests[0];
  assert.equal(c.method, 'GET');
  assert.equal(c.uri, '/hold?who=test');
  assert.ok(c.running_time >= 200_000 && c.running_time < 1_500_000, `running_time ${c.running_time} µs`);
  const m = parseMetrics((await fetchText(`${statsUrl}/metrics`)).body);
  assert.equal(sample(m, 'tsgi_requests_in_flight', { worker: '0' }), 1);
  assert.equal((await held).body, OK_BODY);
});

test('other paths get 404, other methods 405, each with a body saying what is served', async () => {
  const nope = await fetchText(`${statsUrl}/nope`);
  assert.equal(nope.status, 404);
  assert.match(nope.body, /\/metrics/);
  const post = await fetch(`${statsUrl}/metrics`, { method: 'POST', body: 'x', signal: AbortSignal.timeout(5_000) });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  await post.text();
});
