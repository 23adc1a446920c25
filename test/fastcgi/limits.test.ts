// What a FastCGI listener refuses, and how: PARAMS over the limit (431 on
// STDOUT, then END_REQUEST), more than 64 requests on one connection (503,
// then END_REQUEST {OVERLOADED}), a bad version byte (that connection closed,
// the others go on), HTTP sent to the FastCGI socket (a plain HTTP 400 that
// says so), a peer outside the allow-list; and 1,000 connections at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { serve, type Request } from 'tsgi';
import { values } from '../helpers/cgi-client.js';
import {
  ask, assertFcgiServes, beginRequest, FcgiConnection, fcgiVars, pairs, parseStdout, PROTOCOL_STATUS, record, request,
  stream, T, withFcgiServer,
} from '../helpers/fcgi-client.js';
import { delay, parseResponses, rawRequest, until, captureLog, deferred, within } from '../helpers/index.js';

test('PARAMS over maxHeaderSize: a Status: 431 reply, END_REQUEST, and a log line naming --buffer-size', { timeout: 10_000 }, async () => {
  let called = 0;
  const app = (req: Request) => {
    called++;
    return { body: `ok ${req.PATH_INFO}` };
  };
  await withFcgiServer(app, async ({ tcp, unix, logs }) => {
    const big = fcgiVars('/big', { extra: [['HTTP_COOKIE', 'c'.repeat(2000)]] });
    for (const target of [tcp, unix]) {
      const c = await FcgiConnection.open(target);
      try {
        // Cut in small records, as Apache does: the limit holds across records.
        await c.write(request(1, big, { keepConn: true, params: { maxRecord: 100 } }));
        const a = await c.answer(1);
        const r = parseStdout(a.stdout);
        assert.equal(r.status, 431, r.head);
        assert.equal(a.end.protocolStatus, PROTOCOL_STATUS.REQUEST_COMPLETE);
        assert.ok(a.stdoutEnded, 'the empty STDOUT record before END_REQUEST');
        // KEEP_CONN: the connection goes on with a request under the limit.
        await c.write(request(2, fcgiVars('/small'), { keepConn: true }));
        assert.equal(parseStdout((await c.answer(2)).stdout).body.toString(), 'ok /small');
      } finally {
        c.destroy();
      }
    }
    const line = await logs.wait(/FastCGI request refused/);
    assert.match(line, /--buffer-size/);
    assert.equal(called, 2, 'the refused requests never reached the app');
  }, { maxHeaderSize: 1024 });
});

test('more than 64 requests at once on one connection: the 65th gets Status: 503 and END_REQUEST {OVERLOADED}', { timeout: 15_000 }, async () => {
  const release = deferred<void>();
  let inApp = 0;
  const app = async (req: Request) => {
    if (req.PATH_INFO.startsWith('/held/')) {
      inApp++;
      await release.promise;
    }
    return { body: `done ${req.PATH_INFO}` };
  };
  await withFcgiServer(app, async ({ tcp }) => {
    const c = await FcgiConnection.open(tcp);
    try {
      const held = Array.from({ length: 64 }, (_, i) => request(i + 1, fcgiVars(`/held/${i + 1}`), { keepConn: true }));
      await c.write(Buffer.concat(held));
      await until(() => inApp === 64, 5000, 'all 64 requests in the app').catch((err: Error) => {
        err.message += ` (${inApp} in the app)`;
        throw err;
      });
      await c.write(request(65, fcgiVars('/one-too-many'), { keepConn: true }));
      const over = await c.answer(65);
      assert.equal(over.end.protocolStatus, PROTOCOL_STATUS.OVERLOADED);
      const r = parseStdout(over.stdout);
      assert.equal(r.status, 503, r.head);
      assert.equal(c.closed, false, 'the connection is not closed for it');
      release.resolve();
      const answers = await Promise.all(Array.from({ length: 64 }, (_, i) => c.answer(i + 1, 5000)));
      answers.forEach((a, i) => {
        assert.equal(parseStdout(a.stdout).body.toString(), `done /held/${i + 1}`);
        assert.equal(a.end.protocolStatus, PROTOCOL_STATUS.REQUEST_COMPLETE);
      });
      // With room again, request 65 is served.
      c.records().splice(0);
      await c.write(request(65, fcgiVars('/again'), { keepConn: true }));
      assert.equal(parseStdout((await c.answer(65)).stdout).body.toString(), 'done /again');
    } finally {
      release.resolve();
      c.destroy();
    }
  });
});

