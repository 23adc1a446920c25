// App lifecycle (TSGI 1.1 section 1.1): startup before the first request,
// shutdown after the drain and before the exit, on every way a process ends:
// SIGTERM alone, a reload and a --max-requests recycle under a master. The
// apps are the examples docs/tsgi.md and docs/adapters.md show.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, delay, httpGet, tempDir } from '../helpers/index.js';
import { TsgiProcess } from '../helpers/tsgi-process.js';
import { Master } from '../master/helpers.js';

const EXAMPLES = path.join(ROOT, 'examples', 'lifecycle');
const FASTIFY = path.join(EXAMPLES, 'fastify.js');
const HOOKS = path.join(EXAMPLES, 'hooks.mjs');
const OWN = path.join(EXAMPLES, 'own-signal.js');
const dir = tempDir('tsgi-lifecycle-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeApp(name: string, source: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, source);
  return file;
}

test('a Fastify onClose hook runs to its end on SIGTERM, before the exit', async () => {
  const p = new TsgiProcess(['--http', '127.0.0.1:0', FASTIFY]);
  try {
    await p.ready();
    const r = await httpGet(p.port, '/');
    assert.match(r.body, /"pool":"open"/);
    const e = await p.terminate();
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, new RegExp(`^pool closed in ${p.pid}$`, 'm'));
  } finally {
    await p.stop();
  }
});

test('a Fastify onClose hook runs to its end in a reloaded worker and at the master\'s SIGTERM', async () => {
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '1', FASTIFY]);
  try {
    await m.ready();
    const [first] = m.workerPids();
    m.signal('SIGHUP');
    await m.waitFor(new RegExp(`\\(pid ${first}\\) exited \\(code 0\\)`), 1, 10_000);
    // The hook's line is written before the worker exits.
    assert.match(m.stdout(), new RegExp(`^pool closed in ${first}$`, 'm'));
    const [second] = m.workerPids();
    assert.notEqual(second, first);
    const e = await m.terminate(10_000);
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, new RegExp(`^pool closed in ${second}$`, 'm'));
  } finally {
    await m.cleanup();
  }
});

test('a Fastify onClose hook runs to its end in a worker recycled by --max-requests', async () => {
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '1', '--max-requests', '3', FASTIFY]);
  try {
    await m.ready();
    const [first] = m.workerPids();
    for (let i = 0; i < 4; i++) assert.equal((await httpGet(m.port, '/')).status, 200);
    await m.waitFor(/reached its --max-requests|served \d+ requests \(--max-requests\)/, 1, 10_000);
    await m.waitFor(new RegExp(`\\(pid ${first}\\) exited \\(code 0\\)`), 1, 10_000);
    assert.match(m.stdout(), new RegExp(`^pool closed in ${first}$`, 'm'));
  } finally {
    await m.cleanup();
  }
});

test('startup() is awaited before the first request, shutdown() after the last', async () => {
  const p = new TsgiProcess(['--http', '127.0.0.1:0', HOOKS]);
  try {
    await p.ready();
    // "serving" is said once startup() finished: its line came first.
    assert.match(p.stdout(), new RegExp(`^startup done in ${p.pid}$`, 'm'));
    assert.equal((await httpGet(p.port, '/')).body, 'db connected, 1 queries\n');
    const e = await p.terminate();
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, new RegExp(`^shutdown done in ${p.pid} after 1 queries$`, 'm'));
  } finally {
    await p.stop();
  }
});

test('an app\'s own SIGTERM handler runs to its end: alone, and in a reloaded worker', async () => {
  const p = new TsgiProcess(['--http', '127.0.0.1:0', OWN]);
  try {
    await p.ready();
    const e = await p.terminate();
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, new RegExp(`^own SIGTERM handler done in ${p.pid}$`, 'm'));
  } finally {
    await p.stop();
  }
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '1', OWN]);
  try {
    await m.ready();
    const [first] = m.workerPids();
    m.signal('SIGHUP');
    await m.waitFor(new RegExp(`\\(pid ${first}\\) exited \\(code 0\\)`), 1, 10_000);
    assert.match(m.stdout(), new RegExp(`^own SIGTERM handler done in ${first}$`, 'm'));
  } finally {
    await m.cleanup();
  }
});

test('a shutdown hook that never ends is cut at --shutdown-timeout', async () => {
  const app = writeApp('hang.js', `
module.exports = (req) => ({ body: 'ok' });
module.exports.shutdown = () => new Promise(() => { setInterval(() => {}, 1000); });
`);
  const p = new TsgiProcess(['--http', '127.0.0.1:0', '--shutdown-timeout', '1', app]);
  try {
    await p.ready();
    const t0 = Date.now();
    const e = await p.terminate(8_000);
    assert.equal(e.code, 0, e.stderr);
    assert.ok(Date.now() - t0 < 4_000, `exited after ${Date.now() - t0} ms`);
    assert.match(e.stderr, /shutdown hooks still running after \d+ ms \(--shutdown-timeout\); exiting anyway/);
  } finally {
    await p.stop();
  }
});

test('a startup hook that fails stops the start with its stack, before any listener serves', async () => {
  const app = writeApp('bad-start.mjs', `
export default () => ({ body: 'never' });
export async function startup() {
  await new Promise((r) => setTimeout(r, 10));
  throw new Error('database unreachable');
}
`);
  const p = new TsgiProcess(['--http', '127.0.0.1:0', app]);
  const e = await p.waitExit(8_000);
  assert.equal(e.code, 1, e.stderr);
  assert.match(e.stderr, /startup hook threw or rejected: \S*bad-start\.mjs: Error: database unreachable\n\s+at Object\.startup \(file:\/\/\S*bad-start\.mjs:5:9\)\n$/);
  assert.doesNotMatch(e.stderr, /serving/);
});

test('a module\'s hooks run before and after the adapter\'s (Fastify ready() and close())', async () => {
  const app = writeApp('order.js', `
const fastify = require(${JSON.stringify(require.resolve('fastify'))})();
fastify.addHook('onReady', async () => console.log('fastify ready'));
fastify.addHook('onClose', async () => console.log('fastify closed'));
fastify.get('/', async () => 'ok');
module.exports = fastify;
module.exports.startup = async () => console.log('module startup');
module.exports.shutdown = async () => console.log('module shutdown');
`);
  const p = new TsgiProcess(['--http', '127.0.0.1:0', app]);
  try {
    await p.ready();
    await delay(50);
    const e = await p.terminate();
    assert.equal(e.code, 0, e.stderr);
    assert.deepEqual(e.stdout.trim().split('\n'), ['module startup', 'fastify ready', 'fastify closed', 'module shutdown']);
  } finally {
    await p.stop();
  }
});

test('a Koa app gets its server\'s \'close\' event at shutdown', async () => {
  const app = writeApp('koa.js', `
const Koa = require(${JSON.stringify(require.resolve('koa'))});
const app = new Koa();
app.use((ctx) => { ctx.body = 'ok'; });
app.on('close', () => console.log('koa close event'));
module.exports = app;
`);
  const p = new TsgiProcess(['--http', '127.0.0.1:0', app]);
  try {
    await p.ready();
    assert.equal((await httpGet(p.port, '/')).body, 'ok');
    const e = await p.terminate();
    assert.equal(e.code, 0, e.stderr);
    assert.equal(e.stdout, 'koa close event\n');
  } finally {
    await p.stop();
  }
});
