// The FastCGI record layer (native/proto/fastcgi) against its fixtures
// (test/fixtures/fastcgi/*.json), the writer against a strict reader, and the
// fuzz corpus and regressions replayed so they stay fixed without clang.
//
// The hooks come from tsgi_testing.node (native/napi/fastcgi_binding.cc), which only tests load.
// fcgiDecode() decodes its input whole and again in pieces and throws if the
// events differ: with pieceSize 0 byte by byte and split in two at every
// offset, so every fixture is checked at every split.
//
// A fixture is { name, input, limits?, expect }. `input` is a list of
// segments, concatenated:
//   "text" | { repeat, times }          latin1 bytes
//   { hex: "01 01 00 01" }              raw bytes
//   { record: { type, id?, content?, padding?, contentLength?, version?, reserved? } }
//       one record; type is a number or a name (BEGIN_REQUEST, PARAMS, ...),
//       id defaults to 1 (0 for GET_VALUES), padding is a number or "pad8",
//       contentLength overrides the header's (the content is written as given)
//   { begin: { id?, role?, flags?, reserved? } }   a BEGIN_REQUEST record
//   { pairs: [[name, value, { long? }], ...] }     name-value pairs, no record;
//       long: "name" | "value" | "both" forces four-byte lengths
//   { stream: { type, id?, data, cuts?, pad8?, end? } }
//       a stream's records: data (segments) cut at the offsets in cuts, then
//       the empty record unless end is false
//   { params: { id?, pairs, cuts?, pad8?, end? } }  the same for PARAMS pairs
// `limits` is { maxParams?, maxVars? }. `expect` is the event list; each
// expected event is compared on the keys it has, `data` as text or { hex },
// names and values as text.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { binding } from 'tsgi/native';
import { hooks, type FcgiEvent } from '../helpers/testing-addon.js';
import { ROOT } from '../helpers/index.js';

type Text = string | { repeat: string; times: number };
type Pair = [Text, Text] | [Text, Text, { long?: 'name' | 'value' | 'both' }];
type Segment =
  | Text
  | { hex: string }
  | { record: { type: number | string; id?: number; content?: Segment[]; padding?: number | 'pad8';
      contentLength?: number; version?: number; reserved?: number } }
  | { begin: { id?: number; role?: number; flags?: number; reserved?: number[] } }
  | { pairs: Pair[] }
  | { stream: { type: number | string; id?: number; data: Segment[]; cuts?: number[]; pad8?: boolean; end?: boolean } }
  | { params: { id?: number; pairs: Pair[]; cuts?: number[]; pad8?: boolean; end?: boolean } };

interface Fixture {
  name: string;
  input: Segment[];
  limits?: { maxParams?: number; maxVars?: number };
  expect: Record<string, unknown>[];
}

const TYPES: Record<string, number> = {
  BEGIN_REQUEST: 1, ABORT_REQUEST: 2, END_REQUEST: 3, PARAMS: 4, STDIN: 5, STDOUT: 6, STDERR: 7,
  DATA: 8, GET_VALUES: 9, GET_VALUES_RESULT: 10, UNKNOWN_TYPE: 11,
};

// The framer's own list (TSGI_FASTCGI_ERRORS in framer.h), as the addon
// exports it: record-layer and PARAMS errors alike.
const ERRORS = Object.keys(binding.errors.fastcgi);

function text(t: Text): string {
  return typeof t === 'string' ? t : t.repeat.repeat(t.times);
}

function latin1(t: Text): Buffer {
  const s = text(t);
  assert.ok(!/[^\u0000-\u00ff]/.test(s), `fixture text must be latin1: ${s.slice(0, 40)}`);
  return Buffer.from(s, 'latin1');
}

function typeOf(t: number | string): number {
  if (typeof t === 'number') return t;
  assert.ok(t in TYPES, `unknown record type ${t}`);
  return TYPES[t]!;
}

function header(type: number, id: number, len: number, padding: number, version = 1, reserved = 0): Buffer {
  return Buffer.from([version, type, id >> 8, id & 255, len >> 8, len & 255, padding, reserved]);
}

function record(type: number, id: number, content: Buffer, pad8: boolean): Buffer {
  const padding = pad8 ? (8 - (content.length % 8)) % 8 : 0;
  return Buffer.concat([header(type, id, content.length, padding), content, Buffer.alloc(padding)]);
}

