// `node --import tsgi/register` and `--require tsgi/register` run unmodified
// apps that call http.createServer (through Express's and Koa's app.listen(),
// or by name from the ESM view of node:http) on tsgi. The apps report which
// socket object served them: tsgi's adapter, or node's net.Socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from '../helpers/index.js';

const FIXTURES = path.join(ROOT, 'test', 'http', 'fixtures');

interface Running { port: number; stop(): Promise<number | null>; stderr(): string }

/** Starts node with `args` and waits for the app's "listening on PORT" line. */
function start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Running> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no "listening" line in 10 s:\n${out}\n${err}`));
    }, 10_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\d+)/.exec(out);
      if (m === null) return;
      clearTimeout(timer);
      resolve({
        port: Number(m[1]),
        stderr: () => err,
        stop: async () => {
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 5000);
          const code = await exited;
          clearTimeout(t);
          return code;
        },
      });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before listening:\n${out}\n${err}`));
    });
  });
}

async function json(url: string, init?: RequestInit): Promise<{ status: number; body: unknown }> {
  const r = await fetch(url, init);
  const text = await r.text();
  return { status: r.status, body: r.headers.get('content-type')?.includes('json') || text.startsWith('{') ? JSON.parse(text) : text };
}

test('node --require tsgi/register: an Express app.listen() is served by tsgi', async () => {
  const app = await start(['--require', 'tsgi/register', path.join(FIXTURES, 'express-app.cjs')]);
  try {
    const base = `http://127.0.0.1:${app.port}`;
    assert.deepEqual(await json(`${base}/hello/ann`), { status: 200, body: { hello: 'ann', socket: 'Exchange' } });
    assert.deepEqual(await json(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":[1,2]}' }),
      { status: 200, body: { a: [1, 2] } });
  } finally {
    assert.equal(await app.stop(), 0, app.stderr());
  }
});

test('node --import tsgi/register: a Koa app.listen() is served by tsgi', async () => {
  const app = await start(['--import', 'tsgi/register', path.join(FIXTURES, 'koa-app.mjs')]);
  try {
    assert.deepEqual(await json(`http://127.0.0.1:${app.port}/k`), { status: 200, body: { path: '/k', socket: 'Exchange' } });
  } finally {
    assert.equal(await app.stop(), 0, app.stderr());
  }
});

test("node --import tsgi/register: `import { createServer } from 'node:http'` is tsgi's; TSGI_HTTP_OPTIONS applies", async () => {
  const app = await start(['--import', 'tsgi/register', path.join(FIXTURES, 'plain-app.mjs')],
    { TSGI_HTTP_OPTIONS: '{"tsgi":{"maxBodySize":100}}' });
  try {
    const base = `http://127.0.0.1:${app.port}`;
    assert.deepEqual(await json(base, { method: 'POST', body: 'x'.repeat(50) }), { status: 200, body: { bytes: 50, socket: 'Exchange' } });
    assert.equal((await fetch(base, { method: 'POST', body: 'x'.repeat(500) })).status, 413);
  } finally {
    assert.equal(await app.stop(), 0, app.stderr());
  }
});

test('without tsgi/register the same app runs on node:http (the check above means something)', async () => {
  const app = await start([path.join(FIXTURES, 'plain-app.mjs')]);
  try {
    assert.deepEqual(await json(`http://127.0.0.1:${app.port}`, { method: 'POST', body: 'abc' }),
      { status: 200, body: { bytes: 3, socket: 'Socket' } });
  } finally {
    assert.equal(await app.stop(), 0, app.stderr());
  }
});

test('a TSGI_HTTP_OPTIONS that is not JSON stops the start with a message naming it', async () => {
  await assert.rejects(start(['--require', 'tsgi/register', path.join(FIXTURES, 'plain-app.mjs')], { TSGI_HTTP_OPTIONS: '{nope' }),
    /TSGI_HTTP_OPTIONS is not JSON/);
});