test('a bad version byte closes that connection; a request in flight on another connection is unaffected', { timeout: 10_000 }, async () => {
  const release = deferred<void>();
  const inApp = deferred<void>();
  const app = async (req: Request) => {
    if (req.PATH_INFO === '/slow') {
      inApp.resolve();
      await release.promise;
    }
    return { body: `ok ${req.PATH_INFO}` };
  };
  await withFcgiServer(app, async ({ tcp, unix, logs }) => {
    const other = await FcgiConnection.open(unix);
    try {
      await other.write(request(1, fcgiVars('/slow'), { keepConn: true }));
      await within(inApp.promise, 3000, 'the other request in the app');
      for (const version of [0, 2, 22]) {
        for (const first of [true, false]) {
          const bad = await FcgiConnection.open(tcp);
          try {
            // The bad record first, or after a good BEGIN_REQUEST.
            await bad.write(Buffer.concat([first ? Buffer.alloc(0) : beginRequest(1),
              record(T.PARAMS, 1, pairs(fcgiVars('/x')), { version })]));
            assert.ok(await bad.waitClosed(3000), `version ${version}: the connection was not closed`);
            assert.equal(bad.records().filter((r) => r.type === T.STDOUT && r.content.length > 0).length, 0);
          } finally {
            bad.destroy();
          }
        }
      }
      assert.match(await logs.wait(/FastCGI protocol error/), /closing the connection/);
      release.resolve();
      const a = await other.answer(1);
      assert.equal(parseStdout(a.stdout).body.toString(), 'ok /slow');
      assert.equal(other.closed, false);
      await assertFcgiServes(tcp);
    } finally {
      release.resolve();
      other.destroy();
    }
  });
});

test('HTTP sent to a FastCGI socket is answered with a plain HTTP 400 that names FastCGI', { timeout: 10_000 }, async () => {
  await withFcgiServer(() => ({ body: 'never' }), async ({ tcp, unix, logs }) => {
    for (const target of [tcp.port, unix]) {
      const r = await rawRequest(target, 'GET / HTTP/1.1\r\nHost: example.com\r\n\r\n', { timeoutMs: 3000 });
      assert.ok(r.closed, 'the connection is closed after the 400');
      const { responses } = parseResponses(r.data, { closed: true });
      assert.equal(responses.length, 1, r.data.toString());
      const res = responses[0]!;
      assert.equal(res.status, 400);
      assert.match(res.body.toString(), /FastCGI/);
      assert.match(res.body.toString(), /--http|fastcgi_pass/);
    }
    await logs.wait(/HTTP request on FastCGI socket/);
  });
});

test('allow-list: a FastCGI TCP listener with allowFrom 10.0.0.0/8 refuses 127.0.0.1; the default allows loopback', { timeout: 10_000 }, async () => {
  const logs = captureLog();
  const server = serve(() => ({ body: 'served' }), {
    listen: [{ address: '127.0.0.1:0', protocol: 'fastcgi', allowFrom: ['10.0.0.0/8'] }, 'fastcgi://127.0.0.1:0'],
    log: logs.log,
  });
  try {
    const refused = server.addresses[0]!.port!;
    const open = server.addresses[1]!.port!;
    const c = await FcgiConnection.open(refused);
    try {
      await c.write(request(1, fcgiVars('/x'))).catch(() => {});
      assert.ok(await c.waitClosed(3000), 'a peer outside the allow-list is disconnected');
      assert.equal(c.raw.received, 0, 'and gets nothing');
    } finally {
      c.destroy();
    }
    assert.match(await logs.wait(/refused a connection from 127\.0\.0\.1/), /allow-list/);
    const a = await ask(open, fcgiVars('/y'));
    assert.equal(a.reply.body.toString(), 'served');
  } finally {
    await server.close(2000);
  }
});

