// Bad uwsgi input: each is refused the way the protocol allows (a uwsgi-style
// 400 or 431 with a log line, a plain HTTP 400 for an HTTP client, or a quiet
// close when the packet never completed), the app is never called, and every
// socket of the server still serves a good request afterwards. The cases
// SCGI shares are in test/helpers/cgi-suite.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ask, assertNoHopByHop, countingApp, exchange, uwsgiPacket, withServer } from '../helpers/cgi-client.js';
import { malformedCases, UWSGI } from '../helpers/cgi-suite.js';

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
  const { app, calls } = countingApp();
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
  const { app, calls } = countingApp();
  await withServer(app, async ({ uwsgi, logs }) => {
    for (const [m1, m2] of [[7, 0], [100, 0], [72, 0], [0, 1], [30, 1]] as const) {
      const reply = await ask(uwsgi, 'uwsgi', uwsgiPacket(GET, { modifier1: m1, modifier2: m2 }));
      assert.equal(reply.status, 400, `modifier1 ${m1} modifier2 ${m2}`);
    }
    assert.equal(logs.lines.filter((l) => /bad uwsgi request/.test(l)).length, 5);
    assert.equal(calls(), 0);
  });
});

test('a truncated header (2 bytes, then the client closes) is dropped without a reply', async () => {
  const { app, calls } = countingApp();
  await withServer(app, async ({ uwsgi }) => {
    for (const bytes of [Buffer.from([0, 21]), Buffer.from([0]), uwsgiPacket(GET).subarray(0, 3)]) {
      const r = await exchange(uwsgi, bytes, { end: true });
      assert.ok(r.closed, 'the server closes');
      assert.equal(r.data.length, 0, `no reply to ${bytes.toString('hex')}`);
    }
    assert.equal(calls(), 0);
  });
});

test('key or value lengths pointing past the block, or a block cut inside a pair: 400', async () => {
  const { app, calls } = countingApp();
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
  const { app, calls } = countingApp();
  await withServer(app, async ({ uwsgi, logs }) => {
    const reply = await ask(uwsgi, 'uwsgi', Buffer.from([0, 0, 0, 0]));
    assert.equal(reply.first, 'HTTP/1.1 400 Bad Request');
    await logs.wait(/bad uwsgi request/);
    assert.equal(calls(), 0);
  });
});

test('a bad CONTENT_LENGTH, a NUL in a value, a control byte in a name: 400', async () => {
  const { app, calls } = countingApp();
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
  const { app, calls } = countingApp();
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

test('an SSH banner gets a 400; a TLS ClientHello is logged as modifier1 22', async () => {
  const { app, calls } = countingApp();
  await withServer(app, async ({ uwsgi, logs }) => {
    const tlsHello = Buffer.from('160301020001 0001fc0303'.replace(/\s/g, '') + '00'.repeat(40), 'hex');
    for (const [what, bytes] of [['an SSH banner', Buffer.from('SSH-2.0-OpenSSH_9.6\r\n')], ['a TLS ClientHello', tlsHello]] as const) {
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

malformedCases(UWSGI);