function nvLength(n: number, long: boolean): Buffer {
  if (n < 128 && !long) return Buffer.from([n]);
  const b = Buffer.alloc(4);
  b.writeUInt32BE((n | 0x80000000) >>> 0);
  return b;
}

function pairBytes([name, value, opts]: Pair): Buffer {
  const n = latin1(name);
  const v = latin1(value);
  const long = opts?.long;
  return Buffer.concat([nvLength(n.length, long === 'name' || long === 'both'),
    nvLength(v.length, long === 'value' || long === 'both'), n, v]);
}

function streamRecords(type: number, id: number, data: Buffer, cuts: number[], pad8: boolean, end: boolean): Buffer {
  const out: Buffer[] = [];
  let from = 0;
  for (const at of [...cuts, data.length]) {
    if (at > from) out.push(record(type, id, data.subarray(from, at), pad8));
    from = at;
  }
  if (end) out.push(header(type, id, 0, 0));
  return Buffer.concat(out);
}

function segment(s: Segment): Buffer {
  if (typeof s === 'string' || 'repeat' in s) return latin1(s);
  if ('hex' in s) return Buffer.from(s.hex.replace(/\s+/g, ''), 'hex');
  if ('record' in s) {
    const r = s.record;
    const type = typeOf(r.type);
    const content = Buffer.concat((r.content ?? []).map(segment));
    const padding = r.padding === 'pad8' ? (8 - (content.length % 8)) % 8 : r.padding ?? 0;
    const id = r.id ?? (type === 9 ? 0 : 1);
    return Buffer.concat([header(type, id, r.contentLength ?? content.length, padding, r.version, r.reserved),
      content, Buffer.alloc(padding)]);
  }
  if ('begin' in s) {
    const b = s.begin;
    const role = b.role ?? 1;
    const body = Buffer.from([role >> 8, role & 255, b.flags ?? 0, ...(b.reserved ?? [0, 0, 0, 0, 0])]);
    return record(1, b.id ?? 1, body, false);
  }
  if ('pairs' in s) return Buffer.concat(s.pairs.map(pairBytes));
  if ('stream' in s) {
    const st = s.stream;
    return streamRecords(typeOf(st.type), st.id ?? 1, Buffer.concat(st.data.map(segment)), st.cuts ?? [],
      st.pad8 ?? false, st.end ?? true);
  }
  const p = s.params;
  return streamRecords(4, p.id ?? 1, Buffer.concat(p.pairs.map(pairBytes)), p.cuts ?? [], p.pad8 ?? false, p.end ?? true);
}

function inputOf(fx: Fixture): Buffer {
  return Buffer.concat(fx.input.map(segment));
}

// An event as plain data: Buffers as latin1 text, BigInts as decimal text.
function plain(e: FcgiEvent): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (Buffer.isBuffer(v)) o[k] = v.toString('latin1');
    else if (typeof v === 'bigint') o[k] = v.toString();
    else o[k] = v;
  }
  return o;
}

function expected(e: Record<string, unknown>): Record<string, unknown> {
  const o: Record<string, unknown> = { ...e };
  if (o.data !== undefined) {
    const d = o.data as Text | { hex: string };
    o.data = typeof d === 'object' && 'hex' in d ? Buffer.from(d.hex.replace(/\s+/g, ''), 'hex').toString('latin1') : text(d);
  }
  if (o.vars !== undefined) o.vars = (o.vars as [Text, Text][]).map(([n, v]) => [text(n), text(v)]);
  return o;
}

function checkEvents(got: FcgiEvent[], want: Record<string, unknown>[]): void {
  const g = got.map(plain);
  const types = (l: Record<string, unknown>[]) => l.map((e) => `${e.type}${e.error ? `(${e.error})` : ''}`).join(' ');
  assert.equal(types(g), types(want.map(expected)), 'event types');
  want.map(expected).forEach((w, i) => {
    const e = g[i]!;
    for (const key of Object.keys(w)) assert.deepEqual(e[key], w[key], `event ${i} (${String(w.type)}) ${key}`);
    if (e.type === 'error' || e.type === 'paramsError') {
      assert.ok(typeof e.message === 'string' && e.message.length > 0);
      assert.equal(e.message, binding.errors.fastcgi[e.error as string], 'text from the list');
    }
  });
}

