// The less travelled paths of a FastCGI connection: replies without a body
// (HEAD, 204), a reply longer than its Content-Length, an app error or a
// client gone with requests multiplexed, a second BEGIN_REQUEST for an active
// id, ABORT_REQUEST before PARAMS ends, malformed records (each closes its
// connection, with a log line), backpressure with two large replies on one
// connection, many requests on one kept connection, the keep-alive timeout,
// and server.close() with idle and busy connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { serve, type Request } from 'tsgi';
import { values } from '../helpers/cgi-client.js';
import {
  ask, beginRequest, FcgiConnection, fcgiVars, pairs, parseStdout, PROTOCOL_STATUS, record, request, stream, T,
  withFcgiServer,
} from '../helpers/fcgi-client.js';
import { delay, until, deferred, within } from '../helpers/index.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('HEAD: headers with Content-Length, no body; 204 and 304: no body', { timeout: 10_000 }, async () => {
  const app = (req: Request) => {
    if (req.PATH_INFO === '/204') return { status: 204, body: '' };
    if (req.PATH_INFO === '/304') return { status: 304, headers: { ETag: '"v1"' } };
    return { headers: { 'Content-Type': 'text/plain' }, body: 'hello body' };
  };
  await withFcgiServer(app, async ({ tcp, unix }) => {
    const head = await ask(tcp, fcgiVars('/x', { method: 'HEAD' }));
    const h = parseStdout(head.stdout, { head: true });
    assert.equal(h.status, 200);
    assert.deepEqual(values(h, 'content-length'), ['10']);
    assert.deepEqual(head.end, { appStatus: 0, protocolStatus: 0 });
    for (const [p, status] of [['/204', 204], ['/304', 304]] as const) {
      const a = await ask(unix, fcgiVars(p));
      const r = parseStdout(a.stdout, { head: true });
      assert.equal(r.status, status);
      assert.deepEqual(values(r, 'content-length'), [], `no Content-Length on ${status}`);
    }
  });
});

test('a reply longer than its Content-Length is cut there, and END_REQUEST says appStatus 1', { timeout: 10_000 }, async () => {
  const app = () => ({ headers: { 'Content-Length': '3' }, body: (function* () { yield 'abc'; yield 'def'; })() });
  await withFcgiServer(app, async ({ tcp, logs }) => {
    const a = await ask(tcp, fcgiVars('/x'));
    assert.equal(parseStdout(a.stdout).body.toString(), 'abc');
    assert.deepEqual(a.end, { appStatus: 1, protocolStatus: PROTOCOL_STATUS.REQUEST_COMPLETE });
    void logs;
  });
});

test('multiplexed: one request\'s app error is its own 500; the others are served', { timeout: 10_000 }, async () => {
  const app = async (req: Request) => {
    if (req.PATH_INFO === '/boom') throw new Error('failed on purpose');
    await delay(50);
    return { body: `ok ${req.PATH_INFO}` };
  };
  await withFcgiServer(app, async ({ tcp, logs }) => {
    const c = await FcgiConnection.open(tcp);
    try {
      await c.write(Buffer.concat([request(1, fcgiVars('/a'), { keepConn: true }),
        request(2, fcgiVars('/boom'), { keepConn: true }), request(3, fcgiVars('/c'), { keepConn: true })]));
      const [a, b, cc] = await Promise.all([1, 2, 3].map((id) => c.answer(id)));
      assert.equal(parseStdout(a!.stdout).body.toString(), 'ok /a');
      const err = parseStdout(b!.stdout);
      assert.equal(err.status, 500);
      assert.doesNotMatch(err.body.toString(), /on purpose/);
      assert.equal(parseStdout(cc!.stdout).body.toString(), 'ok /c');
      assert.equal(c.closed, false);
      await logs.wait(/failed on purpose/);
    } finally {
      c.destroy();
    }
  });
});

test('the web server closes a connection with three requests in flight: each one\'s req.signal fires', { timeout: 10_000 }, async () => {
  const fired = new Set<string>();
  const inApp = new Set<string>();
  const app = async (req: Request) => {
    req.signal.addEventListener('abort', () => fired.add(req.PATH_INFO));
    inApp.add(req.PATH_INFO);
    await delay(2000);
    return { body: 'too late' };
  };
  await withFcgiServer(app, async ({ tcp }) => {
    const c = await FcgiConnection.open(tcp);
    await c.write(Buffer.concat([1, 2, 3].map((id) => request(id, fcgiVars(`/r${id}`), { keepConn: true }))));
    await until(() => inApp.size === 3, 3000, 'three requests in the app');
    c.destroy();
    await until(() => fired.size === 3, 3000, 'three abort signals').catch((err: Error) => {
      err.message += ` (fired: ${[...fired].join(', ')})`;
      throw err;
    });
  });
});

