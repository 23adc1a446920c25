// A body of stated length that the app reads whole (bytes()) is read from the
// socket straight into the app's Buffer once the part that came with the head
// is in it. Every way its bytes can arrive must give the same body: with the
// head in one write (larger and smaller than the first read), the head alone
// and then the body, the request split at every byte, pauses mid-body, an app
// that asks late; a client that stalls or leaves mid-body is cut or aborted
// and leaves no connection behind. uwsgi and SCGI alike.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Request, ServerHandle } from 'tsgi';
import { deferred, delay, digest, pattern, within } from '../helpers/index.js';
import { open, parseCgiReply, withServer, type Target } from '../helpers/cgi-client.js';
import { SCGI, UWSGI, type CgiProtocol } from '../helpers/cgi-suite.js';

/** Replies with the body's length and digest, read whole (after `wait` ms when given). */
const wholeApp = (wait = 0) => async (req: Request) => {
  if (wait > 0) await delay(wait);
  const b = await req.body.bytes(4 * 1024 * 1024);
  return { body: `${b.byteLength} ${digest(b)}` };
};

/** Sends `pieces` (pausing `pause` ms between them) and checks the reply names `body`. */
async function roundTrip(p: CgiProtocol, t: Target, body: Buffer, cut: number[], pause = 0): Promise<void> {
  const packet = p.request('/whole', { method: 'POST', body });
  const c = await open(t);
  try {
    let at = 0;
    for (const end of [...cut, packet.length]) {
      if (end > at) await c.write(packet.subarray(at, end));
      at = Math.max(at, end);
      if (pause > 0 && at < packet.length) await delay(pause);
    }
    assert.ok(await c.waitClosed(10_000), `no close after ${JSON.stringify(cut)}; got ${c.data.length} bytes`);
    const reply = parseCgiReply(c.data, p.name);
    assert.equal(reply.status, 200, `cut at ${JSON.stringify(cut)}: ${reply.head}`);
    assert.equal(reply.body.toString(), `${body.length} ${digest(body)}`, `cut at ${JSON.stringify(cut)}`);
  } finally {
    c.destroy();
  }
}

async function noConnectionsLeft(server: ServerHandle): Promise<void> {
  const started = Date.now();
  // Health checks of the harness come after; nothing else is open here.
  while (server.connectionCount!() > 0 && Date.now() - started < 3000) await delay(10);
  assert.equal(server.connectionCount!(), 0, 'connections left open');
}

