// Bad uwsgi input: each is refused the way the protocol allows (a uwsgi-style
// 400 or 431 with a log line, a plain HTTP 400 for an HTTP client, or a quiet
// close when the packet never completed), the app is never called, and every
// socket of the server still serves a good request afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Request } from 'tsgi';
import { parseResponses, header, delay, deferred, within } from '../helpers/index.js';
import {
  ask, assertNoHopByHop, exchange, HEALTH, open, uwsgiPacket, uwsgiRequest, withServer,
} from '../helpers/cgi-client.js';

/** An app that counts the requests it got other than the health checks. */
function counting(): { app: (req: Request) => { body: string }; calls: () => number } {
  let n = 0;
  return {
    app: (req) => {
      if (req.PATH_INFO !== HEALTH) n++;
      return { body: 'app' };
    },
    calls: () => n,
  };
}

const GET: Array<[string, string]> = [['REQUEST_METHOD', 'GET'], ['PATH_INFO', '/x']];

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

/** A uwsgi header with modifier1 0 and the given datasize, followed by `block`. */
function raw(block: Buffer, datasize = block.length, modifier1 = 0, modifier2 = 0): Buffer {
  return Buffer.concat([Buffer.from([modifier1]), u16(datasize), Buffer.from([modifier2]), block]);
}

test('modifier1 5 (PSGI) is refused: a uwsgi-style 400, the connection closed, a log line', async () => {
  const { app, calls } = counting();
  await withServer(app, async ({ uwsgi, logs }) => {
    const reply = await ask(uwsgi, 'uwsgi', uwsgiPacket(GET, { modifier1: 5 }));
    assert.equal(reply.first, 'HTTP/1.1 400 Bad Request');
    assertNoHopByHop(reply);
    const line = await logs.wait(/bad uwsgi request/);
    assert.match(line, /modifier/i);
    assert.match(line, /\(5\)/, 'the log names modifier1');
    assert.equal(calls(), 0);
  });
});

test('other modifiers are refused too: 7 (Rack), 100 (ping), 72 (raw HTTP), modifier2 1', async () => {
  const { app, calls } = counting();
  await withServer(app, async ({ uwsgi, logs }) => {
    for (const [m1, m2] of [[7, 0], [100, 0], [72, 0], [0, 1], [30, 1]] as const) {
      const reply = await ask(uwsgi, 'uwsgi', uwsgiPacket(GET, { modifier1: m1, modifier2: m2 }));
      assert.equal(reply.status, 400, `modifier1 ${m1} modifier2 ${m2}`);
    }
    assert.equal(logs.lines.filter((l) => /bad uwsgi request/.test(l)).length, 5);
    assert.equal(calls(), 0);
  });
});

test('HTTP sent to the uwsgi socket gets a plain HTTP 400 saying it is a uwsgi socket', async () => {
  const { app, calls } = counting();
  await withServer(app, async ({ uwsgi, logs }) => {
    for (const request of ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc',
      'HEAD / HTTP/1.0\r\n\r\n']) {
      const r = await exchange(uwsgi, request);
      assert.ok(r.closed, 'closed after the 400');
      const { responses } = parseResponses(r.data, { closed: true, head: false });
      assert.equal(responses.length, 1, r.data.toString('latin1'));
      const res = responses[0]!;
      assert.equal(res.version, 'HTTP/1.1');
      assert.equal(res.status, 400);
      assert.match(res.body.toString(), /uwsgi socket/);
      assert.match(res.body.toString(), /not HTTP/);
      assert.equal(header(res, 'content-length'), String(res.body.length));
    }
    await logs.wait(/HTTP request on uwsgi socket/);
    assert.equal(calls(), 0);
  });
});

test('a truncated header (2 bytes, then the client closes) is dropped without a reply', async () => {
  const { app, calls } = counting();
  await withServer(app, async ({ uwsgi }) => {
    for (const bytes of [Buffer.from([0, 21]), Buffer.from([0]), uwsgiPacket(GET).subarray(0, 3)]) {
      const r = await exchange(uwsgi, bytes, { end: true });
      assert.ok(r.closed, 'the server closes');
      assert.equal(r.data.length, 0, `no reply to ${bytes.toString('hex')}`);
    }
    assert.equal(calls(), 0);
  });
});