test('a second BEGIN_REQUEST for an active id is ignored: one request, one reply', { timeout: 10_000 }, async () => {
  let calls = 0;
  const app = (req: Request) => {
    calls++;
    return { body: `p=${req.PATH_INFO}` };
  };
  await withFcgiServer(app, async ({ tcp }) => {
    const c = await FcgiConnection.open(tcp);
    try {
      await c.write(Buffer.concat([beginRequest(1, { keepConn: true }), beginRequest(1, { keepConn: true }),
        stream(T.PARAMS, 1, pairs(fcgiVars('/dup'))), stream(T.STDIN, 1, '')]));
      const a = await c.answer(1);
      assert.equal(parseStdout(a.stdout).body.toString(), 'p=/dup');
      await delay(200);
      assert.equal(c.records().filter((r) => r.type === T.END_REQUEST).length, 1);
      assert.equal(calls, 1);
    } finally {
      c.destroy();
    }
  });
});

test('ABORT_REQUEST before PARAMS ends: END_REQUEST, the app is never called, the connection goes on', { timeout: 10_000 }, async () => {
  let calls = 0;
  const app = (req: Request) => {
    calls++;
    return { body: `p=${req.PATH_INFO}` };
  };
  await withFcgiServer(app, async ({ tcp }) => {
    const c = await FcgiConnection.open(tcp);
    try {
      await c.write(Buffer.concat([beginRequest(1, { keepConn: true }),
        stream(T.PARAMS, 1, pairs(fcgiVars('/x')), { end: false }), record(T.ABORT_REQUEST, 1)]));
      const a = await c.answer(1);
      assert.equal(a.end.protocolStatus, PROTOCOL_STATUS.REQUEST_COMPLETE);
      assert.equal(a.stdout.length, 0);
      c.records().splice(0);
      await c.write(request(1, fcgiVars('/y'), { keepConn: true }));
      assert.equal(parseStdout((await c.answer(1)).stdout).body.toString(), 'p=/y');
      assert.equal(calls, 1);
    } finally {
      c.destroy();
    }
  });
});

test('STDIN sent before PARAMS ends is kept for the request', { timeout: 10_000 }, async () => {
  await withFcgiServer(async (req) => ({ body: `b=${await req.body.text()}` }), async ({ tcp }) => {
    const c = await FcgiConnection.open(tcp);
    try {
      const vars = fcgiVars('/x', { method: 'POST', body: 'abc' });
      await c.write(Buffer.concat([beginRequest(1), stream(T.PARAMS, 1, pairs(vars), { end: false }),
        stream(T.STDIN, 1, 'abc'), record(T.PARAMS, 1)]));
      assert.equal(parseStdout((await c.answer(1)).stdout).body.toString(), 'b=abc');
    } finally {
      c.destroy();
    }
  });
});

test('STDIN records after the empty one are not the body (spec 3.3: the stream ends there)', { timeout: 10_000 }, async () => {
  await withFcgiServer(async (req) => ({ body: `b=${await req.body.text()}` }), async ({ tcp }) => {
    const c = await FcgiConnection.open(tcp);
    try {
      // No CONTENT_LENGTH: only the empty record ends the body.
      const vars = fcgiVars('/x', { method: 'POST' }).filter(([n]) => n !== 'CONTENT_LENGTH');
      await c.write(Buffer.concat([beginRequest(1), stream(T.PARAMS, 1, pairs(vars)),
        stream(T.STDIN, 1, 'hello'), record(T.STDIN, 1, Buffer.from('and more after the end'))]));
      assert.equal(parseStdout((await c.answer(1)).stdout).body.toString(), 'b=hello');
    } finally {
      c.destroy();
    }
  });
});

test('an empty PARAMS stream is answered 400 and the app is not called', { timeout: 10_000 }, async () => {
  let calls = 0;
  await withFcgiServer(() => { calls++; return { body: 'x' }; }, async ({ tcp }) => {
    const c = await FcgiConnection.open(tcp);
    try {
      await c.write(Buffer.concat([beginRequest(1), record(T.PARAMS, 1), record(T.STDIN, 1)]));
      const a = await c.answer(1);
      assert.equal(parseStdout(a.stdout).status, 400);
      assert.equal(calls, 0);
    } finally {
      c.destroy();
    }
  });
});

