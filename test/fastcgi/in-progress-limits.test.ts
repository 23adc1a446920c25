// A FastCGI request in progress is held to the same limits as an HTTP one:
// PARAMS must be complete within the header timeout of its BEGIN_REQUEST,
// STDIN the app reads may not stall past the socket timeout, and a request
// costs memory for the PARAMS that arrived, not a reservation per
// BEGIN_REQUEST.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { beginRequest, FcgiConnection, fcgiVars, pairs, stream, T, withFcgiServer } from '../helpers/fcgi-client.js';
import { delay } from '../helpers/index.js';

test('BEGIN_REQUEST without the end of PARAMS: closed at the header timeout, with a log line', { timeout: 15_000 },
  async () => {
    await withFcgiServer(() => ({ body: 'never' }), async ({ tcp, logs }) => {
      const c = await FcgiConnection.open(tcp);
      try {
        const vars = fcgiVars('/x');
        await c.write(Buffer.concat([beginRequest(1), stream(T.PARAMS, 1, pairs(vars), { end: false })]));
        const started = Date.now();
        await c.waitUntil(() => c.closed, 6_000, 'the connection closed');
        const took = Date.now() - started;
        assert.ok(took >= 800 && took < 4_000, `closed after ${took} ms (header timeout 1 s, swept each second)`);
        await logs.wait(/PARAMS did not arrive within --header-timeout/);
      } finally {
        c.destroy();
      }
    }, { headerTimeout: 1000 });
  });

test('STDIN that stalls while the app reads it: the request is aborted at the socket timeout', { timeout: 15_000 },
  async () => {
    let outcome = '';
    await withFcgiServer(async (req) => {
      try {
        await req.body.text();
        outcome = 'read';
      } catch (err) {
        outcome = `rejected: ${(err as Error).message}`;
      }
      return { body: 'x' };
    }, async ({ tcp, logs }) => {
      const c = await FcgiConnection.open(tcp);
      try {
        const vars = fcgiVars('/x', { method: 'POST', body: 'y'.repeat(100_000) });
        await c.write(Buffer.concat([beginRequest(1), stream(T.PARAMS, 1, pairs(vars)),
          stream(T.STDIN, 1, 'y'.repeat(10), { end: false })]));
        await c.waitUntil(() => c.closed, 8_000, 'the connection closed');
        await logs.wait(/STDIN stalled past --socket-timeout/);
        for (let i = 0; i < 100 && outcome === ''; i++) await delay(20);
        assert.match(outcome, /^rejected/);
      } finally {
        c.destroy();
      }
    }, { ioTimeout: 1000 });
  });

test('64 BEGIN_REQUESTs on each of 50 connections reserve no PARAMS memory', { timeout: 30_000 }, async () => {
  await withFcgiServer(() => ({ body: 'x' }), async ({ tcp }) => {
    global.gc?.();
    const before = process.memoryUsage().rss;
    const conns: FcgiConnection[] = [];
    try {
      for (let i = 0; i < 50; i++) {
        const c = await FcgiConnection.open(tcp);
        conns.push(c);
        const begins: Buffer[] = [];
        for (let id = 1; id <= 64; id++) begins.push(beginRequest(id, { keepConn: true }));
        await c.write(Buffer.concat(begins));
      }
      await delay(300);
      const grew = process.memoryUsage().rss - before;
      // 3,200 requests: a 64 KiB reservation each would be 200 MiB. Under
      // AddressSanitizer each small allocation carries redzones and shadow.
      const bound = process.env.TSGI_ASAN ? 150 : 48;
      assert.ok(grew < bound * 1024 * 1024, `RSS grew ${(grew / 1048576).toFixed(1)} MiB (bound ${bound} MiB)`);
    } finally {
      for (const c of conns) c.raw.destroy();
    }
  });
});