test('a packet cut short (datasize larger than what was sent, then close) is dropped without a reply', async () => {
  const { app, calls } = counting();
  await withServer(app, async ({ uwsgi }) => {
    const full = uwsgiPacket(GET);
    const r = await exchange(uwsgi, full.subarray(0, full.length - 5), { end: true });
    assert.ok(r.closed);
    assert.equal(r.data.length, 0);
    assert.equal(calls(), 0);
  });
});

test('key or value lengths pointing past the block, or a block cut inside a pair: 400', async () => {
  const { app, calls } = counting();
  await withServer(app, async ({ uwsgi, logs }) => {
    const method = Buffer.concat([u16(14), Buffer.from('REQUEST_METHOD'), u16(3), Buffer.from('GET')]);
    const cases: Array<[string, Buffer]> = [
      ['key length past the block', raw(Buffer.concat([method, u16(200), Buffer.from('PATH_INFO'), u16(2), Buffer.from('/x')]))],
      ['value length past the block', raw(Buffer.concat([method, u16(9), Buffer.from('PATH_INFO'), u16(60000), Buffer.from('/x')]))],
      ['key length 0xffff', raw(Buffer.concat([u16(0xffff), Buffer.from('REQUEST_METHOD')]))],
      ['datasize ends inside a value', raw(method, method.length - 1)],
      ['datasize ends inside a length', raw(Buffer.concat([method, u16(9)]), method.length + 1)],
      ['an empty key', raw(Buffer.concat([method, u16(0), u16(1), Buffer.from('x')]))],
    ];
    for (const [what, bytes] of cases) {
      // The bytes the shorter datasize leaves out would be the body: the client may be waiting.
      const reply = await ask(uwsgi, 'uwsgi', bytes);
      assert.equal(reply.first, 'HTTP/1.1 400 Bad Request', what);
    }
    assert.equal(logs.lines.filter((l) => /bad uwsgi request/.test(l)).length, cases.length, logs.lines.join('\n'));
    assert.equal(calls(), 0);
  });
});

test('a zero-size packet (datasize 0) is refused with 400 and a log line', async () => {
  const { app, calls } = counting();
  await withServer(app, async ({ uwsgi, logs }) => {
    const reply = await ask(uwsgi, 'uwsgi', Buffer.from([0, 0, 0, 0]));
    assert.equal(reply.first, 'HTTP/1.1 400 Bad Request');
    await logs.wait(/bad uwsgi request/);
    assert.equal(calls(), 0);
  });
});

test('a bad CONTENT_LENGTH, a NUL in a value, a control byte in a name: 400', async () => {
  const { app, calls } = counting();
  await withServer(app, async ({ uwsgi }) => {
    const cases: Array<Array<[string, string]>> = [
      [...GET, ['CONTENT_LENGTH', '-1']],
      [...GET, ['CONTENT_LENGTH', '1 2']],
      [...GET, ['CONTENT_LENGTH', '3'], ['CONTENT_LENGTH', '4']],
      [...GET, ['X_VAR', 'a\u0000b']],
      [...GET, ['BAD NAME', 'x']],
      [...GET, ['BAD\nNAME', 'x']],
    ];
    for (const vars of cases) {
      const reply = await ask(uwsgi, 'uwsgi', uwsgiPacket(vars, { body: 'abc' }));
      assert.equal(reply.status, 400, JSON.stringify(vars));
    }
    assert.equal(calls(), 0);
  });
});

test('a block over the limit (maxHeaderSize 1024, a 2000-byte block) gets 431 and a log naming size, limit and --buffer-size', async () => {
  const { app, calls } = counting();
  await withServer(app, async ({ uwsgi, logs }) => {
    const base: Array<[string, string]> = [['REQUEST_METHOD', 'GET']];
    const baseLen = uwsgiPacket(base).length - 4;
    const vars: Array<[string, string]> = [...base, ['X_PAD', 'p'.repeat(2000 - baseLen - 2 - 5 - 2)]];
    const packet = uwsgiPacket(vars);
    assert.equal(packet.length, 4 + 2000);
    const reply = await ask(uwsgi, 'uwsgi', packet);
    assert.equal(reply.first, 'HTTP/1.1 431 Request Header Fields Too Large');
    assertNoHopByHop(reply);
    const line = await logs.wait(/over the limit/);
    assert.match(line, /\b2004\b/, 'the size (4-byte header + 2000-byte block)');
    assert.match(line, /\b1024\b/, 'the limit');
    assert.match(line, /--buffer-size/);
    assert.match(line, /uwsgi/);
    // Just under the limit is served.
    const fits = uwsgiPacket([...base, ['X_PAD', 'p'.repeat(1024 - 4 - baseLen - 2 - 5 - 2)]]);
    assert.equal(fits.length, 1024);
    assert.equal((await ask(uwsgi, 'uwsgi', fits)).status, 200);
    assert.equal(calls(), 1);
  }, { maxHeaderSize: 1024 });
});

