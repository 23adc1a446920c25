// --max-requests: a worker that has served its quota asks for a replacement,
// keeps serving until the replacement is ready, then drains and exits. No
// request is lost to recycling.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { delay, requirePeer } from '../helpers/index.js';
import { Master, PID_APP, dir, show, wrk } from './helpers.js';

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('--max-requests recycles workers under wrk load with zero failed requests', async (t) => {
  if (!requirePeer(t, 'wrk', 'wrk')) return;
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '2', '--max-requests', '5000', PID_APP]);
  try {
    await m.ready();
    const load = wrk(`http://127.0.0.1:${m.port}/`, { seconds: 6, connections: 32 });
    const r = await load.done;
    assert.ok(r.requests > 20_000, show(r));
    assert.equal(r.errors, 0, show(r));
    assert.equal(r.non2xx, 0, show(r));
    const asked = m.log().split('\n').filter((l) => /served \d+ requests \(--max-requests\); starting its replacement/.test(l));
    assert.ok(asked.length >= 2, m.log());
    for (const l of asked) {
      const n = Number(/served (\d+) requests/.exec(l)![1]);
      assert.ok(n >= 5000 && n < 5500, `the quota with at most 10 % jitter: ${l}`);
    }
    assert.ok(m.count(/exited \(code 0\)$/) >= 2, m.log());
    assert.doesNotMatch(m.log(), /died/);
    // Replacements started near the end settle without load.
    const deadline = Date.now() + 10_000;
    while (m.workerPids().length !== 2 && Date.now() < deadline) await delay(50);
    assert.equal(m.workerPids().length, 2, m.log());
  } finally {
    await m.cleanup();
  }
});

test('--reload-on-rss recycles a worker over the limit', async () => {
  // 1 MB: every Node process is over it, so the first check asks.
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '1', '--reload-on-rss', '1', PID_APP]);
  try {
    await m.ready();
    const first = m.workerPids()[0];
    await m.waitFor(/uses \d+ MB \(--reload-on-rss\); starting its replacement/, 1, 5_000);
    await m.waitFor(new RegExp(`\\(pid ${first}\\) exited \\(code 0\\)`), 1, 5_000);
    assert.equal(m.workerPids().length, 1);
    assert.notEqual(m.workerPids()[0], first);
  } finally {
    await m.cleanup();
  }
});
