// Large request bodies stream through to the app intact: 10 MiB with
// Content-Length and chunked, checked by sha256 on both sides.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { serve, type ServerHandle } from 'tsgi';
import type { App } from 'tsgi';
import { RawConnection } from '../helpers/index.js';

const SIZE = 10 * 1024 * 1024;

describe('10 MiB uploads', () => {
  let server: ServerHandle;
  let port: number;
  const payload = randomBytes(SIZE);
  const digest = createHash('sha256').update(payload).digest('hex');
  const app: App = async (req) => {
    const hash = createHash('sha256');
    let n = 0;
    for await (const piece of req.body) {
      hash.update(piece);
      n += piece.byteLength;
    }
    return { headers: { 'X-Bytes': String(n) }, body: hash.digest('hex') };
  };

  before(() => {
    server = serve(app, { listen: '127.0.0.1:0', log: () => {} });
    port = server.addresses[0]!.port!;
  });
  after(() => server.close());

  /** Writes honouring the socket's backpressure. */
  async function send(c: RawConnection, data: Buffer | string): Promise<void> {
    if (!c.socket.write(data)) await new Promise((resolve) => c.socket.once('drain', resolve));
  }

  test('Content-Length', async () => {
    const c = await RawConnection.open(port);
    try {
      await send(c, `PUT /cl HTTP/1.1\r\nHost: x\r\nContent-Length: ${SIZE}\r\n\r\n`);
      for (let at = 0; at < SIZE; at += 256 * 1024) await send(c, payload.subarray(at, at + 256 * 1024));
      const [res] = await c.responses(1, { timeoutMs: 20_000 });
      assert.equal(res!.status, 200);
      assert.equal(res!.headers.find(([n]) => n === 'X-Bytes')?.[1], String(SIZE));
      assert.equal(res!.body.toString(), digest);
    } finally {
      c.destroy();
    }
  });

  test('chunked, in chunks of uneven sizes', async () => {
    const c = await RawConnection.open(port);
    try {
      await send(c, 'PUT /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
      let at = 0;
      for (let i = 0; at < SIZE; i++) {
        const n = Math.min(SIZE - at, [1, 100, 4096, 65536, 65537, 300_000, 1_048_576][i % 7]!);
        await send(c, n.toString(16) + '\r\n');
        await send(c, payload.subarray(at, at + n));
        await send(c, '\r\n');
        at += n;
      }
      await send(c, '0\r\n\r\n');
      const [res] = await c.responses(1, { timeoutMs: 20_000 });
      assert.equal(res!.status, 200);
      assert.equal(res!.headers.find(([n]) => n === 'X-Bytes')?.[1], String(SIZE));
      assert.equal(res!.body.toString(), digest);
    } finally {
      c.destroy();
    }
  });

  test('body.bytes() with a limit above the size returns every byte, in one Buffer of its own', async () => {
    const s = serve(async (req) => {
      const all = await req.body.bytes(SIZE);
      const own = all.byteOffset === 0 && all.buffer.byteLength === SIZE;
      return { headers: { 'X-Own': String(own) }, body: createHash('sha256').update(all).digest('hex') };
    }, { listen: '127.0.0.1:0', log: () => {} });
    try {
      const c = await RawConnection.open(s.addresses[0]!.port!);
      try {
        await send(c, `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${SIZE}\r\n\r\n`);
        await send(c, payload);
        const [res] = await c.responses(1, { timeoutMs: 20_000 });
        assert.equal(res!.body.toString(), digest);
        assert.equal(res!.headers.find(([n]) => n === 'X-Own')?.[1], 'true');
      } finally {
        c.destroy();
      }
    } finally {
      await s.close();
    }
  });
});
