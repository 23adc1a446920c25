// Timeouts: a head that does not arrive in time gets 408; an idle keep-alive
// connection is closed; a stalled body or a client that stops reading is cut;
// the app's own time counts against none of them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type ServerHandle } from 'tsgi';
import type { App } from 'tsgi';
import { delay, header, RawConnection } from '../helpers/index.js';

// The sweep runs once a second, so each case waits 1-2 s: they run side by side.
describe('timeouts', { concurrency: true }, () => {
  let server: ServerHandle;
  let port: number;
  const bodyEvents: string[] = [];
  const genEvents: string[] = [];
  const app: App = async (req) => {
    if (req.PATH_INFO === '/read-then-think') {
      const text = await req.body.text();
      await delay(2500);
      return { body: `late ${text}` };
    }
    if (req.PATH_INFO === '/slow-reader') {
      let n = 0;
      for await (const piece of req.body) {
        n += piece.byteLength;
        await delay(1500);
      }
      return { body: `read ${n}` };
    }
    if (req.PATH_INFO === '/ignore-body') return { body: 'not read' };
    if (req.PATH_INFO === '/burst-then-quiet') {
      return {
        body: (async function* () {
          yield Buffer.alloc(8 * 1024 * 1024, 0x61);  // more than the socket takes at once
          for (let i = 0; i < 2; i++) {
            await delay(1600);
            yield `event ${i}\n`;
          }
        })(),
      };
    }
    if (req.PATH_INFO === '/slow') {
      await delay(1600);
      return { body: 'slow but fine' };
    }
    if (req.PATH_INFO === '/upload') {
      try {
        await req.body.bytes();
      } catch (err) {
        bodyEvents.push(`body: ${(err as { code?: string }).code}`);
        throw err;
      }
      return { body: 'uploaded' };
    }
    if (req.PATH_INFO === '/endless') {
      return {
        body: (async function* () {
          try {
            for (;;) yield Buffer.alloc(65536, 0x65);
          } finally {
            genEvents.push('generator stopped');
          }
        })(),
      };
    }
    return { body: 'ok' };
  };

  before(() => {
    server = serve(app, {
      listen: '127.0.0.1:0', headerTimeout: 1000, keepAliveTimeout: 1000, ioTimeout: 1000, log: () => {},
    });
    port = server.addresses[0]!.port!;
  });
  after(() => server.close());

  test('a partial head gets 408 after headerTimeout, then the connection closes', async () => {
    const c = await RawConnection.open(port);
    try {
      const t0 = Date.now();
      await c.write('GET /partial HTTP/1.1\r\nHost: x\r\n');
      const [res] = await c.responses(1, { timeoutMs: 4000 });
      const took = Date.now() - t0;
      assert.equal(res!.status, 408);
      assert.equal(header(res!, 'connection'), 'close');
      assert.ok(took >= 900 && took < 3000, `408 after ${took} ms`);
      assert.equal(await c.waitClosed(2000), true);
    } finally {
      c.destroy();
    }
  });

  test('a head trickling in slower than headerTimeout allows still gets 408', async () => {
    const c = await RawConnection.open(port);
    try {
      const t0 = Date.now();
      const head = 'GET /trickle HTTP/1.1\r\nHost: x\r\nX-Pad: ' + 'p'.repeat(100);
      let i = 0;
      while (!c.closed && c.received === 0 && i < head.length && Date.now() - t0 < 4000) {
        c.socket.write(head[i++]!);
        await delay(50);
      }
      const [res] = await c.responses(1, { timeoutMs: 4000 });
      assert.equal(res!.status, 408, 'the deadline is for the whole head, not per byte');
      assert.ok(Date.now() - t0 < 3500);
    } finally {
      c.destroy();
    }
  });

  test('a connection that sends nothing is closed without a reply', async () => {
    const c = await RawConnection.open(port);
    try {
      assert.equal(await c.waitClosed(3500), true);
      assert.equal(c.received, 0);
    } finally {
      c.destroy();
    }
  });

  test('an idle keep-alive connection is closed after keepAliveTimeout', async () => {
    const c = await RawConnection.open(port);
    try {
      await c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await c.responses(1);
      const t0 = Date.now();
      assert.equal(await c.waitClosed(3500), true, 'closed by the server');
      const took = Date.now() - t0;
      assert.ok(took >= 900, `closed after ${took} ms, before the timeout`);
      assert.equal(parseAfterFirst(c), '', 'nothing sent on close');
    } finally {
      c.destroy();
    }
  });

  test('a connection in use is not idle: requests within the timeout keep it open', async () => {
    const c = await RawConnection.open(port);
    try {
      for (let i = 1; i <= 4; i++) {
        await c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
        await c.responses(i);
        await delay(500);
      }
      assert.equal(c.closed, false, 'open after 2 s of requests every 0.5 s');
    } finally {
      c.destroy();
    }
  });

  test('the app taking longer than every timeout is not cut', async () => {
    const c = await RawConnection.open(port);
    try {
      await c.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
      const [res] = await c.responses(1, { timeoutMs: 4000 });
      assert.equal(res!.body.toString(), 'slow but fine');
      assert.equal(header(res!, 'connection'), undefined);
    } finally {
      c.destroy();
    }
  });

  // The deadlines below are the client's; time the app takes is not the client's fault.

  test('an app that reads the body, then takes longer than ioTimeout to reply, is not cut', async () => {
      const c = await RawConnection.open(port);
      try {
        await c.write('POST /read-then-think HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
        const [res] = await c.responses(1, { timeoutMs: 5000 });
        assert.equal(res!.body.toString(), 'late hello');
      } finally {
        c.destroy();
      }
    });

  test('an app that consumes the body slower than ioTimeout per piece is not cut', async () => {
      const c = await RawConnection.open(port);
      try {
        await c.write('POST /slow-reader HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n');
        await c.write(Buffer.alloc(200_000, 0x62));
        const [res] = await c.responses(1, { timeoutMs: 12_000 });
        assert.equal(res!.body.toString(), 'read 200000');
      } finally {
        c.destroy();
      }
    });

  test('a stream that goes quiet for longer than ioTimeout after a burst is not cut', async () => {
      const c = await RawConnection.open(port);
      try {
        await c.write('GET /burst-then-quiet HTTP/1.1\r\nHost: x\r\n\r\n');
        const [res] = await c.responses(1, { timeoutMs: 6000 });
        assert.equal(res!.body.length, 8 * 1024 * 1024 + 16);
        assert.ok(res!.body.subarray(-16).toString() === 'event 0\nevent 1\n');
      } finally {
        c.destroy();
      }
    });

  test('a client that stalls in a body the app did not read is cut after ioTimeout', async () => {
      const c = await RawConnection.open(port);
      try {
        await c.write('POST /ignore-body HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789');
        const [res] = await c.responses(1);
        assert.equal(res!.body.toString(), 'not read');
        assert.equal(await c.waitClosed(3500), true, 'closed: the client stopped sending its body');
      } finally {
        c.destroy();
      }
    });

  test('a body that stalls is cut after ioTimeout; the app\'s read rejects', async () => {
    const c = await RawConnection.open(port);
    try {
      await c.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf');
      assert.equal(await c.waitClosed(3500), true, 'closed');
      assert.deepEqual(bodyEvents, ['body: TSGI_ERR_BODY_ABORTED']);
    } finally {
      c.destroy();
    }
  });

  test('a client that stops reading the reply is cut after ioTimeout', async () => {
    const c = await RawConnection.open(port);
    try {
      await c.write('GET /endless HTTP/1.1\r\nHost: x\r\n\r\n');
      await c.waitUntil(() => c.received > 0, 2000, 'the reply to start');
      c.socket.pause();
      const t0 = Date.now();
      while (!genEvents.includes('generator stopped') && Date.now() - t0 < 5000) await delay(20);
      assert.deepEqual(genEvents, ['generator stopped']);
      const took = Date.now() - t0;
      assert.ok(took >= 500 && took < 4000, `cut after ${took} ms`);
    } finally {
      c.destroy();
    }
  });
});

function parseAfterFirst(c: RawConnection): string {
  const text = c.data.toString('latin1');
  const end = text.indexOf('\r\n\r\n') + 4 + 'ok'.length;
  return text.slice(end);
}
