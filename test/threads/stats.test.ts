// --threads N with --stats: each thread counts its own requests and the
// process's numbers are their sum, in the JSON (worker totals, cores[] per
// thread) and in /metrics, alone and under a master.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { delay } from '../helpers/index.js';
import { TsgiProcess } from '../helpers/tsgi-process.js';
import { fetchText, line, parseMetrics, readPlain, sample } from '../stats/helpers.js';
import { APP, OK_BODY, dir, spread, startThreaded, threadsOf } from './helpers.js';

after(() => fs.rmSync(dir, { recursive: true, force: true }));

const STATS_LINE = /^tsgi: stats on http:\/\/127\.0\.0\.1:(\d+)$/m;
const ERROR_BODY = 'Internal Server Error\n';

interface Core { id: number; requests: number; in_request: number; exceptions: number; tx: number; in_flight: number }
interface WorkerDoc {
  id: number; pid: number; requests: number; exceptions: number; tx: number; in_flight: number; status: string;
  responses: Record<string, number>; duration_buckets: Record<string, number>; avg_rt: number;
  current_requests: Array<{ method: string; uri: string }>; cores?: Core[];
}

async function statsJson(url: string): Promise<{ load: number; mode: string; workers: WorkerDoc[] }> {
  const res = await fetchText(`${url}/`);
  assert.equal(res.status, 200, res.body);
  return JSON.parse(res.body);
}

test('--threads 2 --stats: the JSON and /metrics count every request of both threads, with each thread in cores[]', async () => {
  const p = await startThreaded(['--stats', 'http://127.0.0.1:0']);
  try {
    const url = `http://127.0.0.1:${(await p.waitFor(STATS_LINE))[1]}`;
    const served = await spread(p.port, 8, 25, (c, i) => `/ok/${c}/${i}`);
    assert.equal(threadsOf(served).length, 2, `served by threads ${threadsOf(served).join(', ')}`);
    const ERRORS = 3;
    for (let i = 0; i < ERRORS; i++) assert.equal((await fetch(`http://127.0.0.1:${p.port}/boom`)).status, 500);
    const total = served.size + ERRORS;

    const doc = await statsJson(url);
    assert.equal(doc.mode, 'single');
    assert.equal(doc.workers.length, 1);
    const w = doc.workers[0]!;
    assert.equal(w.id, 0);
    assert.equal(w.pid, p.pid);
    assert.equal(w.requests, total);
    assert.equal(w.exceptions, ERRORS);
    assert.equal(w.tx, served.size * OK_BODY.length + ERRORS * ERROR_BODY.length);
    assert.deepEqual(w.responses, { '1xx': 0, '2xx': served.size, '3xx': 0, '4xx': 0, '5xx': ERRORS });
    assert.equal(w.duration_buckets['+Inf'], total);
    assert.ok(w.avg_rt > 0);
    assert.equal(w.in_flight, 0);
    assert.equal(w.status, 'idle');
    assert.equal(w.cores?.length, 2);
    assert.deepEqual(w.cores!.map((c) => c.id), [1, 2]);
    assert.equal(w.cores!.reduce((n, c) => n + c.requests, 0), total);
    assert.ok(w.cores!.every((c) => c.requests > 0), JSON.stringify(w.cores));
    assert.equal(w.cores!.reduce((n, c) => n + c.exceptions, 0), ERRORS);
    assert.equal(w.cores!.reduce((n, c) => n + c.tx, 0), w.tx);

    const res = await fetchText(`${url}/metrics`);
    assert.equal(res.status, 200);
    const m = parseMetrics(res.body);
    assert.equal(sample(m, 'tsgi_requests_total', { worker: '0' }), total);
    assert.equal(sample(m, 'tsgi_exceptions_total', { worker: '0' }), ERRORS);
    assert.equal(sample(m, 'tsgi_responses_total', { worker: '0', code: '2xx' }), served.size);
    assert.equal(line(m, 'tsgi_request_duration_seconds_count', { worker: '0' }), total);
    assert.equal(line(m, 'tsgi_request_duration_seconds_bucket', { worker: '0', le: '+Inf' }), total);
    const perThread = ['1', '2'].map((t) => sample(m, 'tsgi_thread_requests_total', { worker: '0', thread: t }));
    assert.equal(perThread[0]! + perThread[1]!, total);
  } finally {
    await p.stop();
  }
});

test('--threads 2 --stats: a request running on one thread is in the process\'s in_flight and current_requests', async () => {
  const p = await startThreaded(['--stats', 'http://127.0.0.1:0']);
  try {
    const url = `http://127.0.0.1:${(await p.waitFor(STATS_LINE))[1]}`;
    const hold = fetch(`http://127.0.0.1:${p.port}/hold`).then((r) => r.text());
    await delay(300);
    const doc = await statsJson(url);
    const w = doc.workers[0]!;
    assert.equal(w.in_flight, 1);
    assert.equal(doc.load, 1);
    assert.equal(w.status, 'busy');
    assert.deepEqual(w.current_requests.map((c) => `${c.method} ${c.uri}`), ['GET /hold']);
    assert.deepEqual(w.cores?.map((c) => c.in_flight).sort(), [0, 1]);
    assert.equal(await hold, OK_BODY);
    assert.equal((await statsJson(url)).workers[0]!.requests, 1);
  } finally {
    await p.stop();
  }
});

test('--threads 2 --stats PORT (plain): one JSON document with the threads\' sum', async () => {
  const p = await startThreaded(['--stats', '127.0.0.1:0']);
  try {
    const port = Number((await p.waitFor(/^tsgi: stats on 127\.0\.0\.1:(\d+) \(one JSON document per connection\)$/m))[1]);
    const served = await spread(p.port, 4, 10, (c, i) => `/p/${c}/${i}`);
    const doc = await readPlain(port) as { workers: WorkerDoc[] };
    assert.equal(doc.workers[0]!.requests, served.size);
    assert.equal(doc.workers[0]!.cores?.reduce((n, c) => n + c.requests, 0), served.size);
  } finally {
    await p.stop();
  }
});

test('--processes 2 --threads 2 --stats: each worker reports its threads\' sum to the master; the totals match the traffic', async () => {
  const p = new TsgiProcess(['--http', '127.0.0.1:0', '--processes', '2', '--threads', '2', '--stats', 'http://127.0.0.1:0', APP]);
  try {
    await p.ready();
    await p.waitFor(/^tsgi: 2 workers ready$/m);
    const url = `http://127.0.0.1:${(await p.waitFor(STATS_LINE))[1]}`;
    const served = await spread(p.port, 8, 25, (c, i) => `/w/${c}/${i}`);
    const doc = await statsJson(url);
    assert.equal(doc.mode, 'master');
    assert.deepEqual(doc.workers.map((w) => w.id), [1, 2]);
    assert.equal(doc.workers.reduce((n, w) => n + w.requests, 0), served.size);
    for (const w of doc.workers) {
      assert.equal(w.cores?.length, 2);
      assert.equal(w.cores!.reduce((n, c) => n + c.requests, 0), w.requests);
    }
    const m = parseMetrics((await fetchText(`${url}/metrics`)).body);
    const sum = ['1', '2'].reduce((n, id) => n + sample(m, 'tsgi_requests_total', { worker: id }), 0);
    assert.equal(sum, served.size);
    let threads = 0;
    for (const id of ['1', '2']) for (const t of ['1', '2']) threads += sample(m, 'tsgi_thread_requests_total', { worker: id, thread: t });
    assert.equal(threads, served.size);
  } finally {
    await p.stop();
  }
});
