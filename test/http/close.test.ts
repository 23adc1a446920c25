// Graceful close: in-flight requests finish, idle connections and the
// listener go at once, and close(timeout) bounds the wait for apps that never
// answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serve } from 'tsgi';
import { delay, header, RawConnection, until } from '../helpers/index.js';

test('close() lets 5 in-flight requests finish, refuses new connections, then resolves', async (t) => {
  let started = 0;
  const server = serve(async (req) => {
    started++;
    await delay(300);
    return { body: `done ${req.PATH_INFO} ` + 'x'.repeat(100_000) };
  }, { listen: '127.0.0.1:0', log: () => {} });
  t.after(() => server.close());
  const port = server.addresses[0]!.port!;
  const conns: RawConnection[] = [];
  try {
    const idle = await RawConnection.open(port);
    conns.push(idle);
    await idle.write('GET /idle HTTP/1.1\r\nHost: x\r\n\r\n');
    await idle.waitUntil(() => idle.received > 100_000, 3000, 'the idle connection\'s first reply');

    for (let i = 0; i < 5; i++) {
      const c = await RawConnection.open(port);
      conns.push(c);
      await c.write(`GET /r${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
    }
    await until(() => started === 6, 3000, 'the 6 requests to reach the app');

    const t0 = Date.now();
    let closedAt = 0;
    const closing = server.close().then(() => { closedAt = Date.now(); });
    assert.equal(server.closed, true);

    // New connections are refused as soon as close() was called.
    await assert.rejects(RawConnection.open(port), /ECONNREFUSED/);
    // The idle keep-alive connection is closed at once.
    assert.equal(await idle.waitClosed(1000), true, 'idle connection closed');

    const replies = await Promise.all(conns.slice(1).map((c) => c.responses(1, { timeoutMs: 3000 })));
    const repliedAt = Date.now();
    replies.forEach(([r], i) => {
      assert.equal(r!.status, 200);
      assert.equal(r!.body.length, `done /r${i} `.length + 100_000, 'the whole reply');
      assert.ok(r!.body.toString().startsWith(`done /r${i} `));
      assert.equal(header(r!, 'connection'), 'close', 'told the connection ends');
    });
    for (const c of conns.slice(1)) assert.equal(await c.waitClosed(1000), true);
    await closing;
    assert.ok(closedAt >= repliedAt - 20, 'close() resolved after the replies went out');
    assert.ok(closedAt - t0 < 2000, `close() took ${closedAt - t0} ms`);
  } finally {
    for (const c of conns) c.destroy();
  }
});

test('close() with nothing in flight resolves at once', async () => {
  const server = serve(() => ({ body: 'x' }), { listen: '127.0.0.1:0', log: () => {} });
  const t0 = Date.now();
  await server.close();
  assert.ok(Date.now() - t0 < 200);
  assert.equal(server.closed, true);
  // Calling it again is harmless.
  await server.close();
});

test('close(timeout) with an app that never replies resolves after about the timeout', async (t) => {
  let aborted = 0;
  let called = 0;
  const server = serve((req) => {
    called++;
    req.signal.addEventListener('abort', () => { aborted++; });
    return new Promise(() => {});  // never settles
  }, { listen: '127.0.0.1:0', log: () => {} });
  t.after(() => server.close());
  const port = server.addresses[0]!.port!;
  const conns: RawConnection[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const c = await RawConnection.open(port);
      conns.push(c);
      await c.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n');
    }
    await until(() => called === 3, 3000, 'the 3 requests to reach the app');
    const t0 = Date.now();
    await server.close(500);
    const took = Date.now() - t0;
    assert.ok(took >= 450 && took < 1500, `close(500) took ${took} ms`);
    for (const c of conns) {
      assert.equal(await c.waitClosed(1000), true, 'the client sees the connection closed');
      assert.equal(c.received, 0, 'and no reply');
    }
    assert.equal(aborted, 3, 'each request\'s signal fired');
  } finally {
    for (const c of conns) c.destroy();
  }
});

test('shutdownTimeout option bounds close() without an argument', async (t) => {
  let called = false;
  const server = serve(() => {
    called = true;
    return new Promise(() => {});
  }, { listen: '127.0.0.1:0', shutdownTimeout: 300, log: () => {} });
  t.after(() => server.close());
  const c = await RawConnection.open(server.addresses[0]!.port!);
  try {
    await c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => called, 3000, 'the request to reach the app');
    const t0 = Date.now();
    await server.close();
    const took = Date.now() - t0;
    assert.ok(took >= 250 && took < 1200, `close() took ${took} ms`);
    assert.equal(await c.waitClosed(1000), true);
  } finally {
    c.destroy();
  }
});

test('a streamed reply in flight at close() is completed', async (t) => {
  const server = serve(() => ({
    body: (async function* () {
      for (let i = 0; i < 20; i++) {
        await delay(10);
        yield `part ${i};`;
      }
    })(),
  }), { listen: '127.0.0.1:0', log: () => {} });
  t.after(() => server.close());
  const c = await RawConnection.open(server.addresses[0]!.port!);
  try {
    await c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.waitUntil(() => c.received > 0, 2000, 'the reply to start');
    const closing = server.close();
    const [r] = await c.responses(1, { timeoutMs: 3000 });
    assert.equal(r!.body.toString(), Array.from({ length: 20 }, (_, i) => `part ${i};`).join(''));
    await closing;
  } finally {
    c.destroy();
  }
});