function loadFixtures(): Fixture[] {
  const dir = join(ROOT, 'test', 'fixtures', 'fastcgi');
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Fixture);
}

function fuzzFiles(folder: 'corpus' | 'regressions'): string[] {
  const dir = join(ROOT, 'test', 'fuzz', folder, 'fastcgi');
  return readdirSync(dir).filter((f) => !f.startsWith('.')).sort().map((f) => join(dir, f));
}

describe('fastcgi framer fixtures', () => {
  const fixtures = loadFixtures();

  test('there are fixtures, their names are unique and every error is covered', () => {
    assert.ok(fixtures.length >= 40);
    assert.equal(new Set(fixtures.map((f) => f.name)).size, fixtures.length);
    const seen = new Set(fixtures.flatMap((f) => f.expect.map((e) => (e.error as string | undefined) ?? (e.type as string))));
    assert.ok(ERRORS.length >= 13 && ERRORS.includes('kLooksLikeHttp'), 'binding.errors.fastcgi');
    for (const e of [...ERRORS, 'begin', 'abort', 'params', 'stdin', 'stdinEnd', 'data',
      'dataEnd', 'getValues', 'unknownType', 'incomplete']) {
      assert.ok(seen.has(e), `no fixture for ${e}`);
    }
  });

  for (const fx of fixtures) {
    test(fx.name, () => {
      const buf = inputOf(fx);
      const got = hooks.fcgiDecode(buf, 0, fx.limits);
      checkEvents(got, fx.expect);
      for (const piece of [2, 3, 8, 13]) assert.deepEqual(hooks.fcgiDecode(buf, piece, fx.limits), got);
    });
  }
});

// ---- the writer ----------------------------------------------------------------

interface Rec { type: number; id: number; content: Buffer; padding: number; reserved: number }

// A strict reader of what the application sends.
function readRecords(buf: Buffer): Rec[] {
  const out: Rec[] = [];
  let p = 0;
  while (p < buf.length) {
    assert.ok(buf.length - p >= 8, 'a whole header');
    assert.equal(buf[p], 1, 'version 1');
    const len = buf.readUInt16BE(p + 4);
    const padding = buf[p + 6]!;
    assert.ok(buf.length - p >= 8 + len + padding, 'a whole record');
    const pad = buf.subarray(p + 8 + len, p + 8 + len + padding);
    assert.ok(pad.every((b) => b === 0), 'padding is zeros');
    out.push({ type: buf[p + 1]!, id: buf.readUInt16BE(p + 2), content: buf.subarray(p + 8, p + 8 + len), padding, reserved: buf[p + 7]! });
    p += 8 + len + padding;
  }
  return out;
}

