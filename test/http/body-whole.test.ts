// A Content-Length body that the app reads whole (bytes()) is read from the
// socket straight into the app's Buffer, and no further: the next request on
// a kept connection is the poller's to report. Keep-alive after such a read,
// a pipelined request behind a large body, a request split at every byte on
// one connection, a client that leaves mid-body.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type App, type ServerHandle } from 'tsgi';
import { delay, digest, pattern, RawConnection, type RawResponse } from '../helpers/index.js';

const post = (path: string, body: Buffer): Buffer =>
  Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
const GET = 'GET /get HTTP/1.1\r\nHost: x\r\n\r\n';

function expectBody(res: RawResponse | undefined, body: Buffer, what: string): void {
  assert.ok(res, `${what}: no reply`);
  assert.equal(res.status, 200, what);
  assert.equal(res.body.toString(), `${body.length} ${digest(body)}`, what);
}

describe('HTTP: a body read whole', () => {
  let server: ServerHandle;
  let port: number;
  let aborts = 0;
  const app: App = async (req) => {
    if (req.REQUEST_METHOD === 'GET') return { body: 'got' };
    req.signal.addEventListener('abort', () => { aborts++; });
    try {
      const b = await req.body.bytes(4 * 1024 * 1024);
      return { body: `${b.byteLength} ${digest(b)}` };
    } catch (err) {
      return { status: 500, body: String((err as { code?: string }).code) };
    }
  };

  before(() => {
    server = serve(app, { listen: '127.0.0.1:0', log: () => {} });
    port = server.addresses[0]!.port!;
  });
  after(() => server.close());

  test('three large bodies on one kept connection, each in one write', async () => {
    const c = await RawConnection.open(port);
    try {
      for (const n of [65536, 300_000, 9000]) {
        const body = pattern(n, n);
        const before = c.data.length;
        await c.write(post('/p', body));
        await c.waitUntil(() => c.data.length > before && c.data.subarray(before).includes(digest(body)), 5000, `reply ${n}`);
      }
      const all = await c.responses(3);
      expectBody(all[0], pattern(65536, 65536), '64 KiB');
      expectBody(all[1], pattern(300_000, 300_000), '300 KB');
      expectBody(all[2], pattern(9000, 9000), '9 KB');
      assert.equal(c.closed, false, 'kept alive');
    } finally {
      c.destroy();
    }
  });

  test('a GET pipelined behind a 100 KB body, in the same write, is answered after it', async () => {
    const c = await RawConnection.open(port);
    try {
      const body = pattern(100_000, 1);
      await c.write(Buffer.concat([post('/p', body), Buffer.from(GET)]));
      const [first, second] = await c.responses(2);
      expectBody(first, body, 'the POST');
      assert.equal(second!.status, 200);
      assert.equal(second!.body.toString(), 'got');
    } finally {
      c.destroy();
    }
  });

  test('requests split at every byte, one after another on one connection', async () => {
    const c = await RawConnection.open(port);
    try {
      const body = pattern(300, 2);
      const request = post('/split', body);
      for (let k = 1; k < request.length; k++) {
        await c.write(request.subarray(0, k));
        await delay(2);
        await c.write(request.subarray(k));
        const all = await c.responses(k);
        expectBody(all[k - 1], body, `cut at ${k}`);
      }
    } finally {
      c.destroy();
    }
  });

  test('the head alone, then a 200 KB body in pieces with pauses, then a GET on the same connection', async () => {
    const c = await RawConnection.open(port);
    try {
      const body = pattern(200_000, 4);
      const request = post('/pieces', body);
      let at = 0;
      for (const end of [request.length - body.length, request.length - body.length + 8000, 120_000, request.length]) {
        await c.write(request.subarray(at, end));
        at = end;
        await delay(20);
      }
      await c.write(GET);
      const [first, second] = await c.responses(2);
      expectBody(first, body, 'the POST');
      assert.equal(second!.body.toString(), 'got');
    } finally {
      c.destroy();
    }
  });

  test('a client that leaves mid-body: the signal fires, nothing stays open', async () => {
    const before = aborts;
    const c = await RawConnection.open(port);
    await c.write(post('/leave', pattern(100_000)).subarray(0, 50_000));
    await delay(50);
    c.destroy();
    const started = Date.now();
    while ((aborts === before || server.connectionCount!() > 0) && Date.now() - started < 3000) await delay(10);
    assert.equal(aborts, before + 1, 'the abort signal');
    assert.equal(server.connectionCount!(), 0, 'connections left open');
  });
});
