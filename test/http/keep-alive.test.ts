// Persistent connections (RFC 9112 9.3): HTTP/1.1 stays open unless told to
// close; HTTP/1.0 closes unless it asked for keep-alive, and then the reply
// says so.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serve } from 'tsgi';
import type { App } from 'tsgi';
import { header, parseResponses, RawConnection } from '../helpers/index.js';
import { LISTENER_KINDS, servedBefore } from '../helpers/served.js';

for (const kind of LISTENER_KINDS) describe(`keep-alive over ${kind}`, () => {
  const remotePorts = new Set<string>();
  const app: App = async (req) => {
    remotePorts.add(req.REMOTE_PORT);
    const line = `${req.REQUEST_METHOD} ${req.PATH_INFO} ${req.SERVER_PROTOCOL}`;
    if (req.PATH_INFO.startsWith('/read')) return { body: `${line} [${await req.body.text()}]` };
    return { body: line };
  };

  const served = servedBefore(kind, app);

  test('HTTP/1.1: several requests on one socket, each answered, one after the other', async () => {
    const c = await RawConnection.open(served.port);
    try {
      remotePorts.clear();
      for (let i = 0; i < 5; i++) {
        await c.write(`GET /n${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
        const all = await c.responses(i + 1);
        const res = all[i]!;
        assert.equal(res.status, 200);
        assert.equal(res.body.toString(), `GET /n${i} HTTP/1.1`);
        assert.equal(header(res, 'connection'), undefined, 'a persistent 1.1 reply needs no Connection header');
      }
      assert.equal(c.closed, false);
      assert.equal(remotePorts.size, 1, 'all requests came over one connection');
    } finally {
      c.destroy();
    }
  });

  test('HTTP/1.1 with a body on each request keeps the framing', async () => {
    const c = await RawConnection.open(served.port);
    try {
      await c.write('POST /read/a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
      await c.write('POST /read/b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
      await c.write('GET /c HTTP/1.1\r\nHost: x\r\n\r\n');
      const res = await c.responses(3);
      assert.deepEqual(res.map((r) => r.body.toString()),
        ['POST /read/a HTTP/1.1 [hello]', 'POST /read/b HTTP/1.1 [abc]', 'GET /c HTTP/1.1']);
      assert.equal(c.closed, false);
    } finally {
      c.destroy();
    }
  });

  test('a small Content-Length body the app does not read is skipped and the connection kept', async () => {
    const c = await RawConnection.open(served.port);
    try {
      await c.write('POST /ignored HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nGET /bad HT');
      await c.write('GET /next HTTP/1.1\r\nHost: x\r\n\r\n');
      const res = await c.responses(2);
      assert.deepEqual(res.map((r) => r.body.toString()), ['POST /ignored HTTP/1.1', 'GET /next HTTP/1.1']);
      assert.equal(header(res[0]!, 'connection'), undefined);
      assert.equal(c.closed, false);
    } finally {
      c.destroy();
    }
  });

  test('HTTP/1.0 without keep-alive: the server closes after the reply', async () => {
    const c = await RawConnection.open(served.port);
    try {
      await c.write('GET /old HTTP/1.0\r\n\r\n');
      const [res] = await c.responses(1);
      assert.equal(res!.status, 200);
      assert.equal(res!.body.toString(), 'GET /old HTTP/1.0');
      assert.equal(header(res!, 'connection'), 'close');
      assert.equal(await c.waitClosed(2000), true, 'connection closed by the server');
    } finally {
      c.destroy();
    }
  });

  test('HTTP/1.0 with Connection: keep-alive stays open and says so', async () => {
    const c = await RawConnection.open(served.port);
    try {
      remotePorts.clear();
      await c.write('GET /k1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
      const [first] = await c.responses(1);
      assert.equal(first!.status, 200);
      assert.equal(header(first!, 'connection')?.toLowerCase(), 'keep-alive');
      assert.equal(header(first!, 'content-length'), String('GET /k1 HTTP/1.0'.length));
      assert.equal(await c.waitClosed(300), false, 'still open after the reply');
      await c.write('GET /k2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
      const all = await c.responses(2);
      assert.equal(all[1]!.body.toString(), 'GET /k2 HTTP/1.0');
      assert.equal(header(all[1]!, 'connection')?.toLowerCase(), 'keep-alive');
      assert.equal(remotePorts.size, 1);
      // The last request of a 1.0 keep-alive connection, without the token: closed.
      await c.write('GET /k3 HTTP/1.0\r\n\r\n');
      const three = await c.responses(3);
      assert.equal(header(three[2]!, 'connection'), 'close');
      assert.equal(await c.waitClosed(2000), true);
    } finally {
      c.destroy();
    }
  });

  test('HTTP/1.1 Connection: close closes after the reply', async () => {
    const c = await RawConnection.open(served.port);
    try {
      await c.write('GET /first HTTP/1.1\r\nHost: x\r\n\r\n');
      await c.responses(1);
      await c.write('GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const res = await c.responses(2);
      assert.equal(res[1]!.body.toString(), 'GET /last HTTP/1.1');
      assert.equal(header(res[1]!, 'connection'), 'close');
      assert.equal(await c.waitClosed(2000), true, 'closed after the reply');
    } finally {
      c.destroy();
    }
  });

  test('HTTP/1.1 Connection: close among other options still closes', async () => {
    const c = await RawConnection.open(served.port);
    try {
      await c.write('GET /x HTTP/1.1\r\nHost: x\r\nConnection: TE, Close\r\n\r\n');
      const [res] = await c.responses(1);
      assert.equal(header(res!, 'connection'), 'close');
      assert.equal(await c.waitClosed(2000), true);
    } finally {
      c.destroy();
    }
  });

  test('requests after Connection: close in the same write are not served', async () => {
    const c = await RawConnection.open(served.port);
    try {
      await c.write('GET /1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(await c.waitClosed(2000), true);
      const { responses } = parseResponses(c.data, { closed: true });
      assert.equal(responses.length, 1);
      assert.equal(responses[0]!.body.toString(), 'GET /1 HTTP/1.1');
    } finally {
      c.destroy();
    }
  });

  test('an app reply with Connection: close closes the connection', async () => {
    const s = serve(() => ({ headers: { Connection: 'close' }, body: 'bye' }), { listen: '127.0.0.1:0', log: () => {} });
    try {
      const c = await RawConnection.open(s.addresses[0]!.port!);
      try {
        await c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
        const [res] = await c.responses(1);
        assert.equal(res!.body.toString(), 'bye');
        assert.deepEqual(res!.headers.filter(([n]) => n.toLowerCase() === 'connection').map(([, v]) => v), ['close']);
        assert.equal(await c.waitClosed(2000), true);
      } finally {
        c.destroy();
      }
    } finally {
      await s.close();
    }
  });
});