for (const how of ['half-closes', 'goes away'] as const) {
  test(`a body shorter than CONTENT_LENGTH, then the client ${how}: the body read rejects, the signal fires`, async () => {
    const outcome = deferred<{ code: string | undefined; aborted: boolean; got: number }>();
    const started = deferred<void>();
    const app = async (req: Request) => {
      started.resolve();
      let got = 0;
      try {
        for await (const piece of req.body) got += piece.byteLength;
        outcome.resolve({ code: undefined, aborted: req.signal.aborted, got });
      } catch (err) {
        outcome.resolve({ code: (err as { code?: string }).code, aborted: req.signal.aborted, got });
      }
      return { body: 'never seen' };
    };
    await withServer(app, async ({ uwsgi }) => {
      const c = await open(uwsgi);
      try {
        await c.write(uwsgiRequest('/short', { body: 'x'.repeat(100) }).subarray(0, -90));
        await within(started.promise, 2000, 'the app starts');
        if (how === 'half-closes') c.socket.end();
        else c.destroy();
        const o = await within(outcome.promise, 3000, 'the app learns the client left');
        assert.equal(o.code, 'TSGI_ERR_BODY_ABORTED');
        assert.equal(o.aborted, true, 'signal aborted');
        assert.equal(o.got, 10, 'the 10 bytes that came were delivered');
        if (how === 'half-closes') {
          assert.ok(await c.waitClosed(2000), 'the server closes');
          assert.equal(c.data.length, 0, 'no reply after the client left');
        }
      } finally {
        c.destroy();
      }
    });
  });
}

test('a client that resets mid-body: the signal fires', async () => {
  const aborted = deferred<boolean>();
  const app = async (req: Request) => {
    req.signal.addEventListener('abort', () => aborted.resolve(true));
    try { await req.body.bytes(); } catch { /* expected */ }
    return { body: 'x' };
  };
  await withServer(app, async ({ uwsgi }) => {
    const c = await open(uwsgi);
    await c.write(uwsgiRequest('/short', { body: 'x'.repeat(1000) }).subarray(0, -500));
    await delay(50);
    c.socket.resetAndDestroy();
    assert.equal(await within(aborted.promise, 3000, 'the abort signal'), true);
  });
});

test('junk bytes are refused with 400 (or dropped when incomplete), never reach the app', async () => {
  const { app, calls } = counting();
  await withServer(app, async ({ uwsgi, logs }) => {
    const tlsHello = Buffer.from('160301020001 0001fc0303'.replace(/\s/g, '') + '00'.repeat(40), 'hex');
    let seed = 12345;
    const random = Buffer.alloc(600);
    for (let i = 0; i < random.length; i++) { seed = (seed * 1103515245 + 12345) >>> 0; random[i] = seed >>> 24; }
    random[0] = 0xde;
    const cases: Array<[string, Buffer]> = [
      ['a TLS ClientHello', tlsHello],
      ['random bytes', random],
      ['lower-case text', Buffer.from('hello there, server\r\n\r\n')],
      ['0xff bytes', Buffer.alloc(64, 0xff)],
      ['an SSH banner', Buffer.from('SSH-2.0-OpenSSH_9.6\r\n')],
    ];
    for (const [what, bytes] of cases) {
      const r = await exchange(uwsgi, bytes);
      assert.ok(r.closed, `${what}: the server closes`);
      const text = r.data.toString('latin1');
      assert.match(text, /^HTTP\/1\.1 400 /, `${what}: ${JSON.stringify(text.slice(0, 80))}`);
    }
    assert.match(await logs.wait(/bad uwsgi request/), /uwsgi/);
    assert.ok(logs.lines.some((l) => /\(22\)/.test(l)), 'the TLS ClientHello is logged as modifier1 22');
    assert.equal(calls(), 0);
  });
});
