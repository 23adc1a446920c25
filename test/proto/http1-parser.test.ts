// The HTTP/1.1 framer against its fixtures (test/fixtures/http1/*.json), and
// the fuzz corpus and regressions replayed so they stay fixed without clang.
//
// The hooks come from tsgi_testing.node (native/napi/parser_binding.cc), which only tests load.
// parseHead() itself feeds every prefix of its input with one persistent
// scan_from and throws if the first answer differs from the whole buffer's,
// so each head fixture here is also checked split at every offset. Chunked
// bodies are decoded whole and in pieces of 1, 2, 3 and 7 bytes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { join } from 'node:path';
import { binding } from 'tsgi/native';
import { hooks as testing, type ParsedHead as HeadResult } from '../helpers/testing-addon.js';
import { ROOT as root } from '../helpers/index.js';

interface ChunkedResult {
  result: 'done' | 'again' | 'error';
  body: Buffer;
  consumed: number;
  error?: string;
  /** Each chunk-size as reported when its line ended, in hex. */
  sizes: string[];
}

interface ParserHooks {
  parseHead(buf: Buffer, maxHead?: number, maxHeaders?: number, maxTarget?: number): HeadResult;
  decodeChunked(buf: Buffer, pieceSize: number): ChunkedResult;
}

type Piece = string | { repeat: string; times: number };

interface ChunkedExpect {
  result: ChunkedResult['result'];
  body: string;
  consumed: number;
  error?: string;
  sizes?: string[];
}

interface HeadExpect {
  result: HeadResult['result'];
  status?: number;
  reason?: string;
  method?: string;
  target?: string;
  path?: string;
  query?: string;
  host?: string;
  flags?: string[];
  contentLength?: number | string;
  headLen?: number;
  headers?: [string, string][];
}

interface Fixture {
  name: string;
  kind?: 'head' | 'chunked';
  input: string | Piece[];
  limits?: { maxHead?: number; maxHeaders?: number; maxTarget?: number };
  expect: HeadExpect | ChunkedExpect;
  body?: ChunkedExpect;
}

const hooks = testing as unknown as ParserHooks;

// The flag bits come from the addon (binding.abi.recordFlags, the lists in
// native/napi/abi.h), so the names here cannot drift from them:
// KEEP_ALIVE becomes keepAlive.
function readFlags(): Map<string, number> {
  const flags = new Map<string, number>();
  for (const [key, bit] of Object.entries(binding.abi.recordFlags)) {
    flags.set(key.toLowerCase().replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()), bit);
  }
  assert.ok(flags.size >= 8, 'no record flags in binding.abi');
  return flags;
}

const FLAGS = readFlags();

function flagNames(mask: number): string[] {
  return [...FLAGS].filter(([, bit]) => (mask & bit) !== 0).map(([name]) => name).sort();
}

function inputOf(fx: Fixture): Buffer {
  const pieces = typeof fx.input === 'string' ? [fx.input] : fx.input;
  const text = pieces.map((p) => (typeof p === 'string' ? p : p.repeat.repeat(p.times))).join('');
  assert.ok(!/[^\u0000-\u00ff]/.test(text), `${fx.name}: input must be latin1`);
  return Buffer.from(text, 'latin1');
}

function parse(buf: Buffer, limits: Fixture['limits'] = {}): HeadResult {
  return hooks.parseHead(buf, limits.maxHead, limits.maxHeaders, limits.maxTarget);
}

const PIECE_SIZES = [1, 2, 3, 7, 0]; // 0 = the whole input at once

function checkChunked(buf: Buffer, want: ChunkedExpect): void {
  for (const piece of PIECE_SIZES) {
    const got = hooks.decodeChunked(buf, piece);
    const label = `piece size ${piece || 'whole'}`;
    assert.equal(got.result, want.result, label);
    assert.equal(got.body.toString('latin1'), want.body, label);
    assert.equal(got.consumed, want.consumed, label);
    assert.equal(got.error, want.error, label);
    if (want.sizes !== undefined) assert.deepEqual(got.sizes, want.sizes, label);
  }
}

