// Time and load on a uwsgi listener: a slow but steady sender is served, a
// client too slow for headerTimeout is cut, and 1,000 connections at once are
// all answered (a case shared with SCGI, test/helpers/cgi-suite.ts). Every
// socket of the server still serves afterwards.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Request } from 'tsgi';
import { delay } from '../helpers/index.js';
import { assertNoHopByHop, open, parseCgiReply, uwsgiPacket, uwsgiRequest, withServer } from '../helpers/cgi-client.js';
import { concurrencyCases, UWSGI } from '../helpers/cgi-suite.js';

// The trickle cases wait seconds each: they run side by side.
describe('slow clients', { concurrency: true }, () => {
  test('one byte every 100 ms for a whole small packet is served (default settings)', async () => {
    const app = (req: Request) => ({ body: `slow ${req.REQUEST_METHOD} ${req.var('X')}` });
    await withServer(app, async ({ uwsgi }) => {
      const packet = uwsgiPacket([['REQUEST_METHOD', 'GET'], ['X', '1']]);
      assert.ok(packet.length <= 32, `a small packet (${packet.length} bytes)`);
      const c = await open(uwsgi);
      try {
        const started = Date.now();
        for (let i = 0; i < packet.length; i++) {
          await c.write(packet.subarray(i, i + 1));
          assert.equal(c.closed, false, `cut after ${i} bytes, ${Date.now() - started} ms`);
          await delay(100);
        }
        assert.ok(await c.waitClosed(3000), 'the server closes after the reply');
        const reply = parseCgiReply(c.data, 'uwsgi');
        assert.equal(reply.status, 200);
        assert.equal(reply.body.toString(), 'slow GET 1');
        assertNoHopByHop(reply);
      } finally {
        c.destroy();
      }
    });
  });

  test('one byte a second with headerTimeout 1000: the connection is cut before the packet completes', async () => {
    let calls = 0;
    const app = () => { calls++; return { body: 'too late' }; };
    await withServer(app, async ({ uwsgi }) => {
      const packet = uwsgiRequest('/slowloris');
      const c = await open(uwsgi);
      const started = Date.now();
      let sent = 0;
      try {
        while (!c.closed && sent < packet.length && Date.now() - started < 5000) {
          await c.write(packet.subarray(sent, sent + 1)).catch(() => {});
          sent++;
          await c.waitUntil(() => c.closed, 1000).catch(() => {});
        }
        assert.ok(c.closed, `not cut after ${Date.now() - started} ms`);
        const took = Date.now() - started;
        assert.ok(took < 3500, `cut after ${took} ms: headerTimeout is 1000 ms and the sweep runs each second`);
        assert.ok(sent < packet.length, 'cut before the packet was complete');
        // The head did not arrive in time: a uwsgi-style 408, then the close.
        const reply = parseCgiReply(c.data, 'uwsgi');
        assert.equal(reply.first, 'HTTP/1.1 408 Request Timeout');
        assert.equal(calls, 0);
      } finally {
        c.destroy();
      }
    }, { headerTimeout: 1000 });
  });
});

concurrencyCases(UWSGI);
