// STDIN the app has not asked for yet. On a connection with one request, the
// records wait in the connection's input until the app reads (then they go
// straight to it: one copy) or its reply ends (then they are skipped); a
// multiplexing client's next request behind them is never kept waiting by
// them. Each case checks the bytes the app read, the next request on the
// same connection, and the requests of other connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Request } from 'tsgi';
import {
  FcgiConnection, fcgiVars, parseStdout, PROTOCOL_STATUS, request, withFcgiServer,
} from '../helpers/fcgi-client.js';
import { deferred, delay } from '../helpers/index.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Sends `data` in pieces of random sizes (at most `max`), with a pause now and then. */
async function dribble(c: FcgiConnection, data: Buffer, max: number): Promise<void> {
  for (let at = 0; at < data.length;) {
    const n = 1 + Math.floor(Math.random() * max);
    await c.write(data.subarray(at, at + n));
    at += n;
    if (Math.random() < 0.2) await delay(2);
  }
}

async function answerOf(c: FcgiConnection, id: number) {
  const a = await c.answer(id, 10_000);
  assert.deepEqual(a.end, { appStatus: 0, protocolStatus: PROTOCOL_STATUS.REQUEST_COMPLETE });
  return parseStdout(a.stdout);
}

test('a body the app reads late, whole or iterated, arrives byte for byte; the kept connection goes on', {
  timeout: 30_000,
}, async () => {
  const app = async (req: Request) => {
    await delay(30);  // the body's records arrive before the app asks
    if (req.PATH_INFO === '/iter') {
      const h = createHash('sha256');
      let n = 0;
      for await (const chunk of req.body) {
        h.update(chunk);
        n += chunk.byteLength;
        if (n % 3 === 0) await delay(1);  // a slow reader: backpressure
      }
      return { body: `${n} ${h.digest('hex')}` };
    }
    const b = await req.body.bytes(4 << 20);
    return { body: `${b.byteLength} ${sha(b)}` };
  };
  await withFcgiServer(app, async ({ tcp, unix }) => {
    for (const target of [tcp, unix]) {
      const c = await FcgiConnection.open(target);
      try {
        let id = 1;
        for (const [path, size, cuts] of [
          ['/whole', 1, []], ['/whole', 7_000, [1, 4095]], ['/whole', 200_000, [3, 70_001, 140_000]],
          ['/iter', 1 << 20, [65_535, 65_536, 500_000]], ['/whole', 65_536, []],
        ] as Array<[string, number, number[]]>) {
          const body = randomBytes(size);
          const req = request(id, fcgiVars(path, { method: 'POST', body }), {
            keepConn: true, body, stdin: { cuts, padding: 'pad8' },
          });
          await dribble(c, req, 40_000);
          const r = await answerOf(c, id);
          assert.equal(r.body.toString(), `${size} ${sha(body)}`, `${path} ${size}`);
          id++;
        }
      } finally {
        c.destroy();
      }
    }
  });
});

test('a body the app never reads: its records are skipped once the reply ends; the next request is served', {
  timeout: 30_000,
}, async () => {
  const app = async (req: Request) => {
    if (req.PATH_INFO === '/ignore') {
      await delay(20);
      return { body: 'ignored' };
    }
    return { body: `read ${(await req.body.bytes()).byteLength}` };
  };
  await withFcgiServer(app, async ({ tcp }) => {
    const c = await FcgiConnection.open(tcp);
    try {
      // Whole before the reply; then half before and half after it.
      const body = randomBytes(30_000);
      await c.write(request(1, fcgiVars('/ignore', { method: 'POST', body }), { keepConn: true, body, stdin: { cuts: [9_999] } }));
      assert.equal((await answerOf(c, 1)).body.toString(), 'ignored');
      const req = request(1, fcgiVars('/ignore', { method: 'POST', body }), { keepConn: true, body, stdin: { cuts: [15_000] } });
      await c.write(req.subarray(0, req.length - 15_020));
      const ends = () => c.records().filter((r) => r.type === 3).length;
      await c.waitUntil(() => ends() === 2, 10_000, 'the second END_REQUEST');
      assert.match(c.stdoutOf(1).toString(), /ignored$/);
      await c.write(req.subarray(req.length - 15_020));
      // The next request reuses id 1: the old request's records are gone.
      const next = randomBytes(5_000);
      await c.write(request(1, fcgiVars('/read', { method: 'POST', body: next }), { keepConn: true, body: next }));
      await c.waitUntil(() => ends() === 3, 10_000, 'three END_REQUESTs');
      assert.match(c.stdoutOf(1).toString(), /read 5000$/);
    } finally {
      c.destroy();
    }
    // Without KEEP_CONN the server closes once the reply is out.
    const once = await FcgiConnection.open(tcp);
    try {
      const body = randomBytes(10_000);
      await once.write(request(1, fcgiVars('/ignore', { method: 'POST', body }), { body }));
      assert.equal((await answerOf(once, 1)).body.toString(), 'ignored');
      assert.ok(await once.waitClosed(3000), 'closed after the reply');
    } finally {
      once.destroy();
    }
  });
});

test('multiplexed: a request whose app waits for the next one before reading its body does not keep it out', {
  timeout: 30_000,
}, async () => {
  const released = deferred<void>();
  const app = async (req: Request) => {
    if (req.PATH_INFO === '/release') {
      released.resolve();
      return { body: 'released' };
    }
    await released.promise;  // the body is read only after /release was served
    const b = await req.body.bytes();
    return { body: `${b.byteLength} ${sha(b)}` };
  };
  await withFcgiServer(app, async ({ tcp }) => {
    const c = await FcgiConnection.open(tcp);
    try {
      const body = randomBytes(40_000);
      await c.write(request(1, fcgiVars('/wait', { method: 'POST', body }), { keepConn: true, body }));
      await delay(50);  // request 1's STDIN is in before request 2 begins
      await c.write(request(2, fcgiVars('/release'), { keepConn: true }));
      assert.equal((await answerOf(c, 2)).body.toString(), 'released');
      assert.equal((await answerOf(c, 1)).body.toString(), `40000 ${sha(body)}`);
    } finally {
      c.destroy();
    }
  });
});