test('1,000 connections at once, each with a request held in the app until all are in: every one answered', { timeout: 30_000 }, async () => {
  const N = 1000;
  let inApp = 0;
  const allIn = deferred<void>();
  const bound = setTimeout(() => allIn.resolve(), 15_000);
  const app = async (req: Request) => {
    if (++inApp === N) allIn.resolve();
    await allIn.promise;
    return { body: req.PATH_INFO };
  };
  try {
    await withFcgiServer(app, async ({ tcp, unix }) => {
      const conns: FcgiConnection[] = [];
      try {
        for (let i = 0; i < N; i += 100) {
          conns.push(...await Promise.all(Array.from({ length: Math.min(100, N - i) },
            (_, j) => FcgiConnection.open((i + j) % 2 ? tcp : unix))));
        }
        await Promise.all(conns.map((c, i) => c.write(request(1 + (i % 3), fcgiVars(`/c${i}`)))));
        const answers = await Promise.all(conns.map((c, i) => c.answer(1 + (i % 3), 20_000)));
        assert.equal(inApp, N, 'all requests were in the app at once');
        answers.forEach((a, i) => {
          const r = parseStdout(a.stdout);
          assert.equal(r.status, 200);
          assert.equal(r.body.toString(), `/c${i}`);
          assert.deepEqual(values(r, 'content-length'), [String(`/c${i}`.length)]);
        });
      } finally {
        for (const c of conns) c.destroy();
      }
    });
  } finally {
    clearTimeout(bound);
  }
});

test('STDIN over maxBodySize is refused with 413; a stated CONTENT_LENGTH over it too, before the app', { timeout: 10_000 }, async () => {
  let called = 0;
  const app = async (req: Request) => {
    called++;
    try {
      return { body: `read ${(await req.body.bytes()).length}` };
    } catch (err) {
      return { status: 599, body: String(err) };
    }
  };
  await withFcgiServer(app, async ({ tcp, unix }) => {
    const body = Buffer.alloc(5000, 0x61);
    const stated = await ask(tcp, fcgiVars('/big', { method: 'POST', body }), { body });
    assert.equal(stated.reply.status, 413, stated.reply.head);
    assert.equal(called, 0, 'a stated length over the limit never reaches the app');
    // Unknown length: the limit is found while reading.
    const vars = fcgiVars('/big', { method: 'POST' }).map(([k, v]) => (k === 'CONTENT_LENGTH' ? [k, ''] : [k, v]) as [string, string]);
    const c = await FcgiConnection.open(unix);
    try {
      await c.write(Buffer.concat([beginRequest(1), stream(T.PARAMS, 1, pairs(vars)),
        stream(T.STDIN, 1, body, { maxRecord: 1000 })]));
      const a = await c.answer(1);
      const r = parseStdout(a.stdout);
      assert.equal(r.status, 413, r.head);
      assert.equal(a.end.protocolStatus, PROTOCOL_STATUS.REQUEST_COMPLETE);
    } finally {
      c.destroy();
    }
  }, { maxBodySize: 1000 });
});

// A raw TCP socket that is never a FastCGI client: used to check the server's
// treatment of a peer that just sits there.
test('a connection that sends half a record and stops is closed by the header timeout; others go on', { timeout: 10_000 }, async () => {
  await withFcgiServer(() => ({ body: 'fine' }), async ({ tcp }) => {
    const s = net.connect(tcp.port, tcp.host);
    const closed = new Promise<void>((resolve) => { s.on('close', () => resolve()); s.on('error', () => {}); });
    s.write(beginRequest(1).subarray(0, 5));
    await within(closed, 5000, 'the server closing an idle half record');
    await assertFcgiServes(tcp);
  }, { headerTimeout: 500 });
  await delay(0);
});
