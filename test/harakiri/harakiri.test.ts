// --harakiri: a request over the limit gets its abort signal and a 504 (or
// its connection closed if the reply had started), logged with method, URI
// and duration; a worker whose event loop is blocked that long is killed by
// its watchdog thread and replaced by the master, while the other worker
// keeps answering. Alone (no master) a blocked loop is logged, not killed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { delay, rawRequest, tempDir } from '../helpers/index.js';
import { TsgiProcess } from '../helpers/tsgi-process.js';
import { Master, get } from '../master/helpers.js';

const dir = tempDir('tsgi-harakiri-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const APP = path.join(dir, 'app.js');
fs.writeFileSync(APP, `
module.exports = async (req) => {
  if (req.PATH_INFO === '/slow') {
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, 20000);
      req.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        process.stderr.write('signal fired on ' + req.PATH_INFO + ': ' + req.signal.reason.code + '\\n');
        resolve();
      });
    });
    return { body: 'too late' };
  }
  if (req.PATH_INFO === '/stalls') {
    return { body: (async function* () {
      yield 'first chunk\\n';
      await new Promise((resolve) => req.signal.addEventListener('abort', resolve));
      process.stderr.write('signal fired on /stalls\\n');
    })() };
  }
  if (req.PATH_INFO === '/busy') { const end = Date.now() + 4000; while (Date.now() < end); }
  return { body: 'pid ' + process.pid };
};
`);

test('an async request over --harakiri gets a 504 and its signal; other requests are served meanwhile', async () => {
  const t = new TsgiProcess(['--http', '127.0.0.1:0', '--harakiri', '0.5', '--access-log', path.join(dir, 'h.log'), '--access-log-format', 'json', APP]);
  try {
    await t.ready();
    const started = Date.now();
    const slow = fetch(`http://127.0.0.1:${t.port}/slow?x=1`);
    await delay(100);
    assert.equal((await get(t.port, '/')).status, 200);
    const r = await slow;
    const took = Date.now() - started;
    assert.equal(r.status, 504);
    assert.match(await r.text(), /Gateway Timeout/);
    assert.ok(took >= 500 && took < 3000, `504 after ${took} ms`);
    await t.waitFor(/signal fired on \/slow: TSGI_ERR_HARAKIRI/);
    assert.match(t.log(), /^tsgi: harakiri: GET \/slow\?x=1 ran \d+\.\d s \(--harakiri 0\.5 s\): answered 504, its signal fired$/m);
    // The keep-alive connection still works after the 504.
    assert.equal((await fetch(`http://127.0.0.1:${t.port}/`)).status, 200);
  } finally {
    await t.stop();
  }
  const logged = fs.readFileSync(path.join(dir, 'h.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { uri: string; status: number });
  assert.deepEqual(logged.find((l) => l.uri === '/slow?x=1')?.status, 504);
});

test('a reply that started and stalls: its connection is closed, its signal fires, the log says so', async () => {
  const t = new TsgiProcess(['--http', '127.0.0.1:0', '--harakiri', '0.5', APP]);
  try {
    await t.ready();
    const res = await rawRequest(t.port, 'GET /stalls HTTP/1.1\r\nHost: t\r\n\r\n', { timeoutMs: 3000 });
    assert.ok(res.closed, 'the connection was closed');
    const text = res.data.toString('latin1');
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.match(text, /first chunk/);
    assert.doesNotMatch(text, /\r\n0\r\n\r\n$/, 'not a complete chunked body');
    await t.waitFor(/signal fired on \/stalls/);
    assert.match(t.log(), /^tsgi: harakiri: GET \/stalls ran \d+\.\d s \(--harakiri 0\.5 s\): its reply had started, connection closed, its signal fired$/m);
  } finally {
    await t.stop();
  }
});

test('a blocked event loop under --processes 2: the watchdog logs the request and kills the worker, the master replaces it, the other worker answers throughout', async () => {
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '2', '--harakiri', '1', APP]);
  try {
    await m.ready();
    const before = m.workerPids();
    const busy = get(m.port, '/busy', 8000).catch((err: Error) => err);
    await delay(100);
    // New connections while one worker spins: all answered, by the other.
    const answers: number[] = [];
    const until = Date.now() + 2000;
    while (Date.now() < until) {
      const r = await get(m.port, '/', 3000);
      assert.equal(r.status, 200);
      answers.push(Number(r.body.slice(4)));
      await delay(20);
    }
    await m.waitFor(/^tsgi: worker \d \(pid (\d+)\): harakiri: event loop blocked for \d+\.\d s \(--harakiri 1\.0 s\), running GET \/busy \(started \d+\.\d s ago\); killing pid \d+$/);
    const victim = Number(/harakiri: event loop blocked .* killing pid (\d+)$/m.exec(m.log())![1]);
    assert.ok(before.includes(victim));
    await m.waitFor(new RegExp(`\\(pid ${victim}\\) died \\(signal SIGKILL\\)`));
    await m.waitFor(/^tsgi: worker \d+ \(pid \d+\) ready$/, 3, 10_000);
    const now = m.workerPids();
    assert.equal(now.length, 2);
    assert.ok(!now.includes(victim));
    assert.ok(answers.length > 10 && answers.every((pid) => pid !== victim), `answers: ${answers.join(',')}`);
    // The client of the killed request saw its connection close.
    const b = await busy;
    assert.ok(b instanceof Error, 'the /busy request got no reply');
    assert.equal((await get(m.port, '/')).status, 200);
  } finally {
    await m.cleanup();
  }
});

test('without a master a blocked loop is logged (not killed), and again when it runs again', async () => {
  const t = new TsgiProcess(['--http', '127.0.0.1:0', '--harakiri', '1', APP]);
  try {
    await t.ready();
    assert.equal((await get(t.port, '/busy', 8000)).status, 200);
    assert.match(t.log(), /^tsgi: harakiri: event loop blocked for \d+\.\d s \(--harakiri 1\.0 s\), running GET \/busy \(started \d+\.\d s ago\); not killed: without a master nobody would replace this process \(use --processes 1\)$/m);
    await t.waitFor(/^tsgi: harakiri: event loop running again after \d+\.\d s$/m);
    assert.equal(t.child.exitCode, null);
  } finally {
    await t.stop();
  }
});
