// Many connections at once: 1,000 clients connect first, then each sends one
// request; every one is answered.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type ServerHandle } from 'tsgi';
import { delay, RawConnection } from '../helpers/index.js';

const N = 1000;

describe('1,000 concurrent connections', () => {
  let server: ServerHandle;
  let port: number;
  let inFlight = 0;
  let maxInFlight = 0;
  const ports = new Set<string>();
  let releaseAll!: () => void;
  const allIn = new Promise<void>((resolve) => { releaseAll = resolve; });

  let bound: NodeJS.Timeout;
  before(() => {
    bound = setTimeout(() => releaseAll(), 10_000);
    server = serve(async (req) => {
      ports.add(req.REMOTE_PORT);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // Hold every request until all N are in the app at once (or `bound` passes).
      if (inFlight === N) releaseAll();
      await allIn;
      inFlight--;
      return { body: req.PATH_INFO };
    }, { listen: '127.0.0.1:0', log: () => {} });
    port = server.addresses[0]!.port!;
  });
  after(async () => {
    clearTimeout(bound);
    await server.close();
  });

  test('all connect, then all send, all get their own reply', async () => {
    const conns: RawConnection[] = [];
    try {
      // Open in waves so the kernel's accept queue is never the test's subject.
      for (let i = 0; i < N; i += 200) {
        conns.push(...await Promise.all(Array.from({ length: Math.min(200, N - i) }, () => RawConnection.open(port))));
      }
      assert.equal(conns.length, N);
      await Promise.all(conns.map((c, i) => c.write(`GET /c/${i} HTTP/1.1\r\nHost: x\r\n\r\n`)));
      const replies = await Promise.all(conns.map((c) => c.responses(1, { timeoutMs: 20_000 })));
      replies.forEach((r, i) => {
        assert.equal(r[0]!.status, 200);
        assert.equal(r[0]!.body.toString(), `/c/${i}`);
      });
      assert.equal(ports.size, N, 'one request per connection');
      assert.equal(maxInFlight, N, 'all requests were in the app at once');
      assert.ok(conns.every((c) => !c.closed), 'keep-alive connections stay open');
    } finally {
      for (const c of conns) c.destroy();
    }
  });
});

describe('maxConnections', () => {
  test('at the limit, the longest-idle keep-alive connection makes room for a new client', async () => {
    const lines: string[] = [];
    const server = serve((req) => ({ body: req.PATH_INFO }),
      { listen: '127.0.0.1:0', maxConnections: 2, keepAliveTimeout: 30_000, log: (l) => lines.push(l) });
    const conns: RawConnection[] = [];
    try {
      const port = server.addresses[0]!.port!;
      for (let i = 0; i < 2; i++) {
        const c = await RawConnection.open(port);
        conns.push(c);
        await c.write(`GET /m${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
        assert.equal((await c.responses(1))[0]!.body.toString(), `/m${i}`);
      }
      const third = await RawConnection.open(port);
      conns.push(third);
      await third.write('GET /m2 HTTP/1.1\r\nHost: x\r\n\r\n');
      const started = Date.now();
      const [r] = await third.responses(1, { timeoutMs: 5000 });
      assert.equal(r!.body.toString(), '/m2', 'served without waiting for a keep-alive timeout');
      assert.ok(Date.now() - started < 3000);
      assert.equal(await conns[0]!.waitClosed(2000), true, 'the longest idle was closed');
      assert.equal(conns[1]!.closed, false, 'the other stays');
      assert.ok(lines.some((l) => /at --max-connections \(2\): closed idle connections/.test(l)), lines.join('\n'));
    } finally {
      for (const c of conns) c.destroy();
      await server.close();
    }
  });

  test('when every connection is in a request, a client over the limit waits until one is done', async () => {
    const server = serve(async (req) => {
      await delay(800);
      return { body: req.PATH_INFO };
    }, { listen: '127.0.0.1:0', maxConnections: 2, log: () => {} });
    const conns: RawConnection[] = [];
    try {
      const port = server.addresses[0]!.port!;
      for (let i = 0; i < 3; i++) {
        const c = await RawConnection.open(port);  // the kernel completes the handshake
        conns.push(c);
        await c.write(`GET /m${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
      }
      const [a, b, third] = conns as [RawConnection, RawConnection, RawConnection];
      await delay(300);
      assert.equal(third.received, 0, 'the third is not served while both are busy');
      assert.equal((await a.responses(1))[0]!.body.toString(), '/m0');
      assert.equal((await b.responses(1))[0]!.body.toString(), '/m1');
      const [r] = await third.responses(1, { timeoutMs: 5000 });
      assert.equal(r!.body.toString(), '/m2', 'served once a connection fell idle');
    } finally {
      for (const c of conns) c.destroy();
      await server.close();
    }
  });
});
