// --threads N: N worker_threads per process, each with its own loop and native
// server on its own dup() of the listening sockets, accepts spread by
// EPOLLEXCLUSIVE; drained on SIGTERM; --harakiri (a per-process watchdog) refused.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { requirePeer } from '../helpers/index.js';
import { runTsgi } from '../helpers/tsgi-process.js';
import { Master, dir, get, show, wrk, writeApp } from '../master/helpers.js';

after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Answers "pid threadId multiprocess multithread"; /slow takes 1.5 s; /crash throws outside any request. */
const APP = writeApp('thread-id.js', `
const { threadId } = require('node:worker_threads');
module.exports = async (req) => {
  if (req.PATH_INFO === '/slow') await new Promise((r) => setTimeout(r, 1500));
  if (req.PATH_INFO === '/crash') setTimeout(() => { throw new Error('boom in thread ' + threadId); }, 10);
  return { body: [process.pid, threadId, req.tsgi.multiprocess, req.tsgi.multithread].join(' ') + (req.PATH_INFO === '/slow' ? ' slow done' : '') };
};
`);

/** A single tsgi (no master) is ready once its serving line is out; its port is on it. */
async function single(args: string[]): Promise<Master> {
  const m = await Master.start(args);
  assert.match(m.log(), /^tsgi: serving .* on http:\/\/127\.0\.0\.1:\d+ \(2 threads\)$/m);
  return m;
}

/** Distinct "pid threadId" answers, from batches of concurrent requests (a busy thread leaves the next accept to another). */
async function servers(port: number, want: number, flags: string): Promise<Set<string>> {
  const seen = new Set<string>();
  // Threads of one process take turns at one listener, and the kernel wakes
  // the latest waiter first: on a busy machine one thread can take every
  // connection of a few batches. Ask until each has answered, for up to 10 s.
  const until = Date.now() + 10_000;
  for (let batch = 0; seen.size < want && (batch < 30 || Date.now() < until); batch++) {
    const replies = await Promise.all(Array.from({ length: 12 }, () => get(port)));
    for (const r of replies) {
      assert.equal(r.status, 200);
      const [pid, tid, mp, mt] = r.body.split(' ');
      assert.equal(`${mp} ${mt}`, flags, r.body);
      seen.add(`${pid} ${tid}`);
    }
  }
  return seen;
}

test('--threads 2: both threads serve (threadId 1 and 2 answer), multithread true, multiprocess false', async () => {
  const m = await single(['--http', '127.0.0.1:0', '--threads', '2', APP]);
  try {
    const seen = await servers(m.port, 2, 'false true');
    assert.deepEqual([...seen].map((s) => s.split(' ')[1]).sort(), ['1', '2'], m.log());
    assert.ok([...seen].every((s) => s.split(' ')[0] === String(m.pid)));
  } finally {
    await m.cleanup();
  }
});

test('--threads 2 under wrk load (keep-alive and a new connection per request): zero errors, zero non-2xx', async (t) => {
  if (!requirePeer(t, 'wrk', 'wrk')) return;
  const m = await single(['--http', '127.0.0.1:0', '--threads', '2', APP]);
  try {
    for (const headers of [[], ['Connection: close']]) {
      const r = await wrk(`http://127.0.0.1:${m.port}/`, { seconds: 2, connections: 32, headers }).done;
      assert.ok(r.requests > 1000, show(r));
      assert.equal(r.errors, 0, show(r));
      assert.equal(r.non2xx, 0, show(r));
    }
  } finally {
    await m.cleanup();
  }
});

test('--processes 2 --threads 2: four distinct (pid, threadId) pairs, multiprocess and multithread true', async () => {
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '2', '--threads', '2', APP]);
  try {
    await m.ready();
    const seen = await servers(m.port, 4, 'true true');
    assert.equal(seen.size, 4, [...seen].join(', '));
    assert.equal(new Set([...seen].map((s) => s.split(' ')[0])).size, 2);
  } finally {
    await m.cleanup();
  }
});

for (const mode of ['alone', 'under a master'] as const) {
  test(`SIGTERM ${mode} with a slow request in flight on a thread: it finishes, exit 0`, async () => {
    const args = ['--http', '127.0.0.1:0', '--threads', '2', APP];
    const m = mode === 'alone' ? await single(args) : await new Master(['--processes', '1', ...args]).ready();
    try {
      const slow = get(m.port, '/slow', 5_000);
      await new Promise((r) => setTimeout(r, 300));
      m.signal('SIGTERM');
      const r = await slow;
      assert.equal(r.status, 200);
      assert.match(r.body, /slow done$/);
      assert.equal((await m.waitExit()).code, 0, m.log());
    } finally {
      await m.cleanup();
    }
  });
}

test('--processes 1 --threads 2 --max-requests 50: the threads\' requests are summed, the worker recycles and drains (exit 0)', async () => {
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '1', '--threads', '2', '--max-requests', '50', APP]);
  try {
    await m.ready();
    for (let i = 0; i < 8; i++) await Promise.all(Array.from({ length: 10 }, () => get(m.port)));
    await m.waitFor(/^tsgi: worker 1 \(pid \d+\) served \d+ requests \(--max-requests\); starting its replacement$/);
    await m.waitFor(/^tsgi: worker 1 \(pid \d+\) exited \(code 0\)$/);
    assert.equal((await get(m.port)).status, 200);
  } finally {
    await m.cleanup();
  }
});

test('a thread that dies of an uncaught error: logged on one line, the other drains, exit 1', async () => {
  const m = await single(['--http', '127.0.0.1:0', '--threads', '2', APP]);
  try {
    await m.waitFor(/^tsgi: serving/);
    assert.equal((await get(m.port, '/crash')).status, 200);
    assert.equal((await m.waitExit()).code, 1, m.log());
    assert.match(m.log(), /^tsgi: thread [12] died of an uncaught error: Error: boom in thread \d .*; (draining the other threads and )?exiting \(code 1\)$/m);
  } finally {
    await m.cleanup();
  }
});

test('--threads 2 refuses --harakiri (one line saying its watchdog is per process, exit 2); --threads 0 is a usage error', () => {
  const message = 'tsgi: --threads 2 does not work with --harakiri (its watchdog is per process: one event loop watched, ' +
    'the whole process killed); use --processes N instead of threads, or drop --harakiri\n';
  const r = runTsgi(['--http', '127.0.0.1:0', '--threads', '2', '--harakiri', '5', APP]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr, message);
  // With --stats and --access-log (which threads support) the one refusal is the same.
  const with3 = runTsgi(['--http', '127.0.0.1:0', '--threads', '3', '--processes', '2', '--stats', ':0', '--access-log', '-',
    '--harakiri', '5', APP]);
  assert.equal(with3.code, 2);
  assert.equal(with3.stderr, message.replace('--threads 2', '--threads 3'));
  const zero = runTsgi(['--http', '127.0.0.1:0', '--threads', '0', APP]);
  assert.equal(zero.code, 2);
  assert.equal(zero.stderr, 'tsgi: --threads needs a number of threads from 1 to 256, not 0\n');
  // TSGI_THREADS feeds the same flag.
  const env = runTsgi(['--http', '127.0.0.1:0', '--harakiri', '5', APP], { env: { TSGI_THREADS: '2' } });
  assert.equal(env.code, 2, env.stderr);
  assert.equal(env.stderr, message);
});
