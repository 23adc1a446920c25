// Expect: 100-continue (RFC 9110 10.1.1): the interim 100 goes out only when
// the app asks for the body; an app that answers without reading never sends
// it, and the connection (whose framing is then unknown) is closed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type ServerHandle } from 'tsgi';
import type { App } from 'tsgi';
import { delay, eventually, header, RawConnection } from '../helpers/index.js';

describe('Expect: 100-continue', () => {
  let server: ServerHandle;
  let port: number;
  const gate: { release?: () => void } = {};
  let bodyDone = false;
  const app: App = async (req) => {
    if (req.PATH_INFO === '/refuse') return { status: 403, body: 'no thanks' };
    if (req.PATH_INFO === '/echo') return { body: req.body };  // streams the request body back
    if (req.PATH_INFO === '/gated') await new Promise<void>((resolve) => { gate.release = resolve; });
    const text = await req.body.text();
    bodyDone = true;
    return { body: `got ${text}` };
  };

  before(() => {
    server = serve(app, { listen: '127.0.0.1:0', log: () => {} });
    port = server.addresses[0]!.port!;
  });
  after(() => server.close());

  test('100 Continue is sent only once the app reads the body, then the reply', async () => {
    const c = await RawConnection.open(port);
    try {
      delete gate.release;
      bodyDone = false;
      await c.write('POST /gated HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
      // The app is holding off: nothing may arrive yet.
      const releaseApp = await eventually(() => gate.release, 2000, 'the app to be called before the body is sent');
      await delay(100);
      assert.equal(c.received, 0, `nothing before the app reads; got ${JSON.stringify(c.data.toString())}`);
      releaseApp();
      await c.waitUntil(() => c.data.includes('\r\n\r\n'), 2000, '100 Continue');
      assert.equal(c.data.toString('latin1'), 'HTTP/1.1 100 Continue\r\n\r\n');
      assert.equal(bodyDone, false);
      await c.write('hello');
      const res = await c.responses(1);
      assert.equal(res.length, 2);
      assert.equal(res[0]!.status, 100);
      assert.equal(res[1]!.status, 200);
      assert.equal(res[1]!.body.toString(), 'got hello');
      // The connection stays usable.
      assert.equal(c.closed, false);
      await c.write('POST /again HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok');
      const more = await c.responses(2);
      assert.equal(more.at(-1)!.body.toString(), 'got ok');
      assert.equal(more.filter((r) => r.status === 100).length, 1, 'no 100 without Expect');
    } finally {
      c.destroy();
    }
  });

  test('a client that sends the body without waiting gets one 100 and the reply', async () => {
    const c = await RawConnection.open(port);
    try {
      await c.write('POST /eager HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc');
      const res = await c.responses(1);
      assert.deepEqual(res.map((r) => r.status), [100, 200]);
      assert.equal(res[1]!.body.toString(), 'got abc');
    } finally {
      c.destroy();
    }
  });

  test('chunked body with 100-continue', async () => {
    const c = await RawConnection.open(port);
    try {
      await c.write('POST /chunked HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nTransfer-Encoding: chunked\r\n\r\n');
      await c.waitUntil(() => c.data.includes('\r\n\r\n'), 2000, '100 Continue');
      assert.equal(c.data.toString('latin1'), 'HTTP/1.1 100 Continue\r\n\r\n');
      await c.write('4\r\nbody\r\n0\r\n\r\n');
      const res = await c.responses(1);
      assert.equal(res[1]!.body.toString(), 'got body');
    } finally {
      c.destroy();
    }
  });

  test('an app that replies without reading never sends 100, and the connection closes', async () => {
    const c = await RawConnection.open(port);
    try {
      await c.write('POST /refuse HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n');
      const res = await c.responses(1);
      assert.equal(res.length, 1, 'no interim response');
      assert.equal(res[0]!.status, 403);
      assert.equal(res[0]!.body.toString(), 'no thanks');
      assert.equal(header(res[0]!, 'connection'), 'close');
      assert.ok(!c.data.toString('latin1').includes('100 Continue'));
      assert.equal(await c.waitClosed(2000), true, 'the connection is closed');
    } finally {
      c.destroy();
    }
  });

  test('an app that streams the request body back gets it: 100 Continue goes out first', async () => {
      const c = await RawConnection.open(port);
      try {
        await c.write('POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
        // A client waits for the 100 (curl: 1 s, others longer) before sending.
        await c.waitUntil(() => c.data.includes('\r\n\r\n'), 2000, 'a response head');
        assert.match(c.data.toString('latin1'), /^HTTP\/1\.1 100 Continue\r\n\r\n/);
        await c.write('hello');
        const res = await c.responses(1);
        assert.equal(res.at(-1)!.body.toString(), 'hello');
      } finally {
        c.destroy();
      }
    });

  test('HTTP/1.0 with Expect gets no 100 (RFC 9110 10.1.1)', async () => {
    const c = await RawConnection.open(port);
    try {
      await c.write('POST /old HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi');
      const res = await c.responses(1);
      assert.deepEqual(res.map((r) => r.status), [200]);
      assert.equal(res[0]!.body.toString(), 'got hi');
    } finally {
      c.destroy();
    }
  });

  test('an expectation other than 100-continue gets 417', async () => {
    const c = await RawConnection.open(port);
    try {
      await c.write('POST /x HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nContent-Length: 2\r\n\r\nhi');
      const [res] = await c.responses(1);
      assert.equal(res!.status, 417);
      assert.equal(await c.waitClosed(2000), true);
    } finally {
      c.destroy();
    }
  });
});
