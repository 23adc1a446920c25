// Pipelining (RFC 9112 9.3.2): many requests in one write are answered in
// the order they were sent, whatever order the app finishes them in.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { App } from 'tsgi';
import { delay, parseResponses, RawConnection, rawRequest } from '../helpers/index.js';
import { LISTENER_KINDS, servedBefore } from '../helpers/served.js';

for (const kind of LISTENER_KINDS) describe(`pipelining over ${kind}`, () => {
  let bigCalls = 0;
  const app: App = async (req) => {
    if (req.PATH_INFO === '/big') {
      bigCalls++;
      return { body: Buffer.alloc(1024 * 1024, 0x41 + (bigCalls % 26)) };
    }
    const q = new URLSearchParams(req.QUERY_STRING);
    const wait = Number(q.get('wait') ?? 0);
    if (wait > 0) await delay(wait);
    const body = req.REQUEST_METHOD === 'POST' ? await req.body.text() : '';
    return { headers: [['X-Path', req.PATH_INFO]], body: `${req.PATH_INFO}${body ? ' ' + body : ''}` };
  };

  const served = servedBefore(kind, app);

  test('100 requests in one write get 100 responses, in order', async () => {
    const c = await RawConnection.open(served.port);
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
    const c = await RawConnection.open(served.port);
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

  test('a reply made at once goes out while the next pipelined request is still in the app', async () => {
    const c = await RawConnection.open(served.port);
    try {
      // Replies of a pipeline are gathered into one write only while the app
      // answers within the turn: the first must not wait for the slow second.
      await c.write('GET /fast HTTP/1.1\r\nHost: x\r\n\r\nGET /slow?wait=1500 HTTP/1.1\r\nHost: x\r\n\r\n');
      const first = await c.responses(1, { timeoutMs: 1000 });
      assert.equal(first[0]!.body.toString(), '/fast');
      const both = await c.responses(2, { timeoutMs: 5000 });
      assert.equal(both[1]!.body.toString(), '/slow');
    } finally {
      c.destroy();
    }
  });

  test('pipelined requests with bodies and a HEAD among them', async () => {
    const c = await RawConnection.open(served.port);
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
    const c = await RawConnection.open(served.port);
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

  test('unread request bodies in a pipeline are skipped, every request answered', async () => {
    const c = await RawConnection.open(served.port);
    try {
      let all = '';
      for (let i = 0; i < 50; i++) all += `PUT /u/${i} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n${'GET / HTTP/1.1\r\n'.repeat(62)}${'z'.repeat(8)}`;
      await c.write(all);
      const res = await c.responses(50);
      res.forEach((r, i) => assert.equal(r.body.toString(), `/u/${i}`));
      assert.equal(c.closed, false);
    } finally {
      c.destroy();
    }
  });

  test('a CRLF after a body, before the next request, is ignored (RFC 9112 2.2)', async () => {
    const c = await RawConnection.open(served.port);
    try {
      await c.write('POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n');
      const res = await c.responses(2);
      assert.deepEqual(res.map((r) => r.body.toString()), ['/a ab', '/b']);
    } finally {
      c.destroy();
    }
  });

  test('a pipeline of large replies to a client that does not read stops early', async () => {
    const c = await RawConnection.open(served.port);
    try {
      bigCalls = 0;
      c.socket.pause();
      let all = '';
      for (let i = 0; i < 20; i++) all += 'GET /big HTTP/1.1\r\nHost: x\r\n\r\n';
      await c.write(all);
      await delay(300);
      assert.ok(bigCalls > 0 && bigCalls < 12, `${bigCalls} of 20 replies were made for a client that reads nothing`);
      c.socket.resume();
      const res = await c.responses(20, { timeoutMs: 10_000 });
      assert.equal(bigCalls, 20);
      for (const r of res) assert.equal(r.body.length, 1024 * 1024);
    } finally {
      c.destroy();
    }
  });
});

// RFC 9112 9.6: after a request that closes the connection, nothing more on
// it is processed, even when it arrived in the same write.
describe('nothing after a closing request runs', () => {
  const ran: string[] = [];
  const served = servedBefore('tcp', (req) => {
    ran.push(`${req.REQUEST_METHOD} ${req.PATH_INFO}`);
    return req.PATH_INFO === '/app-close' ? { headers: { connection: 'close' }, body: 'bye' } : { body: 'ok' };
  });
  const ghost = 'POST /ghost HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello';
  for (const [name, first] of [
    ['Connection: close', 'GET /1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'],
    ['HTTP/1.0 without keep-alive', 'GET /1 HTTP/1.0\r\n\r\n'],
    ['the app\'s Connection: close', 'GET /app-close HTTP/1.1\r\nHost: t\r\n\r\n'],
  ] as const) {
    test(`${name}: one reply, the connection closes, the pipelined request never reaches the app`, async () => {
      ran.length = 0;
      const r = await rawRequest(served.port, first + ghost, { timeoutMs: 5_000 });
      assert.equal(r.closed, true);
      const { responses } = parseResponses(r.data, { closed: true });
      assert.equal(responses.length, 1);
      await delay(50);
      assert.deepEqual(ran, [first.includes('app-close') ? 'GET /app-close' : 'GET /1']);
    });
  }
});