test('malformed records close the connection, with nothing sent and a log line; the listener goes on', { timeout: 20_000 }, async () => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['BEGIN_REQUEST on request id 0', record(T.BEGIN_REQUEST, 0, Buffer.from([0, 1, 0, 0, 0, 0, 0, 0])), /null request id/],
    ['GET_VALUES on request id 1', record(T.GET_VALUES, 1, pairs([['FCGI_MAX_CONNS', '']])), /null request id/],
    ['STDOUT from the web server', record(T.STDOUT, 1, 'x'), /only an application sends/],
    ['a request record of unknown type 12', record(12, 1, 'x'), /unknown type/],
    ['BEGIN_REQUEST of 7 bytes', record(T.BEGIN_REQUEST, 1, Buffer.from([0, 1, 0, 0, 0, 0, 0])), /not 8 bytes/],
    ['ABORT_REQUEST with content', Buffer.concat([beginRequest(1), record(T.ABORT_REQUEST, 1, 'x')]), /ABORT_REQUEST/],
    ['GET_VALUES with a value', record(T.GET_VALUES, 0, pairs([['FCGI_MAX_CONNS', '5']])), /GET_VALUES/],
  ];
  await withFcgiServer(() => ({ body: 'x' }), async ({ tcp, unix, logs }) => {
    for (const [name, bytes, log] of cases) {
      for (const target of [tcp, unix]) {
        const before = logs.lines.length;
        const c = await FcgiConnection.open(target);
        try {
          await c.write(bytes).catch(() => {});
          assert.ok(await c.waitClosed(3000), `${name}: not closed`);
          assert.equal(c.raw.received, 0, `${name}: something was sent`);
        } finally {
          c.destroy();
        }
        await until(() => logs.lines.slice(before).some((l) => /FastCGI protocol error/.test(l) && log.test(l)), 2000,
          `a log line for ${name}`).catch((err: Error) => {
          err.message += `\n${logs.lines.slice(before).join('\n')}`;
          throw err;
        });
      }
    }
  });
});

test('backpressure: two 20 MiB replies multiplexed on one connection, read late, arrive whole', { timeout: 30_000 }, async () => {
  const BLOCKS = 320;
  const block = (i: number) => Buffer.alloc(64 * 1024, i & 255);
  const expected = (id: number) => sha(Buffer.concat(Array.from({ length: BLOCKS }, (_, i) => block(i + id))));
  const app = (req: Request) => {
    const id = Number(req.PATH_INFO.slice(2));
    return { body: (function* () { for (let i = 0; i < BLOCKS; i++) yield block(i + id); })() };
  };
  await withFcgiServer(app, async ({ tcp }) => {
    const c = await FcgiConnection.open(tcp);
    try {
      c.raw.socket.pause();
      await c.write(Buffer.concat([request(1, fcgiVars('/s1'), { keepConn: true }), request(2, fcgiVars('/s2'), { keepConn: true })]));
      await delay(500);
      c.raw.socket.resume();
      const answers = await Promise.all([c.answer(1, 20_000), c.answer(2, 20_000)]);
      answers.forEach((a, i) => {
        const body = parseStdout(a.stdout).body;
        assert.equal(body.length, BLOCKS * 64 * 1024);
        assert.equal(sha(body), expected(i + 1));
        assert.deepEqual(a.end, { appStatus: 0, protocolStatus: 0 });
      });
      // The records from the server are padded to 8 bytes, full ones carry 65528.
      for (const r of c.records().filter((x) => x.type === T.STDOUT)) {
        assert.ok(r.content.length <= 65528, `a STDOUT record of ${r.content.length} bytes`);
        assert.equal((r.content.length + r.padding) % 8, 0);
      }
    } finally {
      c.destroy();
    }
  });
});

test('1,000 requests one after another on one kept connection, request ids cycling up to 65535', { timeout: 20_000 }, async () => {
  await withFcgiServer((req) => ({ body: req.PATH_INFO }), async ({ unix }) => {
    const c = await FcgiConnection.open(unix);
    try {
      for (let i = 0; i < 1000; i++) {
        const id = i < 990 ? (i % 7) + 1 : 65535 - (i - 990);
        await c.write(request(id, fcgiVars(`/n${i}`), { keepConn: true }));
        const a = await c.answer(id, 3000);
        assert.equal(parseStdout(a.stdout).body.toString(), `/n${i}`);
        c.records().splice(0);
      }
      assert.equal(c.closed, false);
    } finally {
      c.destroy();
    }
  });
});

