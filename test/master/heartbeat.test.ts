// --harakiri under a master: a worker that stops (SIGSTOP) cannot run its
// own watchdog, so the master, missing its heartbeat for --harakiri, kills
// it (after a margin past --harakiri, so that a blocked worker's own watchdog,
// which names the request, acts first) and starts another; the clients it held see their connections fail,
// new ones are served by the replacement.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Master, PID_APP, get } from './helpers.js';

let m: Master | undefined;
after(() => m?.cleanup());

test('a stopped worker is killed after --harakiri without a heartbeat, and replaced', { timeout: 30_000 }, async () => {
  m = new Master(['--processes', '1', '--http', '127.0.0.1:0', '--harakiri', '2', PID_APP]);
  await m.ready();
  const [pid] = m.workerPids();
  assert.ok(pid);
  assert.equal((await get(m.port, '/')).body, `pid ${pid}`);
  const stoppedAt = Date.now();
  process.kill(pid, 'SIGSTOP');
  await m.waitFor(new RegExp(`worker 1 \\(pid ${pid}\\) no heartbeat for [\\d.]+ s \\(stopped or blocked; --harakiri and a margin: 3\\.0 s\\): killing it`), 1, 10_000);
  const took = Date.now() - stoppedAt;
  assert.ok(took >= 2_500 && took < 8_000, `noticed after ${took} ms (--harakiri 2 s and a 1 s margin)`);
  await m.waitFor(/^tsgi: worker 1 \(pid \d+\) ready$/, 2, 15_000);
  const [fresh] = m.workerPids();
  assert.ok(fresh !== undefined && fresh !== pid, 'a new worker serves');
  assert.equal((await get(m.port, '/')).body, `pid ${fresh}`);
});
