// Bad SCGI input: a bad netstring, CONTENT_LENGTH missing or not first, SCGI=1
// missing, HTTP on the socket, a block over the limit. Each is refused with a
// CGI-style reply (or a plain HTTP 400 for an HTTP client), a log line, the
// connection closed, the app never called; then every socket still serves.
// The cases uwsgi shares are in test/helpers/cgi-suite.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ask, assertNoHopByHop, countingApp, scgiGood, scgiRequest, withServer } from '../helpers/cgi-client.js';
import { malformedCases, SCGI } from '../helpers/cgi-suite.js';

const REST: Array<[string, string]> = [['REQUEST_METHOD', 'GET'], ['PATH_INFO', '/x']];
const SHORT: Array<[string, string]> = [['CONTENT_LENGTH', '3'], ['SCGI', '1'], ...REST];

/** The length of the netstring scgiRequest(vars) writes (name NUL value NUL per pair). */
function blockLength(vars: Array<[string, string]>): number {
  return vars.reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v) + 2, 0);
}

/** Sends `data`, expects a "Status: 400 Bad Request" reply, the close, and a log line matching `re`. */
async function refused400(h: { scgi: Parameters<typeof ask>[0]; logs: { wait(re: RegExp): Promise<string>; lines: string[] } },
  data: Buffer | string, what: string, re: RegExp): Promise<string> {
  const before = h.logs.lines.length;
  const reply = await ask(h.scgi, 'scgi', data);
  assert.equal(reply.first, 'Status: 400 Bad Request', what);
  assertNoHopByHop(reply);
  assert.equal(reply.body.toString(), 'Bad Request\n', what);
  const start = Date.now();
  while (h.logs.lines.length === before && Date.now() - start < 2000) await new Promise((r) => setTimeout(r, 5));
  const line = h.logs.lines.slice(before).join('\n');
  assert.match(line, /bad SCGI request/, `${what}: ${line}`);
  assert.match(line, re, `${what}: ${line}`);
  return line;
}

test('bad netstrings: no colon, non-digits, a leading zero, a missing trailing comma -> 400 and a log line', async () => {
  const { app, calls } = countingApp();
  await withServer(app, async (h) => {
    const good = scgiGood('/x');
    const colon = good.indexOf(':');
    const len = good.subarray(0, colon).toString();
    const block = good.subarray(colon + 1, good.length - 1);
    const cases: Array<[string, Buffer]> = [
      ['no colon', Buffer.concat([Buffer.from(len), block, Buffer.from(',')])],
      ['a colon with no digits', Buffer.concat([Buffer.from(':'), block, Buffer.from(',')])],
      ['a letter in the length', Buffer.concat([Buffer.from(len.slice(0, 1) + 'x' + len.slice(2) + ':'), block, Buffer.from(',')])],
      ['a sign', Buffer.concat([Buffer.from('+' + len + ':'), block, Buffer.from(',')])],
      ['a space before the colon', Buffer.concat([Buffer.from(len + ' :'), block, Buffer.from(',')])],
      ['a leading zero', Buffer.concat([Buffer.from('0' + len + ':'), block, Buffer.from(',')])],
      ['a semicolon for the trailing comma', scgiRequest([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ...REST], { end: ';' })],
      ['no trailing comma, the body follows', scgiRequest([['CONTENT_LENGTH', '3'], ['SCGI', '1'], ...REST], { end: '', body: 'abc' })],
      ['a length one short', scgiRequest(SHORT, { length: blockLength(SHORT) - 1 })],
      ['a length one long, the body follows', scgiRequest(SHORT, { length: blockLength(SHORT) + 1, body: 'abc' })],
    ];
    for (const [what, data] of cases) await refused400(h, data, what, /netstring/i);
    assert.equal(calls(), 0);
  });
});

