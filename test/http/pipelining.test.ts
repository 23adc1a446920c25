// Pipelining (RFC 9112 9.3.2): many requests in one write are answered in
// the order they were sent, whatever order the app finishes them in.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type ServerHandle } from 'tsgi';
import type { App } from 'tsgi';
import { delay, RawConnection } from '../helpers/index.js';

describe('pipelining', () => {
  let server: ServerHandle;
  let port: number;
  const app: App = async (req) => {
    const q = new URLSearchParams(req.QUERY_STRING);
    const wait = Number(q.get('wait') ?? 0);
    if (wait > 0) await delay(wait);
    const body = req.REQUEST_METHOD === 'POST' ? await req.body.text() : '';
    return { headers: [['X-Path', req.PATH_INFO]], body: `${req.PATH_INFO}${body ? ' ' + body : ''}` };
  };

  before(() => {
    server = serve(app, { listen: '127.0.0.1:0', log: () => {} });
    port = server.addresses[0]!.port!;
  });
  after(() => server.close());

  test('100 requests in one write get 100 responses, in order', async () => {
    const c = await RawConnection.open(port);
    try {
      let all = '';
      for (let i = 0; i < 100; i++) all += `GET /p/${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
      await c.write(all);
      const res = await c.responses(100, { timeoutMs: 10_000 });
      assert.equal(res.length, 100);
      res.forEach((r, i) => {
        assert.equal(r.status, 200);
        assert.equal(r.body.toString(), `/p/${i}`);
      });
      assert.equal(c.closed, false);
      // And the connection is still good for more.
      await c.write('GET /after HTTP/1.1\r\nHost: x\r\n\r\n');
      const more = await c.responses(101);
      assert.equal(more[100]!.body.toString(), '/after');
    } finally {
      c.destroy();
    }
  });

  test('the order holds when earlier requests take longer in the app', async () => {
    const c = await RawConnection.open(port);
    try {
      let all = '';
      for (let i = 0; i < 10; i++) all += `GET /slow/${i}?wait=${(10 - i) * 5} HTTP/1.1\r\nHost: x\r\n\r\n`;
      await c.write(all);
      const res = await c.responses(10);
      assert.deepEqual(res.map((r) => r.body.toString()), Array.from({ length: 10 }, (_, i) => `/slow/${i}`));
    } finally {
      c.destroy();
    }
  });

  test('pipelined requests with bodies and a HEAD among them', async () => {
    const c = await RawConnection.open(port);
    try {
      const reqs = [
        'POST /b1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none',
        'HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n',
        'POST /b2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n',
        'GET /g HTTP/1.1\r\nHost: x\r\n\r\n',
      ];
      await c.write(reqs.join(''));
      const res = await c.responses(4, { head: [false, true, false, false] });
      assert.deepEqual(res.map((r) => r.body.toString()), ['/b1 one', '', '/b2 two', '/g']);
      assert.equal(res[1]!.headers.find(([n]) => n === 'X-Path')?.[1], '/h');
    } finally {
      c.destroy();
    }
  });

  test('100 pipelined requests split across many small writes', async () => {
    const c = await RawConnection.open(port);
    try {
      let all = '';
      for (let i = 0; i < 100; i++) all += `GET /s/${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
      const bytes = Buffer.from(all);
      for (let at = 0; at < bytes.length; at += 97) {
        await c.write(bytes.subarray(at, at + 97));
      }
      const res = await c.responses(100, { timeoutMs: 10_000 });
      res.forEach((r, i) => assert.equal(r.body.toString(), `/s/${i}`));
    } finally {
      c.destroy();
    }
  });
});
