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
import { join } from 'node:path';
import { binding } from 'tsgi/native';
import { hooks as testing, type ParsedHead as HeadResult } from '../helpers/testing-addon.js';
import { ROOT as root } from '../helpers/index.js';

interface ChunkedResult {
  result: 'done' | 'again' | 'error';
  body: Buffer;
  consumed: number;
  error?: string;
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