function checkHead(fx: Fixture, buf: Buffer): void {
  const want = fx.expect as HeadExpect;
  const got = parse(buf, fx.limits);
  assert.equal(got.result, want.result, got.reason);
  if (want.result === 'error') {
    assert.equal(got.status, want.status);
    assert.equal(got.reason, want.reason);
  }
  if (want.result !== 'ok') {
    assert.equal(got.method, undefined);
    return;
  }
  for (const key of ['method', 'target', 'path', 'query', 'host', 'headLen'] as const) {
    if (want[key] !== undefined) assert.equal(got[key], want[key], key);
  }
  if (want.flags !== undefined) assert.deepEqual(flagNames(got.flags ?? 0), [...want.flags].sort());
  if (want.contentLength !== undefined) assert.equal(String(got.contentLength), String(want.contentLength));
  if (want.headers !== undefined) assert.deepEqual(got.headers, want.headers);
  if (fx.body !== undefined) {
    assert.ok(((got.flags ?? 0) & (FLAGS.get('chunked') ?? 0)) !== 0, 'body given for a head that is not chunked');
    checkChunked(buf.subarray(got.headLen), fx.body);
  }
}

function loadFixtures(): Fixture[] {
  const dir = join(root, 'test', 'fixtures', 'http1');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Fixture);
}

describe('http1 parser fixtures', () => {
  const fixtures = loadFixtures();

  test('there are fixtures and their names are unique', () => {
    assert.ok(fixtures.length >= 60);
    assert.equal(new Set(fixtures.map((f) => f.name)).size, fixtures.length);
  });

  for (const fx of fixtures) {
    test(fx.name, () => {
      const buf = inputOf(fx);
      if (fx.kind === 'chunked') checkChunked(buf, fx.expect as ChunkedExpect);
      else checkHead(fx, buf);
    });
  }
});

// Host = uri-host [ ":" port ] (RFC 9112 3.2, RFC 3986 3.2.2-3.2.3), checked
// against an oracle written from the RFC grammar: node's isIPv6 for an
// IPv6address (zone ids are not in RFC 3986, so none are generated), a regex
// for IPvFuture and reg-name, and port = *DIGIT, empty allowed.
const REG_NAME = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$/;
const IPV_FUTURE = /^[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+$/;

function validHost(host: string): boolean {
  let rest = host;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end === -1) return false;
    const literal = host.slice(1, end);
    if (!(isIPv6(literal) || IPV_FUTURE.test(literal))) return false;
    rest = host.slice(end + 1);
  } else {
    const colon = host.indexOf(':');
    const name = colon === -1 ? host : host.slice(0, colon);
    if (!REG_NAME.test(name)) return false;
    rest = host.slice(name.length);
  }
  return rest === '' || /^:[0-9]*$/.test(rest);
}

// A small seeded generator, so a failure names a case that reproduces.
function prng(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x % n;
  };
}

