// Fixtures for the CGI-style framers (test/fixtures/uwsgi, test/fixtures/scgi).
//
// A fixture is { name, input, limits?, expect }. `input` is an array of
// segments, concatenated:
//   "text"                          latin1 bytes (JSON \u0000 for NUL)
//   { "repeat": "k", "times": n }   "k" n times
//   { "hex": "00 1e ff" }           raw bytes (spaces ignored)
//   { "base64": "..." }             raw bytes
//   { "u8": n } / { "u16le": n }    one byte / a little-endian u16
//   { "pair": [key, value] }        a uwsgi pair: u16le len, key, u16le len, value
//   { "uwsgi": { "modifier1"?, "modifier2"?, "datasize"?, "vars": [[key, value], ...] } }
//                                   a whole uwsgi header and vars block; datasize
//                                   defaults to the block's length
//   { "netstring": [[name, value], ...], "length"?, "end"? }
//                                   an SCGI header netstring: "<length>:" then
//                                   name NUL value NUL ..., then `end` (",")
// Keys, names and values are "text" or { repeat, times }, in `expect.vars` too.
// `limits` is { maxBlock?, maxVars? }; `expect` is what parseUwsgi/parseScgi
// return: { result, error?, detail?, headLen?, contentLength?, modifier1?, vars? }
// with contentLength a number or, past 2^53, a decimal string.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './index.js';

export type Text = string | { repeat: string; times: number };

export type Segment =
  | Text
  | { hex: string }
  | { base64: string }
  | { u8: number }
  | { u16le: number }
  | { pair: [Text, Text] }
  | { uwsgi: { modifier1?: number; modifier2?: number; datasize?: number; vars: [Text, Text][] } }
  | { netstring: [Text, Text][]; length?: number; end?: string };

export interface CgiExpect {
  result: 'ok' | 'again' | 'error';
  error?: string;
  detail?: number;
  headLen?: number;
  contentLength?: number | string;
  modifier1?: number;
  vars?: [Text, Text][];
}

export interface CgiFixture {
  name: string;
  input: Segment[];
  limits?: { maxBlock?: number; maxVars?: number };
  expect: CgiExpect;
}

export interface CgiResult {
  result: 'ok' | 'again' | 'error';
  error?: string;
  message?: string;
  detail?: number;
  headLen?: number;
  contentLength?: number | bigint;
  modifier1?: number;
  vars?: [string, string][];
}

export function text(t: Text): string {
  return typeof t === 'string' ? t : t.repeat.repeat(t.times);
}

function latin1(t: Text): Buffer {
  const s = text(t);
  assert.ok(!/[^\u0000-\u00ff]/.test(s), `fixture text must be latin1: ${s.slice(0, 40)}`);
  return Buffer.from(s, 'latin1');
}

function u16le(n: number): Buffer {
  assert.ok(Number.isInteger(n) && n >= 0 && n <= 0xffff, `u16 out of range: ${n}`);
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

function uwsgiPair(k: Text, v: Text): Buffer {
  const key = latin1(k);
  const value = latin1(v);
  return Buffer.concat([u16le(key.length), key, u16le(value.length), value]);
}

function segment(s: Segment): Buffer {
  if (typeof s === 'string' || 'repeat' in s) return latin1(s);
  if ('hex' in s) return Buffer.from(s.hex.replace(/\s+/g, ''), 'hex');
  if ('base64' in s) return Buffer.from(s.base64, 'base64');
  if ('u8' in s) return Buffer.from([s.u8]);
  if ('u16le' in s) return u16le(s.u16le);
  if ('pair' in s) return uwsgiPair(s.pair[0], s.pair[1]);
  if ('uwsgi' in s) {
    const u = s.uwsgi;
    const block = Buffer.concat(u.vars.map(([k, v]) => uwsgiPair(k, v)));
    const head = Buffer.concat([Buffer.from([u.modifier1 ?? 0]), u16le(u.datasize ?? block.length),
      Buffer.from([u.modifier2 ?? 0])]);
    return Buffer.concat([head, block]);
  }
  const nul = Buffer.from([0]);
  const block = Buffer.concat(s.netstring.flatMap(([k, v]) => [latin1(k), nul, latin1(v), nul]));
  return Buffer.concat([Buffer.from(`${s.length ?? block.length}:`), block, Buffer.from(s.end ?? ',', 'latin1')]);
}

export function inputOf(fx: CgiFixture): Buffer {
  return Buffer.concat(fx.input.map(segment));
}

export function loadCgiFixtures(protocol: 'uwsgi' | 'scgi'): CgiFixture[] {
  const dir = join(ROOT, 'test', 'fixtures', protocol);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as CgiFixture);
}

export function fuzzFiles(folder: 'corpus' | 'regressions', protocol: 'uwsgi' | 'scgi'): string[] {
  const dir = join(ROOT, 'test', 'fuzz', folder, protocol);
  return readdirSync(dir).filter((f) => !f.startsWith('.')).sort().map((f) => join(dir, f));
}

// Compares a hook's answer with a fixture's expectation, field by field.
export function checkResult(got: CgiResult, want: CgiExpect): void {
  assert.equal(got.result, want.result, got.error ? `${got.error} (${got.message}) detail ${got.detail}` : undefined);
  if (want.result === 'error') {
    assert.equal(got.error, want.error);
    assert.ok(got.message && got.message.length > 0, 'an error has a message');
    if (want.detail !== undefined) assert.equal(got.detail, want.detail, 'detail');
  } else {
    assert.equal(got.error, undefined);
  }
  if (want.result !== 'ok') {
    assert.equal(got.vars, undefined);
    return;
  }
  if (want.headLen !== undefined) assert.equal(got.headLen, want.headLen, 'headLen');
  if (want.contentLength !== undefined) assert.equal(String(got.contentLength), String(want.contentLength), 'contentLength');
  if (want.modifier1 !== undefined) assert.equal(got.modifier1, want.modifier1, 'modifier1');
  if (want.vars !== undefined) {
    assert.deepEqual(got.vars, want.vars.map(([k, v]) => [text(k), text(v)]));
  }
}