test('an idle KEEP_CONN connection is closed after keepAliveTimeout', { timeout: 10_000 }, async () => {
  await withFcgiServer(() => ({ body: 'x' }), async ({ tcp }) => {
    const c = await FcgiConnection.open(tcp);
    try {
      await c.write(request(1, fcgiVars('/a'), { keepConn: true }));
      await c.answer(1);
      await delay(100);
      assert.equal(c.closed, false, 'open right after the reply');
      assert.ok(await c.waitClosed(3000), 'closed once idle for keepAliveTimeout');
    } finally {
      c.destroy();
    }
  }, { keepAliveTimeout: 300 });
});

test('server.close(): idle kept connections close at once, a request in flight is answered first', { timeout: 10_000 }, async () => {
  const started = deferred<void>();
  const server = serve(async (req) => {
    if (req.PATH_INFO === '/busy') {
      started.resolve();
      await delay(300);
    }
    return { body: `done ${req.PATH_INFO}` };
  }, { listen: 'fastcgi://127.0.0.1:0', log: () => {} });
  const port = server.addresses[0]!.port!;
  const idle = await FcgiConnection.open(port);
  const busy = await FcgiConnection.open(port);
  try {
    await idle.write(request(1, fcgiVars('/idle'), { keepConn: true }));
    await idle.answer(1);
    await busy.write(request(1, fcgiVars('/busy'), { keepConn: true }));
    await within(started.promise, 3000, 'the busy request in the app');
    const closing = server.close(5000);
    assert.ok(await idle.waitClosed(1000), 'the idle connection is closed');
    const a = await busy.answer(1, 3000);
    assert.equal(parseStdout(a.stdout).body.toString(), 'done /busy');
    assert.ok(await busy.waitClosed(2000), 'then the busy one is closed too');
    await closing;
  } finally {
    idle.destroy();
    busy.destroy();
    await server.close();
  }
});

test('stopAccepting() (a draining worker): a KEEP_CONN connection closes right after its request in flight', { timeout: 10_000 }, async () => {
  const started = deferred<void>();
  const server = serve(async (req) => {
    if (req.PATH_INFO === '/busy') {
      started.resolve();
      await delay(200);
    }
    return { body: `done ${req.PATH_INFO}` };
  }, { listen: 'fastcgi://127.0.0.1:0', log: () => {}, keepAliveTimeout: 10_000 });
  const port = server.addresses[0]!.port!;
  const kept = await FcgiConnection.open(port);
  const busy = await FcgiConnection.open(port);
  try {
    await kept.write(request(1, fcgiVars('/first'), { keepConn: true }));
    await kept.answer(1);
    await busy.write(request(1, fcgiVars('/busy'), { keepConn: true }));
    await within(started.promise, 2000, 'the busy request reaches the app');
    server.stopAccepting();
    const a = await busy.answer(1);
    assert.equal(parseStdout(a.stdout).body.toString(), 'done /busy');
    // END_REQUEST and the close together: the web server never sends on it again.
    assert.ok(await busy.waitClosed(500), 'closed after its request while draining');
    // A kept connection that is idle stays until close() (or its keep-alive timeout): it may still bring a request.
    assert.equal(kept.closed, false);
    await kept.write(request(2, fcgiVars('/second'), { keepConn: true }));
    assert.equal(parseStdout((await kept.answer(2)).stdout).body.toString(), 'done /second');
    assert.ok(await kept.waitClosed(500), 'and closes after that one');
  } finally {
    kept.destroy();
    busy.destroy();
    await server.close(1000);
  }
});

test('STDIN over maxBodySize on one multiplexed request: its 413, the other request is served', { timeout: 10_000 }, async () => {
  const app = async (req: Request) => ({ body: `read ${(await req.body.bytes()).length}` });
  await withFcgiServer(app, async ({ tcp }) => {
    const c = await FcgiConnection.open(tcp);
    try {
      const big = Buffer.alloc(4000, 0x62);
      const unknown = fcgiVars('/big', { method: 'POST' }).map(([k, v]) => (k === 'CONTENT_LENGTH' ? [k, ''] : [k, v]) as [string, string]);
      await c.write(Buffer.concat([
        beginRequest(1, { keepConn: true }), beginRequest(2, { keepConn: true }),
        stream(T.PARAMS, 1, pairs(unknown)), stream(T.PARAMS, 2, pairs(fcgiVars('/small', { method: 'POST', body: 'tiny' }))),
        stream(T.STDIN, 1, big, { maxRecord: 500 }), stream(T.STDIN, 2, 'tiny'),
      ]));
      const [a, b] = await Promise.all([c.answer(1), c.answer(2)]);
      assert.equal(parseStdout(a!.stdout).status, 413);
      assert.equal(parseStdout(b!.stdout).body.toString(), 'read 4');
    } finally {
      c.destroy();
    }
  }, { maxBodySize: 1000 });
});