describe('fastcgi writer', () => {
  const sizes = [0, 1, 7, 8, 9, 4096, 65527, 65528, 65529, 65535, 65536, 131056, 131070, 200000];

  for (const pad of [false, true]) {
    test(`STDOUT records ${pad ? 'padded to 8' : 'unpadded'}: content of any size, split at ${pad ? 65528 : 65535}`, () => {
      for (const size of sizes) {
        const data = Buffer.alloc(size);
        for (let i = 0; i < size; i++) data[i] = (i * 31 + 7) & 255;
        const out = hooks.fcgiEncodeStdout(513, data, pad, true);
        const recs = readRecords(out);
        const max = pad ? 65528 : 65535;
        assert.equal(recs.length, Math.ceil(size / max) + 1, `records for ${size}`);
        for (const [i, r] of recs.entries()) {
          assert.equal(r.type, 6);
          assert.equal(r.id, 513);
          assert.equal(r.reserved, 0);
          if (i < recs.length - 1) {
            assert.ok(r.content.length >= 1 && r.content.length <= max, 'no empty record inside the stream');
            if (i < recs.length - 2) assert.equal(r.content.length, max, 'full records first');
          }
          if (pad) assert.equal((r.content.length + r.padding) % 8, 0, 'padded to 8');
          else assert.equal(r.padding, 0);
        }
        assert.equal(recs.at(-1)!.content.length, 0, 'the empty record ends the stream');
        assert.ok(Buffer.concat(recs.map((r) => r.content)).equals(data));
      }
    });
  }

  test('no data, no records: an empty record would end the stream', () => {
    assert.equal(hooks.fcgiEncodeStdout(1, Buffer.alloc(0), true).length, 0);
    assert.deepEqual([...hooks.fcgiEncodeStdout(1, Buffer.alloc(0), true, true)], [1, 6, 0, 1, 0, 0, 0, 0]);
  });

  test('STDERR records', () => {
    const recs = readRecords(hooks.fcgiEncodeStdout(2, Buffer.from('warning\n'), false, true, true));
    assert.deepEqual(recs.map((r) => [r.type, r.id, r.content.toString()]), [[7, 2, 'warning\n'], [7, 2, '']]);
  });

  test('what the writer makes, the decoder reads back (as a STDIN stream)', () => {
    for (const pad of [false, true]) {
      const data = Buffer.alloc(150000, 'x');
      const stdout = hooks.fcgiEncodeStdout(1, data, pad, true);
      for (let p = 0; p < stdout.length; p += 8 + stdout.readUInt16BE(p + 4) + stdout[p + 6]!) stdout[p + 1] = 5;
      const events = hooks.fcgiDecode(stdout, 4093);
      assert.deepEqual(events.map((e) => e.type), ['stdin', 'stdinEnd']);
      assert.ok(events[0]!.data!.equals(data));
    }
  });

  test('END_REQUEST: appStatus u32 big-endian, protocolStatus, 3 reserved bytes', () => {
    assert.deepEqual([...hooks.fcgiEndRequest(1, 0, 0)], [1, 3, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...hooks.fcgiEndRequest(0x1234, 0xdeadbeef, 1)],
      [1, 3, 0x12, 0x34, 0, 8, 0, 0, 0xde, 0xad, 0xbe, 0xef, 1, 0, 0, 0]);
    for (const status of [0, 1, 2, 3]) assert.equal(hooks.fcgiEndRequest(65535, 4294967295, status)[12], status);
  });

  test('UNKNOWN_TYPE: the type and 7 reserved bytes, on the null request id', () => {
    assert.deepEqual([...hooks.fcgiUnknownType(42)], [1, 11, 0, 0, 0, 8, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0]);
  });

  const values = { maxConns: 10, maxReqs: 50, mpxsConns: false };
  const pairsOf = (buf: Buffer) => {
    const [r] = readRecords(buf);
    assert.equal(r!.type, 10);
    assert.equal(r!.id, 0);
    const out: [string, string][] = [];
    for (let p = 0; p < r!.content.length;) {
      const n = r!.content[p]!, v = r!.content[p + 1]!;
      assert.ok(n < 128 && v < 128);
      out.push([r!.content.subarray(p + 2, p + 2 + n).toString(), r!.content.subarray(p + 2 + n, p + 2 + n + v).toString()]);
      p += 2 + n + v;
    }
    return out;
  };

  test('GET_VALUES_RESULT answers the known names asked, in their order, once each', () => {
    assert.deepEqual(pairsOf(hooks.fcgiGetValuesResult(['FCGI_MPXS_CONNS', 'FCGI_MAX_CONNS', 'FCGI_MAX_REQS'], values)),
      [['FCGI_MPXS_CONNS', '0'], ['FCGI_MAX_CONNS', '10'], ['FCGI_MAX_REQS', '50']]);
    assert.deepEqual(pairsOf(hooks.fcgiGetValuesResult(['PHP_VALUE', 'FCGI_MAX_REQS', 'fcgi_max_conns', 'FCGI_MAX_REQS',
      'FCGI_MAX_CONN', 'X'.repeat(300)], { ...values, mpxsConns: true })), [['FCGI_MAX_REQS', '50']]);
    assert.deepEqual(pairsOf(hooks.fcgiGetValuesResult(['FCGI_MPXS_CONNS'], { ...values, mpxsConns: true })),
      [['FCGI_MPXS_CONNS', '1']]);
    assert.deepEqual(pairsOf(hooks.fcgiGetValuesResult(['FCGI_MAX_CONNS'], { maxConns: 4294967295 })),
      [['FCGI_MAX_CONNS', '4294967295']]);
  });

  test('GET_VALUES_RESULT for a query of unknown names only is empty', () => {
    assert.deepEqual([...hooks.fcgiGetValuesResult([], values)], [1, 10, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...hooks.fcgiGetValuesResult(['NOPE'], values)], [1, 10, 0, 0, 0, 0, 0, 0]);
  });

  test('GET_VALUES_RESULT padded to 8 when asked', () => {
    const buf = hooks.fcgiGetValuesResult(['FCGI_MAX_CONNS', 'FCGI_MAX_REQS', 'FCGI_MPXS_CONNS'], values, true);
    assert.equal(buf.length % 8, 0);
    assert.equal(pairsOf(buf).length, 3);
  });
});

