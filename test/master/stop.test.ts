// SIGTERM/SIGINT stop the master gracefully: workers stop accepting, finish
// in-flight requests, exit; the master exits 0 and removes what it created.
// A second signal kills the workers at once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { alive, delay, requirePeer } from '../helpers/index.js';
import { Master, PID_APP, dir, get, wrk } from './helpers.js';

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('SIGTERM under load: a request in flight finishes, the master exits 0, --vacuum removes socket and pidfile', async (t) => {
  if (!requirePeer(t, 'wrk', 'wrk')) return;
  const sock = path.join(dir, 'stop.sock');
  const pidfile = path.join(dir, 'stop.pid');
  const m = new Master(['--http', '127.0.0.1:0', '--http', sock, '--processes', '2', '--pidfile', pidfile, '--vacuum', PID_APP]);
  try {
    await m.ready();
    const workers = m.workerPids();
    assert.ok(fs.existsSync(sock) && fs.existsSync(pidfile));
    const load = wrk(`http://127.0.0.1:${m.port}/`, { seconds: 3, connections: 16 });
    await load.started;
    const slow = get(sock, '/slow');
    await delay(300);
    const stoppedAt = Date.now();
    m.signal('SIGTERM');
    const r = await slow;
    assert.equal(r.status, 200);
    assert.match(r.body, /slow done$/);
    const e = await m.waitExit(10_000);
    assert.equal(e.code, 0, m.log());
    assert.ok(Date.now() - stoppedAt < 5_000, 'the stop took no longer than the request needed');
    assert.ok(!fs.existsSync(sock), 'socket file removed');
    assert.ok(!fs.existsSync(pidfile), 'pidfile removed');
    assert.ok(workers.every((p) => !alive(p)), 'workers exited');
    assert.match(m.log(), /^tsgi: SIGTERM: stopping 2 workers/m);
    assert.doesNotMatch(m.log(), /died|killing/);
    await load.done.catch(() => undefined);  // its errors after the stop are expected
  } finally {
    await m.cleanup();
  }
});

test('SIGINT then SIGINT again: the workers are killed at once, the master exits 1', async () => {
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '2', PID_APP]);
  try {
    await m.ready();
    const workers = m.workerPids();
    const slow = get(m.port, '/slow').catch((err: unknown) => err);
    await delay(200);
    m.signal('SIGINT');
    await m.waitFor(/SIGINT: stopping/);
    const t0 = Date.now();
    m.signal('SIGINT');
    const e = await m.waitExit(5_000);
    assert.equal(e.code, 1);
    assert.ok(Date.now() - t0 < 1_000, 'forced stop is immediate');
    assert.match(m.log(), /SIGINT again: killing 2 workers/);
    assert.ok(workers.every((p) => !alive(p)));
    await slow;
  } finally {
    await m.cleanup();
  }
});