function randomHost(rnd: (n: number) => number): string {
  const pick = (alphabet: string, len: number): string =>
    Array.from({ length: len }, () => alphabet[rnd(alphabet.length)]).join('');
  const port = (): string => (rnd(2) ? ':' + pick('0123456789:a', rnd(4)) : '');
  switch (rnd(4)) {
    case 0: { // IPv6: eight h16 or six and an IPv4, perhaps a "::", perhaps broken
      const v4 = rnd(3) === 0;
      const g = Array.from({ length: v4 ? 6 : 8 }, () => pick('0123456789abcdefABCDEF', 1 + rnd(4)));
      if (v4) g.push(Array.from({ length: 4 }, () => String(rnd(256))).join('.'));
      let s = g.join(':');
      if (rnd(3) > 0) {
        const a = rnd(g.length), b = a + 1 + rnd(g.length - a);
        s = g.slice(0, a).join(':') + '::' + g.slice(b).join(':');
      }
      for (let k = rnd(3); k > 0; k--) {
        const at = rnd(s.length + 1), c = pick(':.0aF9', 1);
        s = rnd(3) === 0 ? s.slice(0, at) + s.slice(at + 1)
          : rnd(2) ? s.slice(0, at) + c + s.slice(at) : s.slice(0, at) + c + s.slice(at + 1);
      }
      return '[' + s + pick(']]]]]]x[', 1) + port();
    }
    case 1: // IPvFuture-ish
      return '[' + pick('vV', 1) + pick('0123456789aF', rnd(3)) + pick('.:a+', rnd(2)) + pick('abc:.+%', rnd(5)) + ']' +
        port();
    default: // reg-name and port
      return pick('abAB09.-_~!$&()*+,;=%:[]@/', 1 + rnd(12));
  }
}