test('CONTENT_LENGTH missing, not first, empty, or not digits -> 400 and a log line', async () => {
  const { app, calls } = countingApp();
  await withServer(app, async (h) => {
    await refused400(h, scgiRequest([['SCGI', '1'], ...REST]), 'missing', /CONTENT_LENGTH/);
    await refused400(h, scgiRequest([['SCGI', '1'], ['CONTENT_LENGTH', '0'], ...REST]), 'not first', /CONTENT_LENGTH/);
    await refused400(h, scgiRequest([['REQUEST_METHOD', 'GET'], ['CONTENT_LENGTH', '0'], ['SCGI', '1']]), 'after the method', /CONTENT_LENGTH/);
    await refused400(h, Buffer.from('0:,'), 'an empty block', /CONTENT_LENGTH/);
    await refused400(h, scgiRequest([['CONTENT_LENGTH', ''], ['SCGI', '1'], ...REST]), 'empty', /CONTENT_LENGTH|length/i);
    await refused400(h, scgiRequest([['CONTENT_LENGTH', '1e3'], ['SCGI', '1'], ...REST]), 'not digits', /CONTENT_LENGTH|length/i);
    await refused400(h, scgiRequest([['CONTENT_LENGTH', '-1'], ['SCGI', '1'], ...REST]), 'negative', /CONTENT_LENGTH|length/i);
    await refused400(h, scgiRequest([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['CONTENT_LENGTH', '0'], ...REST]),
      'twice', /./);
    assert.equal(calls(), 0);
  });
});

test('SCGI=1 missing (or another value) -> 400 and a log line saying so', async () => {
  const { app, calls } = countingApp();
  await withServer(app, async (h) => {
    await refused400(h, scgiRequest([['CONTENT_LENGTH', '0'], ...REST]), 'missing', /SCGI/);
    await refused400(h, scgiRequest([['CONTENT_LENGTH', '0'], ['SCGI', '2'], ...REST]), 'SCGI=2', /SCGI/);
    await refused400(h, scgiRequest([['CONTENT_LENGTH', '0'], ['SCGI', ''], ...REST]), 'SCGI empty', /SCGI/);
    assert.equal(calls(), 0);
  });
});

test('a pair without its NUL, an empty name, a repeated non-HTTP_ name -> 400', async () => {
  const { app, calls } = countingApp();
  await withServer(app, async (h) => {
    const head = Buffer.from('CONTENT_LENGTH\u00000\u0000SCGI\u00001\u0000REQUEST_METHOD\u0000GET', 'latin1');
    await refused400(h, Buffer.concat([Buffer.from(`${head.length}:`), head, Buffer.from(',')]), 'no final NUL', /./);
    await refused400(h, scgiRequest([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['', 'x']]), 'empty name', /./);
    await refused400(h, scgiRequest([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ...REST, ['REQUEST_METHOD', 'POST']]),
      'REQUEST_METHOD twice', /./);
    await refused400(h, scgiRequest([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['BAD NAME', 'x'], ...REST]), 'a space in a name', /./);
    assert.equal(calls(), 0);
  });
});

test('a header block over the limit (maxHeaderSize 1024) -> 431 and a log naming size, limit and --buffer-size', async () => {
  const { app, calls } = countingApp();
  await withServer(app, async ({ scgi, logs }) => {
    const big = scgiRequest([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ...REST, ['X_PAD', 'p'.repeat(1950)]]);
    const length = Number(big.subarray(0, big.indexOf(':')).toString());
    const reply = await ask(scgi, 'scgi', big);
    assert.equal(reply.first, 'Status: 431 Request Header Fields Too Large');
    assertNoHopByHop(reply);
    const line = await logs.wait(/over the limit/);
    assert.match(line, /SCGI/);
    assert.match(line, /\b1024\b/, 'the limit');
    assert.match(line, /--buffer-size/);
    const size = Number(/block of (\d+) bytes/.exec(line)?.[1]);
    assert.ok(size > 1024 && size <= big.length, `the size in the log (${size}) is over the limit and at most the netstring (${length})`);
    // A request that fits is served.
    const fits = scgiRequest([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ...REST, ['X_PAD', 'p'.repeat(900)]]);
    assert.ok(fits.length <= 1024);
    assert.equal((await ask(scgi, 'scgi', fits)).status, 200);
    assert.equal(calls(), 1);
  }, { maxHeaderSize: 1024 });
});

malformedCases(SCGI);
