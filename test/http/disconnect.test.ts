// Clients that vanish: mid-body, mid-reply, or while the app thinks. The app
// learns of it (the body read rejects, req.signal fires, a streamed body's
// generator is stopped) and the server goes on serving.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type ServerHandle } from 'tsgi';
import type { App, Request } from 'tsgi';
import { delay, eventually, parseResponses, RawConnection } from '../helpers/index.js';

interface Seen {
  bodyBytes: number;
  bodyError?: string;
  aborted?: boolean;
  abortedDuringRead?: boolean;
  yielded: number;
  finallyRan?: boolean;
  replied?: boolean;
}

describe('clients that vanish', () => {
  let server: ServerHandle;
  let port: number;
  let seen: Seen;
  const fresh = (): Seen => ({ bodyBytes: 0, yielded: 0 });

  const watch = (req: Request) => {
    req.signal.addEventListener('abort', () => { seen.aborted = true; });
  };

  const app: App = async (req) => {
    switch (req.PATH_INFO) {
      case '/upload': {
        watch(req);
        try {
          for await (const piece of req.body) seen.bodyBytes += piece.byteLength;
        } catch (err) {
          seen.bodyError = (err as { code?: string }).code ?? String(err);
          seen.abortedDuringRead = req.signal.aborted;
          throw err;
        }
        return { body: 'complete' };
      }
      case '/upload-bytes': {
        watch(req);
        try {
          await req.body.bytes();
        } catch (err) {
          seen.bodyError = (err as { code?: string }).code ?? String(err);
          throw err;
        }
        return { body: 'complete' };
      }
      case '/endless':
        watch(req);
        return {
          body: (async function* () {
            try {
              for (;;) {
                seen.yielded += 65536;
                yield Buffer.alloc(65536, 0x61);
              }
            } finally {
              seen.finallyRan = true;
            }
          })(),
        };
      case '/endless-sync':
        watch(req);
        return {
          body: (function* () {
            try {
              for (;;) {
                seen.yielded += 65536;
                yield Buffer.alloc(65536, 0x62);
              }
            } finally {
              seen.finallyRan = true;
            }
          })(),
        };
      case '/async':
        await delay(20);
        return { body: `async ${req.PATH_INFO}` };
      case '/think': {
        watch(req);
        await new Promise<void>((resolve) => {
          if (req.signal.aborted) resolve();
          req.signal.addEventListener('abort', () => resolve());
        });
        seen.replied = true;
        return { body: 'too late' };
      }
      default:
        return { body: 'ok' };
    }
  };

  before(() => {
    server = serve(app, { listen: '127.0.0.1:0', log: () => {} });
    port = server.addresses[0]!.port!;
  });
  after(() => server.close());

  async function stillServes(): Promise<void> {
    const c = await RawConnection.open(port);
    try {
      await c.write('GET /check HTTP/1.1\r\nHost: x\r\n\r\n');
      const [res] = await c.responses(1);
      assert.equal(res!.body.toString(), 'ok');
    } finally {
      c.destroy();
    }
  }

  for (const path of ['/upload', '/upload-bytes']) {
    test(`mid-body (${path}): the body read rejects and the signal fires`, async () => {
      seen = fresh();
      const c = await RawConnection.open(port);
      await c.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n`);
      await c.write(Buffer.alloc(100_000, 0x7a));
      if (path === '/upload') await eventually(() => (seen.bodyBytes > 0 ? true : undefined), 3000, 'body bytes in the app');
      else await delay(50);
      c.destroy();
      const code = await eventually(() => seen.bodyError, 3000, 'the body read to fail');
      assert.equal(code, 'TSGI_ERR_BODY_ABORTED');
      await eventually(() => seen.aborted, 3000, 'req.signal');
      assert.ok(seen.bodyBytes < 200_000);
      if (path === '/upload') assert.equal(seen.abortedDuringRead, true, 'signal fired by the time the read rejected');
      await stillServes();
    });
  }

  test('mid-body, chunked: the body read rejects and the signal fires', async () => {
    seen = fresh();
    const c = await RawConnection.open(port);
    await c.write('POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    await c.write('8000\r\n' + 'q'.repeat(0x8000) + '\r\n8000\r\n' + 'q'.repeat(100));
    await eventually(() => (seen.bodyBytes > 0 ? true : undefined), 3000, 'body bytes in the app');
    c.destroy();
    assert.equal(await eventually(() => seen.bodyError), 'TSGI_ERR_BODY_ABORTED');
    await eventually(() => seen.aborted, 3000, 'req.signal');
    await stillServes();
  });

  for (const path of ['/endless', '/endless-sync']) {
    test(`mid-reply (${path}): the signal fires and the generator is stopped`, async () => {
      seen = fresh();
      const c = await RawConnection.open(port);
      await c.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await c.waitUntil(() => c.received > 1024 * 1024, 5000, '1 MiB of the reply');
      c.destroy();
      await eventually(() => seen.finallyRan, 3000, 'the generator\'s finally');
      await eventually(() => seen.aborted, 3000, 'req.signal');
      // Stopped for good: it does not go on producing.
      const at = seen.yielded;
      await delay(100);
      assert.equal(seen.yielded, at);
      assert.ok(at < 64 * 1024 * 1024, `produced ${at} bytes for a client that read about 1 MiB`);
      await stillServes();
    });
  }

  test('while the app thinks: the signal fires; a late reply goes nowhere, harmlessly', async () => {
    seen = fresh();
    const c = await RawConnection.open(port);
    await c.write('GET /think HTTP/1.1\r\nHost: x\r\n\r\n');
    await delay(50);
    c.destroy();
    await eventually(() => seen.aborted, 3000, 'req.signal');
    await eventually(() => seen.replied, 3000, 'the app to reply anyway');
    await stillServes();
  });

  test('a request that completes never fires its signal', async () => {
    let signal: AbortSignal | undefined;
    const s = serve((req) => {
      signal = req.signal;
      return { body: 'done' };
    }, { listen: '127.0.0.1:0', log: () => {} });
    try {
      const c = await RawConnection.open(s.addresses[0]!.port!);
      await c.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      await c.responses(1);
      await c.waitClosed(2000);
      c.destroy();
      await delay(50);
      assert.ok(signal);
      assert.equal(signal.aborted, false);
    } finally {
      await s.close();
    }
  });

  test('half-closed client (FIN after the request) still gets its reply', async () => {
    const c = await RawConnection.open(port);
    try {
      c.socket.end('GET /half HTTP/1.1\r\nHost: x\r\n\r\n');
      const [res] = await c.responses(1);
      assert.equal(res!.body.toString(), 'ok');
      assert.equal(await c.waitClosed(2000), true, 'and then the server closes');
    } finally {
      c.destroy();
    }
  });

  test('a FIN read while an async app works aborts its request, as nginx and node:http do (docs/design.md)', async () => {
    const c = await RawConnection.open(port);
    try {
      c.socket.end('GET /async HTTP/1.1\r\nHost: x\r\n\r\nGET /async HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(await c.waitClosed(3000), true);
      const { responses } = parseResponses(c.data, { closed: true });
      assert.equal(responses.length, 0, 'the client that left gets nothing half-written');
    } finally {
      c.destroy();
    }
    await stillServes();
  });

  test('many clients vanishing mid-reply at once leave nothing behind', async () => {
    seen = fresh();
    const conns = await Promise.all(Array.from({ length: 20 }, () => RawConnection.open(port)));
    await Promise.all(conns.map((c) => c.write('GET /endless HTTP/1.1\r\nHost: x\r\n\r\n')));
    await Promise.all(conns.map((c) => c.waitUntil(() => c.received > 65536, 5000, 'some of the reply')));
    for (const c of conns) c.destroy();
    await delay(200);
    const at = seen.yielded;
    await delay(100);
    assert.equal(seen.yielded, at, 'no generator is still running');
    await stillServes();
  });
});