describe('Host validation (RFC 3986 3.2.2-3.2.3)', () => {
  test('parseHead accepts a Host exactly when the RFC grammar does', () => {
    const rnd = prng(0x9e3779b9);
    let valid = 0;
    for (let i = 0; i < 20000; i++) {
      const host = randomHost(rnd);
      const want = validHost(host);
      const got = parse(Buffer.from(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`, 'latin1'));
      assert.equal(got.result, want ? 'ok' : 'error', `Host: ${host} (${got.reason ?? 'ok'})`);
      if (want) {
        assert.equal(got.host, host);
        valid++;
      } else {
        assert.equal(got.reason, 'invalid Host', `Host: ${host}`);
      }
    }
    assert.ok(valid > 4000, `only ${valid} valid hosts generated`);
  });
});

// The six fields the core reads are told from the rest by the name's length
// and first letter before any compare: each is still found in any case, and
// a name of the same length and first letter is still only a field.
describe('the fields the core reads', () => {
  const cases: [string, string, (got: HeadResult) => void][] = [
    ['Host', 'example.com', (got) => assert.equal(got.host, 'example.com')],
    ['Content-Length', '5', (got) => assert.ok(flagNames(got.flags ?? 0).includes('contentLength'))],
    ['Transfer-Encoding', 'chunked', (got) => assert.ok(flagNames(got.flags ?? 0).includes('chunked'))],
    ['Connection', 'close', (got) => assert.ok(!flagNames(got.flags ?? 0).includes('keepAlive'))],
    ['Expect', '100-continue', (got) => assert.ok(flagNames(got.flags ?? 0).includes('expectContinue'))],
    ['Upgrade', 'websocket', (got) => assert.ok(flagNames(got.flags ?? 0).includes('upgrade'))],
  ];
  const spellings = (name: string): string[] => [name, name.toLowerCase(), name.toUpperCase(),
    [...name].map((c, i) => (i % 2 ? c.toUpperCase() : c.toLowerCase())).join('')];

  test('are recognised in any case', () => {
    for (const [name, value, check] of cases) {
      for (const spelled of spellings(name)) {
        const host = name === 'Host' ? '' : 'Host: a\r\n';
        const got = head(`POST / HTTP/1.1\r\n${host}${spelled}: ${value}\r\n\r\n`);
        assert.equal(got.result, 'ok', `${spelled}: ${got.reason}`);
        check(got);
      }
    }
  });

  test('a name of the same length and first letter is only a field', () => {
    for (const [name] of cases) {
      const other = name[0] + 'x'.repeat(name.length - 1);
      // Values each of the six would refuse or act on.
      const got = head(`GET / HTTP/1.1\r\nHost: a\r\n${other}: bad, close, chunked\r\n\r\n`);
      assert.equal(got.result, 'ok', `${other}: ${got.reason}`);
      assert.deepEqual(flagNames(got.flags ?? 0), ['http11', 'keepAlive'], other);
      assert.deepEqual(got.headers?.at(-1), [other, 'bad, close, chunked']);
    }
    // Host itself, spelled otherwise, leaves an HTTP/1.1 request without one.
    expectError(head('GET / HTTP/1.1\r\nHxst: a\r\n\r\n'), 'missing Host', 'Hxst');
  });
});

// The parser checks field values and looks for the blank line in blocks of
// 16 bytes (SSE2) or 8 (the portable build), with a byte-at-a-time tail
// (native/proto/http1/parser.cc). So that no block test can miss a byte, each
// byte below, the edges of every class among them, is put at every offset of
// a value 0 to 64 bytes long, with the line ending the head (the tail goes a
// byte at a time) and with a longer line after it (blocks to the line's end),
// and the answer is checked against the RFC grammar written out here, not
// against the parser. Names and targets get the same, so that whichever way
// they are scanned they stay as strict.
const EDGE_BYTES = [0x00, 0x01, 0x08, 0x09, 0x0a, 0x0b, 0x0d, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x28, 0x2c, 0x2d, 0x2f,
  0x3a, 0x40, 0x5b, 0x5f, 0x7b, 0x7e, 0x7f, 0x80, 0xff];
const TAILS = ['', 'Accept-Language: en-US,en;q=0.9\r\n'];
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/;
const isCtl = (c: number): boolean => c < 0x20 || c === 0x7f;
const trimOws = (v: string): string => v.replace(/^[ \t]+|[ \t]+$/g, '');

/** Runs of `filler` of every length 1 to 64 with `c` at every offset. */
function* placements(filler: string): Generator<[string, number, number]> {
  for (let len = 1; len <= 64; len++) {
    for (let pos = 0; pos < len; pos++) {
      for (const c of EDGE_BYTES) yield [filler.repeat(pos) + String.fromCharCode(c) + filler.repeat(len - pos - 1), pos, c];
    }
  }
}

function head(text: string): HeadResult {
  return parse(Buffer.from(text, 'latin1'));
}

function expectError(got: HeadResult, reason: string, label: string): void {
  assert.equal(got.result, 'error', `${label}: accepted`);
  assert.equal(got.reason, reason, label);
}

describe('every byte at every offset (block scans and their tails)', () => {
  test('field values', () => {
    for (const tail of TAILS) {
      for (let len = 0; len <= 64; len++) {  // no byte of note: only where the value ends moves
        const value = 'v'.repeat(len);
        const got = head(`GET / HTTP/1.1\r\nHost: a\r\nX-Field: ${value}\r\n${tail}\r\n`);
        assert.deepEqual(got.headers?.[1], ['X-Field', value], `value of ${len}`);
      }
      for (const [value, pos, c] of placements('v')) {
        const label = `value byte 0x${c.toString(16)} at ${pos} of ${value.length}${tail ? ', a line after' : ''}`;
        const got = head(`GET / HTTP/1.1\r\nHost: a\r\nX-Field: ${value}\r\n${tail}\r\n`);
        if (c === 0x0a) expectError(got, 'bare LF', label);  // RFC 9112 2.2
        else if (c === 0x0d) expectError(got, 'bare CR', label);  // RFC 9112 2.2
        else if (c !== 0x09 && isCtl(c)) expectError(got, 'invalid field value', label);  // RFC 9110 5.5
        else assert.deepEqual(got.headers?.[1], ['X-Field', trimOws(value)], label);
      }
    }
  });

  test('field names', () => {
    for (const tail of TAILS) {
      for (const [name, pos, c] of placements('n')) {
        const label = `name byte 0x${c.toString(16)} at ${pos} of ${name.length}${tail ? ', a line after' : ''}`;
        const got = head(`GET / HTTP/1.1\r\nHost: a\r\n${name}: value\r\n${tail}\r\n`);
        const ch = String.fromCharCode(c);
        if (c === 0x0a) expectError(got, 'bare LF', label);
        else if (TCHAR.test(ch)) assert.deepEqual(got.headers?.[1], [name, 'value'], label);
        else if ((c === 0x20 || c === 0x09) && pos === 0) expectError(got, 'obs-fold', label);  // RFC 9112 5.2
        else if (c === 0x20 || c === 0x09) expectError(got, 'whitespace before colon', label);  // RFC 9112 5.1
        else if (c === 0x3a && pos === 0) expectError(got, 'empty field name', label);
        else if (c === 0x3a) {  // the first colon ends the name; the rest is the value
          assert.deepEqual(got.headers?.[1], [name.slice(0, pos), trimOws(`${name.slice(pos + 1)}: value`)], label);
        } else expectError(got, 'invalid field name', label);  // RFC 9110 5.1
      }
    }
  });

  test('request-targets', () => {
    for (const tail of TAILS) {
      for (const [rest, pos, c] of placements('p')) {
        const target = `/${rest}`;
        const label = `target byte 0x${c.toString(16)} at ${pos + 1} of ${target.length}${tail ? ', a line after' : ''}`;
        const got = head(`GET ${target} HTTP/1.1\r\nHost: a\r\n${tail}\r\n`);
        if (c === 0x0a) expectError(got, 'bare LF', label);
        else if (c === 0x23) expectError(got, 'fragment in request-target', label);  // RFC 9112 3.2
        else if (c === 0x20) expectError(got, 'invalid HTTP version', label);  // the target ends early
        else if (c <= 0x20 || c >= 0x7f) expectError(got, 'invalid request-target', label);  // RFC 9112 3.2
        else assert.equal(got.target, target, label);
      }
    }
  });

  test('the blank line and bare line ends, at every offset', () => {
    // The scan for the blank line looks back from each LF at the two bytes
    // before it, a block at a time: every end of head at every offset.
    const ends: [string, string | undefined][] = [
      ['\r\n\r\n', undefined], ['\r\n\n', 'bare LF'], ['\n\r\n', 'bare LF'], ['\r\r\n\r\n', 'bare CR'], ['\r\n\r\r\n', 'again'],
    ];
    for (let len = 0; len <= 64; len++) {
      for (const [end, why] of ends) {
        const label = `${JSON.stringify(end)} after a value of ${len}`;
        const text = `GET / HTTP/1.1\r\nHost: a\r\nX: ${'v'.repeat(len)}${end}`;
        const got = head(text);
        if (why === undefined) assert.equal(got.headLen, text.length, label);
        else if (why === 'again') assert.equal(got.result, 'again', label);
        else expectError(got, why, label);
      }
    }
  });
});

// The same work as test/fuzz/http1_fuzz.cc, minus the sanitizers: parseHead
// throws if any split disagrees, and a chunked body (or the whole input when
// the head is not accepted) must decode alike in every piece size.
function replay(buf: Buffer): void {
  for (const limits of [{}, { maxHead: 200, maxHeaders: 4, maxTarget: 20 }]) parse(buf, limits);
  const head = parse(buf);
  const chunked = head.result === 'ok' && ((head.flags ?? 0) & (FLAGS.get('chunked') ?? 0)) !== 0;
  if (head.result === 'ok' && !chunked) return;
  const body = chunked ? buf.subarray(head.headLen) : buf;
  const whole = hooks.decodeChunked(body, 0);
  for (const piece of PIECE_SIZES) assert.deepEqual(hooks.decodeChunked(body, piece), whole, `piece size ${piece}`);
}

for (const folder of ['regressions', 'corpus']) {
  describe(`http1 fuzz ${folder}`, () => {
    const dir = join(root, 'test', 'fuzz', folder, 'http1');
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('.')).sort() : [];
    if (folder === 'corpus') test('the seed corpus is not empty', () => assert.ok(files.length >= 10));
    for (const file of files) test(file, () => replay(readFileSync(join(dir, file))));
  });
}
