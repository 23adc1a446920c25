// A dead worker is replaced; a worker that cannot start is restarted with
// exponential backoff (0.1 s doubling to 10 s), logged once per step, never spun.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { delay, requirePeer } from '../helpers/index.js';
import { Master, PID_APP, dir, get, show, wrk, writeApp } from './helpers.js';

after(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * What is provable when a worker is SIGKILLed under load: the connections it
 * held die with it (each costs wrk at most one error, then wrk reconnects),
 * connections waiting in the shared accept queue are not lost (the queue
 * belongs to the socket, which the master and the other worker keep open),
 * and every later request succeeds. So: socket errors <= wrk's connections,
 * no non-2xx reply, and the master starts a replacement.
 */
async function killUnderLoad(headers: string[]): Promise<void> {
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '2', PID_APP]);
  try {
    await m.ready();
    const [victim, survivor] = m.workerPids() as [number, number];
    const load = wrk(`http://127.0.0.1:${m.port}/`, { seconds: 4, connections: 16, headers });
    await load.started;
    await delay(500);
    process.kill(victim, 'SIGKILL');
    await m.waitFor(new RegExp(`\\(pid ${victim}\\) died \\(signal SIGKILL\\) after .*; restarting in 0\\.10 s`), 1, 5_000);
    await m.waitFor(/^tsgi: worker \d+ \(pid \d+\) ready$/, 3, 10_000);
    const r = await load.done;
    if (process.env.TSGI_TEST_VERBOSE) process.stderr.write(`kill ${headers.join(' ') || 'keep-alive'}: ${show(r)}\n`);
    assert.ok(r.requests > 1000, show(r));
    assert.equal(r.non2xx, 0, show(r));
    assert.ok(r.errors <= 16, `at most one error per connection of the killed worker: ${show(r)}`);
    const now = m.workerPids();
    assert.equal(now.length, 2);
    assert.ok(now.includes(survivor) && !now.includes(victim));
    assert.equal((await get(m.port)).status, 200);
  } finally {
    await m.cleanup();
  }
}

test('SIGKILL of a worker under wrk load (new connection per request): replaced, errors <= connections, no non-2xx', async (t) => {
  if (!requirePeer(t, 'wrk', 'wrk')) return;
  await killUnderLoad(['Connection: close']);
});

test('SIGKILL of a worker under wrk load (keep-alive): replaced, errors <= connections, no non-2xx', async (t) => {
  if (!requirePeer(t, 'wrk', 'wrk')) return;
  await killUnderLoad([]);
});

test('--no-need-app, an app that throws at load: restarts back off (0.1, 0.2, 0.4, 0.8 s ...), one line per step, no spinning', async () => {
  const app = writeApp('throws.js', `throw new Error('no database');\n`);
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '1', '--no-need-app', app]);
  try {
    await m.waitFor(/master pid/);
    const t0 = Date.now();
    // When each "died" line appeared: consecutive deaths are at least the
    // announced delay apart (the master waited), whatever a start costs here.
    const seenAt: number[] = [];
    const died = () => m.log().split('\n').filter((l) => /^tsgi: worker 1 \(pid \d+\) died /.test(l));
    while (seenAt.length < 5 && Date.now() - t0 < 20_000) {
      while (seenAt.length < died().length) seenAt.push(Date.now());
      await delay(10);
    }
    const lines = died();
    assert.ok(lines.length >= 5, m.log());
    const delays = lines.map((l) => Number(/restarting in ([\d.]+) s$/.exec(l)![1]));
    assert.deepEqual(delays.slice(0, 5), [0.1, 0.2, 0.4, 0.8, 1.6]);
    for (let i = 1; i < 5; i++) {
      assert.ok(seenAt[i]! - seenAt[i - 1]! >= delays[i - 1]! * 1000 - 30,
        `death ${i + 1} came ${seenAt[i]! - seenAt[i - 1]!} ms after death ${i}, before its ${delays[i - 1]} s delay`);
    }
    // Starts in a window: 5 deaths need at least 0.1+0.2+0.4+0.8 s of waiting.
    assert.ok(seenAt[4]! - t0 >= 1_500, `5 starts within ${seenAt[4]! - t0} ms`);
    assert.ok(lines.every((l) => l.includes('before it was ready')));
    // The app's error reaches the log once, whole; each later start says it failed the same way.
    const errors = m.log().split('\n').filter((l) => l.includes('no database'));
    assert.equal(errors.length, 1, m.log());
    assert.match(errors[0]!, /^Error: no database$/);
    assert.match(m.log(), /^tsgi: worker 1 \(pid \d+\) cannot load the app: the app module could not be loaded: \S*throws\.js threw while loading:\nError: no database\n\s+at /m);
    assert.ok(m.count(/^tsgi: worker 1 \(pid \d+\) cannot load the app \(the same error as above\)$/) >= 3, m.log());
    assert.equal(m.count(/workers? ready$/), 0);
    // A stop during a backoff wait is prompt.
    m.signal('SIGTERM');
    assert.equal((await m.waitExit(3_000)).code, 0);
  } finally {
    await m.cleanup();
  }
});
