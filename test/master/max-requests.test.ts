// --max-requests: a worker that has served its quota asks for a replacement,
// keeps serving until the replacement is ready, then drains and exits. No
// request is lost to recycling.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { delay, requirePeer } from '../helpers/index.js';
import * as path from 'node:path';
import { Master, PID_APP, dir, show, writeApp, wrk } from './helpers.js';

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
    // The replacement is started before the quota (at 90 %, or earlier at a
    // high rate) and takes over at the quota.
    const early = m.log().split('\n').filter((l) => /served \d+ of its --max-requests \d+; starting its replacement now/.test(l));
    const reached = m.log().split('\n').filter((l) => /reached its --max-requests \(\d+ of \d+ requests\)|served \d+ requests \(--max-requests\)/.test(l));
    assert.ok(early.length >= 2 && reached.length >= 2, m.log());
    for (const l of early) {
      const [n, quota] = /served (\d+) of its --max-requests (\d+)/.exec(l)!.slice(1).map(Number) as [number, number];
      assert.ok(quota >= 5000 && quota < 5500, `the quota with at most 10 % jitter: ${l}`);
      assert.ok(n < quota, l);
    }
    for (const l of reached) {
      const n = Number(/(?:\(|served )(\d+)/.exec(l)![1]);
      assert.ok(n >= 5000 && n < 5500, `the quota with at most 10 % jitter: ${l}`);
    }
    assert.ok(m.count(/exited \(code 0\)$/) >= 2, m.log());
    assert.doesNotMatch(m.log(), /died/);
    // Replacements started near the end settle without load.
    // (A replacement started early waits at most HOLD_MAX_MS for a quota the load stopped short of.)
    const deadline = Date.now() + 15_000;
    while (m.workerPids().length !== 2 && Date.now() < deadline) await delay(50);
    assert.equal(m.workerPids().length, 2, m.log());
  } finally {
    await m.cleanup();
  }
});

test('a worker recycled by --max-requests serves its quota and what it holds, not more, under load', async (t) => {
  if (!requirePeer(t, 'wrk', 'wrk')) return;
  // Each worker writes how many requests it served when it ends.
  const counts = path.join(dir, 'counts');
  const app = writeApp('count.js', `
const fs = require('fs');
let n = 0;
process.on('exit', () => fs.appendFileSync(${JSON.stringify(counts)}, process.pid + ' ' + n + '\\n'));
module.exports = () => { n++; return { body: 'ok' }; };
`);
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '2', '--max-requests', '500', app]);
  try {
    await m.ready();
    const r = await wrk(`http://127.0.0.1:${m.port}/`, { seconds: 4, connections: 32 }).done;
    assert.equal(r.errors, 0, show(r));
    assert.equal(r.non2xx, 0, show(r));
    const recycled = m.count(/exited \(code 0\)$/);
    assert.ok(recycled >= 2, m.log());
    const served = fs.readFileSync(counts, 'utf8').trim().split('\n').map((l) => Number(l.split(' ')[1]));
    // The quota with its jitter (500..549), then at most what its 32
    // connections had in flight and one more reply each (with Connection: close).
    for (const n of served) assert.ok(n <= 549 + 64, `a worker served ${n} requests: ${served.join(', ')}`);
    assert.ok(served.filter((n) => n >= 500).length >= 2, served.join(', '));
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