for (const p of [UWSGI, SCGI]) {
  describe(`${p.label}: a body read whole`, () => {
    test('in one write with the head: 0, 1, 100, 8,000, 8,192, 65,536 and 300,000 bytes', async () => {
      await withServer(wholeApp(), async (h) => {
        for (const n of [0, 1, 100, 8000, 8192, 65536, 300_000]) await roundTrip(p, p.target(h), pattern(n, n), []);
      });
    });

    test('the head alone, then the body; the head and part of the body, then the rest (64 KiB)', async () => {
      await withServer(wholeApp(), async (h) => {
        const body = pattern(65536, 3);
        const head = p.request('/whole', { method: 'POST', body }).length - body.length;
        for (const cut of [[head], [head + 1], [head + 5000], [head + 9000], [head + 65535], [head - 1]]) {
          await roundTrip(p, p.target(h), body, cut, 30);
        }
      });
    });

    test('a 700-byte request split at every byte', async () => {
      await withServer(wholeApp(), async (h) => {
        const body = pattern(700 - p.request('/whole', { method: 'POST', body: '' }).length - 3, 5);
        const total = p.request('/whole', { method: 'POST', body }).length;
        // Eight at a time: each waits a little between its two writes so the
        // server reads the first part alone.
        const cuts = Array.from({ length: total - 1 }, (_, i) => i + 1);
        for (let i = 0; i < cuts.length; i += 8) {
          await Promise.all(cuts.slice(i, i + 8).map((k) => roundTrip(p, p.target(h), body, [k], 5)));
        }
      });
    });

    test('200 KiB in pieces of uneven sizes with pauses', async () => {
      await withServer(wholeApp(), async (h) => {
        const body = pattern(200 * 1024, 9);
        const head = p.request('/whole', { method: 'POST', body }).length - body.length;
        await roundTrip(p, p.target(h), body, [10, head, head + 1, head + 4096, head + 70_000, head + 70_001, head + 150_000], 20);
      });
    });

    test('an app that asks for the body 100 ms after the request came: 300 KB arrived meanwhile', async () => {
      await withServer(wholeApp(100), async (h) => {
        await roundTrip(p, p.target(h), pattern(300_000, 11), []);
        await roundTrip(p, p.target(h), pattern(300_000, 12), [50_000], 150);
      });
    });

    test('a client that leaves mid-body: the read fails, the signal fires, nothing stays open', async () => {
      const outcome = deferred<{ code: string | undefined; aborted: boolean }>();
      const started = deferred<void>();
      const app = async (req: Request) => {
        if (req.PATH_INFO !== '/leave') return { body: 'other' };
        started.resolve();
        try {
          await req.body.bytes();
          outcome.resolve({ code: undefined, aborted: req.signal.aborted });
        } catch (err) {
          outcome.resolve({ code: (err as { code?: string }).code, aborted: req.signal.aborted });
        }
        return { body: 'x' };
      };
      await withServer(app, async (h) => {
        const packet = p.request('/leave', { method: 'POST', body: pattern(100_000) });
        const c = await open(p.target(h));
        await c.write(packet.subarray(0, 30_000));
        await within(started.promise, 2000, 'the app starts');
        await delay(30);
        c.destroy();
        const o = await within(outcome.promise, 3000, 'the app learns the client left');
        assert.equal(o.code, 'TSGI_ERR_BODY_ABORTED');
        assert.equal(o.aborted, true);
        await noConnectionsLeft(h.server);
      });
    });

    test('a client that stalls mid-body is cut at ioTimeout; the app\'s read fails', async () => {
      const outcome = deferred<string | undefined>();
      const app = async (req: Request) => {
        if (req.PATH_INFO !== '/stall') return { body: 'other' };
        try {
          await req.body.bytes();
          outcome.resolve(undefined);
        } catch (err) {
          outcome.resolve((err as { code?: string }).code);
        }
        return { body: 'x' };
      };
      await withServer(app, async (h) => {
        const packet = p.request('/stall', { method: 'POST', body: pattern(100_000) });
        const c = await open(p.target(h));
        try {
          await c.write(packet.subarray(0, 40_000));
          assert.equal(await within(outcome.promise, 4000, 'the cut'), 'TSGI_ERR_BODY_ABORTED');
          assert.ok(await c.waitClosed(2000), 'the server closes the connection');
          await noConnectionsLeft(h.server);
        } finally {
          c.destroy();
        }
      }, { ioTimeout: 1000 });
    });

    test('a body over maxBodySize is refused with 413 and never reaches the app', async () => {
      let calls = 0;
      const app = async (req: Request) => {
        calls++;
        return { body: String((await req.body.bytes()).length) };
      };
      await withServer(app, async (h) => {
        const c = await open(p.target(h));
        try {
          await c.write(p.request('/big', { method: 'POST', body: pattern(20_000) }));
          assert.ok(await c.waitClosed(3000));
          assert.equal(parseCgiReply(c.data, p.name).status, 413);
          assert.equal(calls, 0);
        } finally {
          c.destroy();
        }
        await roundTripUnder(p, p.target(h));
      }, { maxBodySize: 10_000 });
    });
  });
}

/** A body within the limit is still served on the same server. */
async function roundTripUnder(p: CgiProtocol, t: Target): Promise<void> {
  const c = await open(t);
  try {
    await c.write(p.request('/ok', { method: 'POST', body: pattern(10_000) }));
    assert.ok(await c.waitClosed(3000));
    const reply = parseCgiReply(c.data, p.name);
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), '10000');
  } finally {
    c.destroy();
  }
}