// ---- real traffic and the fuzz folders -------------------------------------------

// The same work as test/fuzz/fastcgi_fuzz.cc, minus the sanitizers, the second
// implementation and the byte-level invariants: fcgiDecode throws if any split
// disagrees.
for (const folder of ['regressions', 'corpus'] as const) {
  describe(`fastcgi fuzz ${folder}`, () => {
    const files = fuzzFiles(folder);
    if (folder === 'corpus') test('the seed corpus is not empty', () => assert.ok(files.length >= 20));
    for (const file of files) {
      test(basename(file), () => {
        const buf = readFileSync(file);
        const got = hooks.fcgiDecode(buf, buf.length > 4096 ? 7 : 0);
        hooks.fcgiDecode(buf, 1, { maxParams: 64, maxVars: 4 });
        hooks.fcgiDecode(buf, 3, { maxParams: buf.length >> 1, maxVars: 3 });
        // Byte streams captured from nginx 1.22.1 with the Debian fastcgi_params.
        if (basename(file).startsWith('nginx-')) {
          const bad = got.filter((e) => e.type === 'error' || e.type === 'paramsError' || e.type === 'incomplete');
          assert.deepEqual(bad, []);
          assert.equal(got[0]!.type, 'begin');
          assert.equal(got.at(-1)!.type, 'stdinEnd');
        }
      });
    }
  });
}

describe('what nginx sends', () => {
  const capture = (name: string) => hooks.fcgiDecode(readFileSync(join(ROOT, 'test', 'fuzz', 'corpus', 'fastcgi', name)), 5);
  const vars = (e: FcgiEvent) => new Map(e.vars!);

  test('a GET: responder, no KEEP_CONN, empty CONTENT_LENGTH, no body', () => {
    const ev = capture('nginx-get-browser');
    assert.deepEqual(ev.map((e) => e.type), ['begin', 'params', 'stdinEnd']);
    assert.deepEqual([ev[0]!.role, ev[0]!.flags], [1, 0]);
    assert.equal(vars(ev[1]!).get('REQUEST_METHOD'), 'GET');
    assert.equal(vars(ev[1]!).get('CONTENT_LENGTH'), '');
    assert.equal(ev[1]!.hasContentLength, false);
  });

  test('fastcgi_keep_conn on: KEEP_CONN set, a second request with the same id on the connection', () => {
    const ev = capture('nginx-keep-conn-two-requests');
    assert.deepEqual(ev.map((e) => e.type), ['begin', 'params', 'stdinEnd', 'begin', 'params', 'stdin', 'stdinEnd']);
    assert.deepEqual(ev.filter((e) => e.type === 'begin').map((e) => [e.requestId, e.flags]), [[1, 1], [1, 1]]);
    assert.equal(ev[5]!.data!.toString(), 'hello again');
  });

  test('a 40000-byte body arrives as STDIN records of 32 KiB and the rest', () => {
    const ev = capture('nginx-post-40k-body');
    assert.equal(ev[1]!.contentLength, 40000);
    assert.equal(ev[2]!.data!.length, 40000);
  });

  test('a chunked upload with fastcgi_request_buffering off: no length, the body ends at the empty STDIN', () => {
    const ev = capture('nginx-stream-chunked-upload');
    assert.equal(vars(ev[1]!).get('CONTENT_LENGTH'), '');
    assert.equal(vars(ev[1]!).get('HTTP_TRANSFER_ENCODING'), 'chunked');
    assert.equal(ev[1]!.hasContentLength, false);
    assert.equal(ev[2]!.data!.toString(), 'first second third');
    assert.equal(ev[3]!.type, 'stdinEnd');
  });

  test('long names and values use four-byte lengths', () => {
    const v = vars(capture('nginx-big-cookie-long-name')[1]!);
    assert.ok(v.get('HTTP_COOKIE')!.length > 6000);
    assert.ok([...v.keys()].some((k) => k.length > 127));
  });
});
