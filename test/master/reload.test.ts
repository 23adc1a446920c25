// SIGHUP under load loses nothing. CI gate: ten reloads in a row while wrk
// hammers the port, ZERO failed requests, ZERO socket errors (connect, read,
// write, timeout) and no non-2xx reply, with keep-alive connections (wrk's
// default) — the case where reloads of other servers drop requests.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { delay, requirePeer } from '../helpers/index.js';
import { Master, PID_APP, dir, get, show, wrk, writeApp } from './helpers.js';

after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function reloadsUnderLoad(mode: 'full' | 'chain', reloads: number): Promise<void> {
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '2', '--reload-mode', mode, PID_APP]);
  try {
    await m.ready();
    const before = m.workerPids();
    // The load runs until the last reload is done and its old workers have
    // drained (wrk's -d is only a bound), however slow the machine.
    const load = wrk(`http://127.0.0.1:${m.port}/`, { seconds: 120, connections: 32 });
    await load.started;
    for (let i = 1; i <= reloads; i++) {
      m.signal('SIGHUP');
      await m.waitFor(/^tsgi: reload done in/, i, 20_000);
    }
    await m.waitFor(/exited \(code 0\)$/, 2 * reloads, 20_000);
    load.stop();
    const r = await load.done;
    if (process.env.TSGI_TEST_VERBOSE) process.stderr.write(m.log().split('\n').filter((l) => /reload done/.test(l)).join('\n') + '\n');
    assert.equal(m.count(/^tsgi: reload done in/), reloads, 'every SIGHUP was a reload of its own (none still running when wrk ended)');
    assert.ok(r.requests > 1000, show(r));
    assert.equal(r.errors, 0, show(r));
    assert.equal(r.non2xx, 0, show(r));
    const after = m.workerPids();
    assert.equal(after.length, 2);
    assert.ok(after.every((p) => !before.includes(p)), 'the workers were replaced');
    assert.doesNotMatch(m.log(), /died|app error/);
    m.signal('SIGTERM');
    assert.equal((await m.waitExit()).code, 0);
  } finally {
    await m.cleanup();
  }
}

test('SIGHUP ten times in a row under wrk load: zero failed requests, zero socket errors', async (t) => {
  if (!requirePeer(t, 'wrk', 'wrk')) return;
  await reloadsUnderLoad('full', 10);
});

test('--reload-mode chain, two reloads under wrk load: zero failed requests, zero socket errors', async (t) => {
  if (!requirePeer(t, 'wrk', 'wrk')) return;
  await reloadsUnderLoad('chain', 2);
});

test('a full reload starts all new workers before any old one stops; chain replaces one at a time', async () => {
  for (const mode of ['full', 'chain'] as const) {
    const m = new Master(['--http', '127.0.0.1:0', '--processes', '2', '--reload-mode', mode, PID_APP]);
    try {
      await m.ready();
      const old = m.workerPids();
      m.signal('SIGHUP');
      await m.waitFor(/^tsgi: reload done in/);
      await m.waitFor(/exited \(code 0\)/, 2);
      // The order of events in the log: ready lines of new workers, exits of old ones.
      const events = m.log().split('\n').slice(m.log().split('\n').findIndex((l) => l.includes('SIGHUP')))
        .map((l) => /\(pid (\d+)\) (ready|exited)/.exec(l)).filter((x) => x !== null)
        .map((x) => `${old.includes(Number(x[1])) ? 'old' : 'new'} ${x[2]}`);
      if (mode === 'full') assert.deepEqual(events, ['new ready', 'new ready', 'old exited', 'old exited']);
      else assert.deepEqual(events, ['new ready', 'old exited', 'new ready', 'old exited']);
      assert.equal((await get(m.port)).status, 200);
    } finally {
      await m.cleanup();
    }
  }
});

test('--touch-reload: a changed modification time reloads as SIGHUP does', async () => {
  const file = path.join(dir, 'reload.touch');
  fs.writeFileSync(file, '');
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '1', '--touch-reload', file, PID_APP]);
  try {
    await m.ready();
    const old = m.workerPids();
    const t = new Date(Date.now() + 5_000);
    fs.utimesSync(file, t, t);
    await m.waitFor(/^tsgi: reload done in/, 1, 10_000);
    await m.waitFor(/exited \(code 0\)/);
    assert.match(m.log(), /reload\.touch touched/);
    const now = m.workerPids();
    assert.equal(now.length, 1);
    assert.notEqual(now[0], old[0]);
  } finally {
    await m.cleanup();
  }
});

test('a draining worker accepts no new connection, and finishes the request it has', async () => {
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '1', PID_APP]);
  try {
    await m.ready();
    const [old] = m.workerPids() as [number];
    const slow = get(m.port, '/slow');
    await delay(200);
    m.signal('SIGHUP');
    await m.waitFor(/^tsgi: reload done in/);
    // The old worker is draining for another second (its /slow request):
    // every new connection goes to the new worker.
    const pids = new Set<number>();
    for (let i = 0; i < 20; i++) pids.add(Number(/^pid (\d+)/.exec((await get(m.port)).body)![1]));
    assert.ok(!pids.has(old), `the draining worker ${old} took a connection`);
    assert.equal(m.count(new RegExp(`\\(pid ${old}\\) exited`)), 0, 'the old worker was still draining meanwhile');
    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal(r.body, `pid ${old} slow done`);
    await m.waitFor(new RegExp(`\\(pid ${old}\\) exited \\(code 0\\)`));
  } finally {
    await m.cleanup();
  }
});

test('a reload to code that throws at load keeps the old workers serving until the code is fixed', async () => {
  const broken = path.join(dir, 'broken.flag');
  const app = writeApp('deploy.js', `
if (require('fs').existsSync(${JSON.stringify(broken)})) throw new Error('broken deploy');
module.exports = () => ({ body: 'pid ' + process.pid });
`);
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '2', app]);
  try {
    await m.ready();
    const old = m.workerPids();
    fs.writeFileSync(broken, '');
    m.signal('SIGHUP');
    await m.waitFor(/died \(code 1\).*restarting in 0\.40 s$/, 2, 10_000);
    assert.equal(m.count(/reload done/), 0);
    for (let i = 0; i < 10; i++) {
      const r = await get(m.port);
      assert.equal(r.status, 200);
      assert.ok(old.includes(Number(/^pid (\d+)/.exec(r.body)![1])), 'the old workers serve meanwhile');
    }
    fs.unlinkSync(broken);
    await m.waitFor(/^tsgi: reload done in/, 1, 10_000);
    await m.waitFor(/exited \(code 0\)$/, 2);
    const now = m.workerPids();
    assert.equal(now.length, 2);
    assert.ok(now.every((p) => !old.includes(p)));
  } finally {
    await m.cleanup();
  }
});
