// /health and /ready on the HTTP stats listener, and the order of a stop
// that a load balancer needs: on SIGTERM /ready turns 503 at once, the
// listener goes on accepting for --drain-grace (replies say Connection:
// close), then refuses, and in-flight requests finish within
// --shutdown-timeout. Under a master, alone, and alone with --threads.
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, test } from 'node:test';
import { delay, httpGet } from '../helpers/index.js';
import { TsgiProcess } from '../helpers/tsgi-process.js';
import { Master } from '../master/helpers.js';
import { APP, OK_BODY, STATS_LINE } from './app.js';

const started: TsgiProcess[] = [];
after(async () => {
  for (const p of started) await (p instanceof Master ? p.cleanup() : p.stop());
});

function statsPort(p: TsgiProcess): number {
  return Number(STATS_LINE.exec(p.log())![1]);
}

/** A probe's status and body, timed. */
async function probe(port: number, path: '/health' | '/ready'): Promise<{ status: number; body: string; ms: number }> {
  const t0 = Date.now();
  const r = await httpGet(port, path, { timeoutMs: 3_000 });
  return { status: r.status, body: r.body, ms: Date.now() - t0 };
}

/** Whether a new TCP connection to the port is accepted (not refused). */
function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * SIGTERM with --drain-grace 1.5: /ready 503 at once while /health stays 200;
 * a new request during the grace is served with Connection: close; a request
 * in flight (/hold: 1.5 s) finishes; after the grace connections are refused.
 */
async function drainOrder(p: TsgiProcess): Promise<void> {
  const stats = statsPort(p);
  assert.equal((await probe(stats, '/ready')).status, 200);
  assert.equal((await probe(stats, '/health')).status, 200);
  const held = httpGet(p.port, '/hold', { timeoutMs: 8_000 });
  await delay(100);
  const signalled = Date.now();
  p.signal('SIGTERM');
  await delay(100);
  const ready = await probe(stats, '/ready');
  assert.equal(ready.status, 503);
  assert.equal(ready.body, 'not ready: draining\n');
  assert.equal((await probe(stats, '/health')).status, 200, 'alive while draining');
  const during = await httpGet(p.port, '/');
  assert.equal(during.status, 200, 'still accepting during --drain-grace');
  assert.equal(during.body, OK_BODY);
  assert.match(during.head, /\r\nconnection: close/i);
  assert.ok(Date.now() - signalled < 1_400, 'checked within the grace');
  while (Date.now() - signalled < 2_000) await delay(50);
  assert.equal(await connects(p.port), false, 'refused after --drain-grace');
  const h = await held;
  assert.equal(h.status, 200);
  assert.equal(h.body, OK_BODY);
  const e = await p.waitExit(10_000);
  assert.equal(e.code, 0, p.log());
}

test('under a master: /ready and /health answer 200 at once while every worker is blocked, then the drain order', async () => {
  const m = new Master(['--processes', '2', '--http', '127.0.0.1:0', '--stats', 'http://127.0.0.1:0',
    '--drain-grace', '1.5', APP]);
  started.push(m);
  await m.ready();
  const stats = statsPort(m);
  // /block holds a worker's event loop for 1.5 s: the probes read the master's state, never wait for a worker.
  const blocked = [httpGet(m.port, '/block'), httpGet(m.port, '/block')];
  await delay(200);
  for (const path of ['/ready', '/health'] as const) {
    const r = await probe(stats, path);
    assert.equal(r.status, 200, `${path}: ${r.body}`);
    assert.ok(r.ms < 200, `${path} took ${r.ms} ms`);
  }
  assert.match((await probe(stats, '/health')).body, /^alive: 2 answering, serving\n$/);
  await Promise.all(blocked);
  await drainOrder(m);
  assert.match(m.log(), /SIGTERM: draining: \/ready says 503, still accepting for 1\.5 s \(--drain-grace\)/);
});

test('alone: the same order', async () => {
  const p = await TsgiProcess.start(['--http', '127.0.0.1:0', '--stats', 'http://127.0.0.1:0', '--drain-grace', '1.5', APP]);
  started.push(p);
  await drainOrder(p);
});

test('alone with --threads 2: the same order', async () => {
  const p = await TsgiProcess.start(['--http', '127.0.0.1:0', '--threads', '2', '--stats', 'http://127.0.0.1:0',
    '--drain-grace', '1.5', APP]);
  started.push(p);
  assert.match((await probe(statsPort(p), '/health')).body, /^alive: 2 answering, serving\n$/);
  await drainOrder(p);
});

test('a stopped worker stops counting for /health; with none left answering, /health and /ready say 503', async () => {
  const m = new Master(['--processes', '1', '--http', '127.0.0.1:0', '--stats', 'http://127.0.0.1:0', APP]);
  started.push(m);
  await m.ready();
  const stats = statsPort(m);
  const [worker] = m.workerPids();
  process.kill(worker!, 'SIGSTOP');
  try {
    const deadline = Date.now() + 9_000;
    let h = await probe(stats, '/health');
    while (h.status === 200 && Date.now() < deadline) {
      await delay(250);
      h = await probe(stats, '/health');
    }
    assert.equal(h.status, 503);
    assert.equal(h.body, 'not alive: 0 answering, serving\n');
    assert.equal((await probe(stats, '/ready')).body, 'not ready: no worker answers\n');
  } finally {
    process.kill(worker!, 'SIGCONT');
  }
  const deadline = Date.now() + 3_000;
  while ((await probe(stats, '/health')).status !== 200) {
    assert.ok(Date.now() < deadline, '/health back to 200 once the worker answers again');
    await delay(100);
  }
  // Without --drain-grace the listener closes at once on SIGTERM, as before.
  m.signal('SIGTERM');
  await m.waitFor(/SIGTERM: stopping 1 worker/);
  assert.equal((await m.waitExit(10_000)).code, 0);
});

test('the probes answer GET and HEAD only, and with no cache', async () => {
  const p = await TsgiProcess.start(['--http', '127.0.0.1:0', '--stats', 'http://127.0.0.1:0', APP]);
  started.push(p);
  const r = await httpGet(statsPort(p), '/ready');
  assert.match(r.head, /\r\ncache-control: no-store/i);
  assert.equal(r.body, 'ready\n');
  const res = await fetch(`http://127.0.0.1:${statsPort(p)}/health`, { method: 'POST' });
  assert.equal(res.status, 405);
  const head = await fetch(`http://127.0.0.1:${statsPort(p)}/health`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
  await p.stop();
});
