// The WebSocket framer (native/proto/ws) through its test hooks
// (native/napi/ws_binding.cc). wsDecode() feeds every input whole, byte by
// byte and split in two at every offset, and throws unless all agree, so
// every case here is also a case at every split. Titles name the
// Autobahn|Testsuite sections they follow where there is one.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ROOT } from '../helpers/index.js';
import { hooks, type WsEvent, type WsLimits } from '../helpers/testing-addon.js';

const TEXT = 1, BINARY = 2, CLOSE = 8, PING = 9, PONG = 10;
const WS_ERRORS = hooks.wsErrors();
const ERRORS = Object.keys(WS_ERRORS);
const covered = new Set<string>();

interface FrameOpts {
  fin?: boolean;
  rsv?: number;
  /** The mask key; null sends the frame unmasked. */
  mask?: number[] | null;
  /** Force the 16- or 64-bit length form. */
  lengthForm?: 16 | 64;
  /** The length field's value, if not the payload's length. */
  length?: bigint;
}

/** A client frame: masked with a fixed key unless told otherwise. */
function frame(opcode: number, payload: Uint8Array | string = '', o: FrameOpts = {}): Buffer {
  const data = Buffer.from(payload);
  const mask = o.mask === undefined ? [0x37, 0xfa, 0x21, 0x3d] : o.mask;
  const len = o.length ?? BigInt(data.length);
  const head = [((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | opcode];
  const m = mask ? 0x80 : 0;
  if (o.lengthForm === undefined && len <= 125n) {
    head.push(m | Number(len));
  } else if (o.lengthForm === 16 || (o.lengthForm === undefined && len <= 0xffffn)) {
    head.push(m | 126, Number(len >> 8n) & 0xff, Number(len) & 0xff);
  } else {
    head.push(m | 127);
    for (let i = 7; i >= 0; i--) head.push(Number((len >> BigInt(8 * i)) & 0xffn));
  }
  if (mask) head.push(...mask);
  const body = Buffer.from(data);
  if (mask) for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
  return Buffer.concat([Buffer.from(head), body]);
}

function decode(buf: Buffer, limits?: WsLimits, pieceSize?: number): WsEvent[] {
  return hooks.wsDecode(buf, pieceSize, limits);
}

/** The error event an input ends with, checked against the error list. */
function failure(buf: Buffer, error: string, code: number, limits?: WsLimits): WsEvent {
  const evs = decode(buf, limits);
  const last = evs[evs.length - 1];
  assert.equal(last.type, 'error', `expected ${error}, got ${JSON.stringify(evs.map((e) => e.type))}`);
  assert.equal(last.error, error);
  assert.equal(last.code, code, `${error} closes with ${code}`);
  assert.equal(last.message, WS_ERRORS[error].text);
  assert.equal(WS_ERRORS[error].code, code);
  assert.equal(evs.filter((e) => e.type === 'error').length, 1);
  covered.add(error);
  return last;
}

/** The text of one whole message and nothing else. */
function oneMessage(buf: Buffer, limits?: WsLimits): { message: number; data: Buffer } {
  const evs = decode(buf, limits).filter((e) => e.type !== 'frame');
  assert.deepEqual(evs.map((e) => e.type), evs.length === 2 ? ['data', 'messageEnd'] : ['messageEnd'],
    JSON.stringify(evs));
  const end = evs[evs.length - 1];
  return { message: end.message as number, data: evs.length === 2 ? evs[0].data! : Buffer.alloc(0) };
}

describe('RFC 6455 5.7 examples', () => {
  const unmasked = { requireMask: false };
  test('a single-frame unmasked text message "Hello"', () => {
    const buf = Buffer.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert.deepEqual(decode(buf, unmasked), [
      { type: 'frame', opcode: TEXT, message: TEXT, fin: true, rsv1: false, length: 5 },
      { type: 'data', message: TEXT, data: Buffer.from('Hello') },
      { type: 'messageEnd', message: TEXT },
    ]);
    // 5.1: from a client, the same frame is refused.
    const e = failure(buf, 'kUnmasked', 1002);
    assert.equal(e.position, 2);
  });

  test('a single-frame masked text message "Hello"', () => {
    const buf = Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    assert.deepEqual(oneMessage(buf), { message: TEXT, data: Buffer.from('Hello') });
    assert.deepEqual(buf, frame(TEXT, 'Hello'), 'the helper frames as the RFC does');
  });

  test('a fragmented unmasked text message "Hel" "lo"', () => {
    const buf = Buffer.from([0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]);
    assert.deepEqual(decode(buf, unmasked, 0).filter((e) => e.type !== 'data'), [
      { type: 'frame', opcode: TEXT, message: TEXT, fin: false, rsv1: false, length: 3 },
      { type: 'frame', opcode: 0, message: TEXT, fin: true, rsv1: false, length: 2 },
      { type: 'messageEnd', message: TEXT },
    ]);
    // Pieces of both frames, joined by the hook: "Hel" and "lo" form one run
    // only when nothing comes between them, which the frame header does.
    assert.deepEqual(decode(buf, unmasked).filter((e) => e.type === 'data').map((e) => e.data!.toString()),
      ['Hel', 'lo']);
  });

  test('an unmasked ping and a masked pong, "Hello"', () => {
    const ping = Buffer.from([0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert.deepEqual(decode(ping, unmasked), [{ type: 'ping', data: Buffer.from('Hello') }]);
    const pong = Buffer.from([0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    assert.deepEqual(decode(pong), [{ type: 'pong', data: Buffer.from('Hello') }]);
  });

  test('256 bytes and 64 KiB binary messages in one unmasked frame', () => {
    for (const [len, head] of [[256, [0x82, 0x7e, 0x01, 0x00]],
      [65536, [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]]] as const) {
      const payload = Buffer.alloc(len, 0).map((_, i) => (i * 7) & 0xff);
      const buf = Buffer.concat([Buffer.from(head), payload]);
      const got = oneMessage(buf, unmasked);
      assert.equal(got.message, BINARY);
      assert.deepEqual(got.data, Buffer.from(payload));
      assert.deepEqual(hooks.wsFrame(BINARY, true, payload), buf, 'the writer frames it the same');
      assert.deepEqual(oneMessage(frame(BINARY, payload)).data, Buffer.from(payload), 'masked');
    }
  });
});

describe('1.x data frames and length encodings (RFC 6455 5.2)', () => {
  test('1.1.x text frames of lengths 0,125,126,127,65535,65536', () => {
    for (const len of [0, 125, 126, 127, 65535, 65536]) {
      const text = 'x'.repeat(len);
      const buf = frame(TEXT, text);
      assert.equal(buf.length, len + 4 + (len <= 125 ? 2 : len <= 65535 ? 4 : 10));
      const evs = decode(buf);
      assert.deepEqual(evs[0], { type: 'frame', opcode: TEXT, message: TEXT, fin: true, rsv1: false, length: len });
      assert.equal(oneMessage(buf).data.toString(), text);
    }
  });

  test('1.2.x binary frames of lengths 0,125,126,127,65535,65536, masked with every byte value', () => {
    for (const len of [0, 125, 126, 127, 65535, 65536]) {
      const payload = Buffer.alloc(len).map((_, i) => i & 0xff);
      const got = oneMessage(frame(BINARY, payload, { mask: [0xff, 0x00, 0x80, 0x7f] }));
      assert.equal(got.message, BINARY);
      assert.deepEqual(got.data, Buffer.from(payload));
    }
  });

  test('a length not in its minimal form is refused with 1002', () => {
    let e = failure(frame(BINARY, 'x'.repeat(125), { lengthForm: 16 }), 'kNonMinimalLength', 1002);
    assert.equal(e.detail, 125);
    assert.equal(e.position, 4);
    e = failure(frame(BINARY, 'x'.repeat(65535), { lengthForm: 64 }), 'kNonMinimalLength', 1002);
    assert.equal(e.detail, 65535);
    assert.equal(e.position, 10);
    // The smallest lengths of each form are fine.
    assert.equal(oneMessage(frame(BINARY, 'x'.repeat(126), { lengthForm: 16 })).data.length, 126);
  });

  test('a 64-bit length with the most significant bit set is refused with 1002', () => {
    const buf = frame(BINARY, '', { length: 1n << 63n, lengthForm: 64 }).subarray(0, 3);
    const e = failure(buf, 'kLengthHighBit', 1002);
    assert.equal(e.position, 3, 'at the first byte of the length');
    assert.equal(e.detail, 0x80);
  });

  test('5.1: an unmasked client frame is refused with 1002', () => {
    const e = failure(frame(BINARY, 'abc', { mask: null }), 'kUnmasked', 1002);
    assert.equal(e.detail, 3);
    failure(frame(PING, '', { mask: null }), 'kUnmasked', 1002);
  });

  test('a frame cut short is reported incomplete, never as an event', () => {
    const buf = frame(TEXT, 'Hello');
    for (let k = 1; k < buf.length; k++) {
      const evs = decode(buf.subarray(0, k));
      assert.equal(evs[evs.length - 1].type, 'incomplete');
      assert.equal(evs[evs.length - 1].position, k);
    }
    assert.deepEqual(decode(Buffer.alloc(0)), []);
  });
});

describe('2.x ping/pong (RFC 6455 5.5)', () => {
  test('2.1-2.3 pings with no, short and binary payloads; pongs likewise', () => {
    const bin = Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]);
    assert.deepEqual(decode(Buffer.concat([frame(PING), frame(PING, 'Hello, world!'), frame(PING, bin),
      frame(PONG, bin)])), [
      { type: 'ping', data: Buffer.alloc(0) },
      { type: 'ping', data: Buffer.from('Hello, world!') },
      { type: 'ping', data: bin },
      { type: 'pong', data: bin },
    ]);
  });

  test('2.4 a ping of 125 bytes is fine; 2.5 one of 126 is refused with 1002', () => {
    const p = Buffer.alloc(125, 0xfe);
    assert.deepEqual(decode(frame(PING, p)), [{ type: 'ping', data: p }]);
    const e = failure(frame(PING, Buffer.alloc(126, 0xfe)), 'kControlTooLong', 1002);
    assert.equal(e.detail, 126);
    assert.equal(e.position, 2);
    failure(frame(CLOSE, Buffer.alloc(200, 0x41)), 'kControlTooLong', 1002);
  });

  test('5.1-5.2 a ping or pong without FIN is refused with 1002', () => {
    const e = failure(frame(PING, 'x', { fin: false }), 'kControlFragmented', 1002);
    assert.equal(e.detail, PING);
    assert.equal(e.position, 1);
    failure(frame(PONG, 'x', { fin: false }), 'kControlFragmented', 1002);
  });
});

describe('3.x reserved bits (RFC 6455 5.2, RFC 7692 6.1)', () => {
  test('3.1-3.7 RSV1, RSV2, RSV3 and their sums on any frame are refused with 1002', () => {
    for (let rsv = 1; rsv <= 7; rsv++) {
      for (const op of [TEXT, BINARY, PING, CLOSE]) {
        const e = failure(Buffer.concat([frame(TEXT, 'ok'), frame(op, 'x', { rsv })]), 'kReservedBits', 1002);
        assert.equal(e.detail, rsv);
        assert.equal(e.position, frame(TEXT, 'ok').length + 1);
      }
    }
  });

  test('with permessage-deflate, RSV1 marks a data message and only its first frame', () => {
    const deflate = { allowRsv1: true };
    // The payload is not text until inflated: no UTF-8 check here.
    const evs = decode(Buffer.concat([frame(TEXT, Buffer.from([0xf2, 0x48]), { rsv: 4, fin: false }),
      frame(0, Buffer.from([0xff]))]), deflate);
    assert.deepEqual(evs.filter((e) => e.type === 'frame').map((e) => e.rsv1), [true, false]);
    assert.equal(evs[evs.length - 1].type, 'messageEnd');
    failure(frame(TEXT, 'x', { rsv: 2 }), 'kReservedBits', 1002, deflate);
    failure(Buffer.concat([frame(TEXT, 'a', { fin: false }), frame(0, 'b', { rsv: 4 })]), 'kReservedBits', 1002, deflate);
    failure(frame(PING, 'x', { rsv: 4 }), 'kReservedBits', 1002, deflate);
  });
});

describe('4.x opcodes (RFC 6455 5.2)', () => {
  test('4.1.x and 4.2.x the reserved opcodes 3-7 and 0xB-0xF are refused with 1002', () => {
    for (const op of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
      const e = failure(Buffer.concat([frame(TEXT, 'ok'), frame(op, 'x')]), 'kUnknownOpcode', 1002);
      assert.equal(e.detail, op);
      // What came before is reported first.
      assert.deepEqual(decode(frame(TEXT, 'ok')), decode(Buffer.concat([frame(TEXT, 'ok'), frame(op, 'x')])).slice(0, 3));
    }
  });
});

describe('5.x fragmentation (RFC 6455 5.4)', () => {
  test('5.3-5.5 a text message in fragments, 5.6-5.8 with pings between them', () => {
    const buf = Buffer.concat([frame(TEXT, 'frag', { fin: false }), frame(PING, 'p1'),
      frame(0, 'men', { fin: false }), frame(0, '', { fin: false }), frame(PONG, 'p2'), frame(0, 'ted', { fin: true })]);
    const evs = decode(buf);
    // An empty non-final fragment, then the message ends with the last frame.
    assert.deepEqual(evs.map((e) => e.type), ['frame', 'data', 'ping', 'frame', 'data', 'frame',
      'pong', 'frame', 'data', 'messageEnd']);
    assert.equal(evs.filter((e) => e.type === 'data').map((e) => e.data!.toString()).join(''), 'fragmented');
    assert.equal(evs[evs.length - 1].message, TEXT);
    assert.deepEqual(evs.filter((e) => e.type === 'frame').map((e) => [e.opcode, e.message, e.fin]),
      [[TEXT, TEXT, false], [0, TEXT, false], [0, TEXT, false], [0, TEXT, true]]);
  });

  test('5.9-5.12 a continuation frame with no message started is refused with 1002', () => {
    failure(frame(0, 'x'), 'kUnexpectedContinuation', 1002);
    failure(frame(0, 'x', { fin: false }), 'kUnexpectedContinuation', 1002);
    // ...nor after a message has ended.
    const e = failure(Buffer.concat([frame(TEXT, 'done'), frame(0, 'x')]), 'kUnexpectedContinuation', 1002);
    assert.equal(e.position, frame(TEXT, 'done').length + 1);
  });

  test('5.18-5.20 a new data frame inside a fragmented message is refused with 1002', () => {
    const e = failure(Buffer.concat([frame(TEXT, 'a', { fin: false }), frame(PING), frame(BINARY, 'b')]),
      'kMessageInterleaved', 1002);
    assert.equal(e.detail, BINARY);
    failure(Buffer.concat([frame(BINARY, 'a', { fin: false }), frame(TEXT, 'b', { fin: false })]),
      'kMessageInterleaved', 1002);
  });

  test('a message cut short between its fragments is incomplete', () => {
    const evs = decode(frame(TEXT, 'a', { fin: false }));
    assert.equal(evs[evs.length - 1].type, 'incomplete');
  });
});

describe('6.x UTF-8 (RFC 6455 8.1, RFC 3629)', () => {
  const valid = ['', 'Hello-µ@ßöäüàá-UTF-8!!', 'κόσμε', '\u0080', '\u07ff', '\u0800', '\uffff',
    '\ud7ff', '\ue000', '\u{10000}', '\u{10ffff}', '\ufffe', '\u{1f600}x'];

  test('6.2.x and 6.5.x valid text, whole and in one-byte fragments', () => {
    for (const s of valid) {
      assert.equal(oneMessage(frame(TEXT, s)).data.toString(), s);
      // 6.2.4: every byte its own fragment, so characters span frames.
      const bytes = Buffer.from(s);
      if (bytes.length < 2) continue;
      const frames = [...bytes].map((b, i) => frame(i ? 0 : TEXT, Buffer.from([b]), { fin: i === bytes.length - 1 }));
      const evs = decode(Buffer.concat(frames));
      assert.equal(evs[evs.length - 1].type, 'messageEnd', s);
      assert.deepEqual(Buffer.concat(evs.filter((e) => e.type === 'data').map((e) => e.data!)), bytes);
    }
  });

  // 6.3.x and on: each refused at the first byte that proves it, the bytes
  // before it reported as data; wsDecode checks every split of each.
  const invalid: [string, number[], number][] = [
    ['6.3.1 a lone continuation byte', [0x80], 0],
    ['6.3.2 text with an invalid byte after valid ones', [0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5,
      0xed, 0xa0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64], 12],
    ['6.6.x a lead byte followed by ASCII', [0x61, 0xe2, 0x82, 0x41], 3],
    ['6.8.1 F8 (five-byte form)', [0xf8, 0x88, 0x80, 0x80, 0x80], 0],
    ['6.8.2 FC (six-byte form)', [0xfc, 0x84, 0x80, 0x80, 0x80, 0x80], 0],
    ['6.9.x FE and FF', [0x41, 0xfe], 1],
    ['6.10.x overlong C0 AF', [0xc0, 0xaf], 0],
    ['6.10.x overlong C1 BF', [0xc1, 0xbf], 0],
    ['6.10.x overlong E0 80 AF', [0xe0, 0x80, 0xaf], 1],
    ['6.10.x overlong F0 80 80 AF', [0xf0, 0x80, 0x80, 0xaf], 1],
    ['6.11.x surrogate ED A0 80 (U+D800)', [0xed, 0xa0, 0x80], 1],
    ['6.11.x surrogate ED BF BF (U+DFFF)', [0xed, 0xbf, 0xbf], 1],
    ['6.11.x surrogate pair ED A0 80 ED B0 80', [0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80], 1],
    ['6.3.x above U+10FFFF: F4 90 80 80', [0xf4, 0x90, 0x80, 0x80], 1],
    ['6.3.x above U+10FFFF: F5', [0xf5, 0x80, 0x80, 0x80], 0],
    ['6.12.x a continuation byte after a complete character', [0xc3, 0xa9, 0xa9], 2],
  ];
  for (const [title, bytes, at] of invalid) {
    test(`${title}: refused with 1007 at every split`, () => {
      const buf = frame(TEXT, Buffer.from(bytes));
      const e = failure(buf, 'kBadUtf8', 1007);
      assert.equal(e.detail, at, 'the offset of the offending byte in the message');
      assert.equal(e.position, buf.length - bytes.length + at);
      const data = decode(buf).filter((x) => x.type === 'data');
      assert.deepEqual(Buffer.concat(data.map((x) => x.data!)), Buffer.from(bytes.slice(0, at)));
      // Spread over one-byte fragments, the same byte is refused.
      const frames = bytes.map((b, i) => frame(i ? 0 : TEXT, Buffer.from([b]), { fin: i === bytes.length - 1 }));
      assert.equal(failure(Buffer.concat(frames), 'kBadUtf8', 1007).detail, at);
      // A binary message carries the same bytes untouched.
      assert.deepEqual(oneMessage(frame(BINARY, Buffer.from(bytes))).data, Buffer.from(bytes));
    });
  }

  test('every one- and two-byte text, and three- and four-byte ones by lead byte, as TextDecoder judges', () => {
    const strict = new TextDecoder('utf-8', { fatal: true });
    const judge = (bytes: number[]) => {
      const buf = Buffer.from(bytes);
      let ok = true;
      try { strict.decode(buf); } catch { ok = false; }
      // Unmasked and in one piece: this is about the validator, not the splits.
      const evs = hooks.wsDecode(Buffer.concat([Buffer.from([0x81, buf.length]), buf]), buf.length + 2,
        { requireMask: false });
      const last = evs[evs.length - 1];
      assert.equal(last.type === 'messageEnd', ok, `${buf.toString('hex')}: ${JSON.stringify(last)}`);
      if (!ok) assert.equal(last.code, 1007, buf.toString('hex'));
    };
    for (let a = 0; a < 256; a++) {
      judge([a]);
      for (let b = 0; b < 256; b++) judge([a, b]);
    }
    const edges = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xf5, 0xff];
    for (let a = 0xe0; a <= 0xf5; a++) {
      for (let b = 0; b < 256; b++) {
        for (const c of edges) {
          judge([a, b, c]);
          if (a >= 0xf0) for (const d of [0x41, 0x80, 0xbf, 0xc0]) judge([a, b, c, d]);
        }
      }
    }
  });

  test('6.4.x a text message that ends inside a character is refused with 1007', () => {
    for (const bytes of [[0xce], [0x61, 0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xf4, 0x8f]]) {
      const e = failure(frame(TEXT, Buffer.from(bytes)), 'kTruncatedUtf8', 1007);
      assert.equal(e.detail, bytes.length);
      // Not while more fragments may follow.
      assert.equal(decode(frame(TEXT, Buffer.from(bytes), { fin: false })).at(-1)!.type, 'incomplete');
      failure(Buffer.concat([frame(TEXT, Buffer.from(bytes), { fin: false }), frame(PING), frame(0, '')]),
        'kTruncatedUtf8', 1007);
    }
  });
});

describe('7.x close (RFC 6455 5.5.1, 7.4)', () => {
  const close = (code: number, reason: Uint8Array | string = '') =>
    frame(CLOSE, Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]));

  test('7.3.1 an empty close; 7.3.3-7.3.5 a code with and without a reason of up to 123 bytes', () => {
    assert.deepEqual(decode(frame(CLOSE)), [{ type: 'close', code: 0, reason: Buffer.alloc(0) }]);
    assert.deepEqual(decode(close(1000)), [{ type: 'close', code: 1000, reason: Buffer.alloc(0) }]);
    assert.deepEqual(decode(close(1001, 'Going Away ☺')), [{ type: 'close', code: 1001, reason: Buffer.from('Going Away ☺') }]);
    const long = 'r'.repeat(123);
    assert.deepEqual(decode(close(1000, long)), [{ type: 'close', code: 1000, reason: Buffer.from(long) }]);
  });

  test('7.3.2 a close payload of one byte is refused with 1002', () => {
    const e = failure(frame(CLOSE, Buffer.from([0x03])), 'kCloseTooShort', 1002);
    assert.equal(e.position, 2);
  });

  test('7.7.x the close codes accepted: 1000-1003, 1007-1014, 3000-4999', () => {
    for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
      assert.deepEqual(decode(close(code, 'r')), [{ type: 'close', code, reason: Buffer.from('r') }], String(code));
    }
  });

  test('7.9.x the close codes refused with 1002: 0, 999, 1004-1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535', () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
      const e = failure(close(code), 'kBadCloseCode', 1002);
      assert.equal(e.detail, code);
    }
  });

  test('7.5.1 a close reason that is not UTF-8 is refused with 1007', () => {
    failure(close(1000, Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80])),
      'kBadCloseReason', 1007);
    failure(close(1000, Buffer.from([0x61, 0xe2, 0x82])), 'kBadCloseReason', 1007);
  });

  test('7.1.x a close may come between fragments; nothing may follow it (1002)', () => {
    const evs = decode(Buffer.concat([frame(TEXT, 'a', { fin: false }), close(1000)]));
    assert.deepEqual(evs.at(-1), { type: 'close', code: 1000, reason: Buffer.alloc(0) });
    const e = failure(Buffer.concat([close(1000), frame(PING)]), 'kDataAfterClose', 1002);
    assert.equal(e.position, close(1000).length);
  });
});

describe('9.x limits (RFC 6455 7.4.1: 1009)', () => {
  test('9.1.x/9.2.x a frame over maxFrame is refused with 1009 at its header', () => {
    assert.equal(oneMessage(frame(BINARY, Buffer.alloc(1000)), { maxFrame: 1000 }).data.length, 1000);
    const e = failure(frame(BINARY, Buffer.alloc(1001)), 'kFrameTooBig', 1009, { maxFrame: 1000 });
    assert.equal(e.detail, 1001);
    assert.equal(e.position, 4, 'before any payload');
    // A 2^63 - 1 length is refused by the limit, never allocated for.
    const huge = frame(BINARY, '', { length: (1n << 63n) - 1n, lengthForm: 64 }).subarray(0, 10);
    assert.equal(failure(huge, 'kFrameTooBig', 1009).detail, (1n << 63n) - 1n);
  });

  test('9.x a message over maxMessage, its fragments summed, is refused with 1009', () => {
    const lim = { maxMessage: 10 };
    const ok = Buffer.concat([frame(TEXT, '12345', { fin: false }), frame(PING, 'not counted'), frame(0, '67890')]);
    assert.equal(decode(ok, lim).at(-1)!.type, 'messageEnd');
    const e = failure(Buffer.concat([frame(TEXT, '12345', { fin: false }), frame(0, '67890', { fin: false }),
      frame(0, 'x')]), 'kMessageTooBig', 1009, lim);
    assert.equal(e.detail, 11);
    // Each message counts from zero.
    assert.equal(decode(Buffer.concat([frame(TEXT, '1234567890'), frame(BINARY, '1234567890')]), lim).at(-1)!.type,
      'messageEnd');
  });
});

describe('the writer (RFC 6455 5.1, 5.2, 5.5)', () => {
  test('headers are unmasked and use the minimal length encoding', () => {
    assert.deepEqual(hooks.wsHeader(TEXT, true, 0), Buffer.from([0x81, 0x00]));
    assert.deepEqual(hooks.wsHeader(TEXT, true, 125), Buffer.from([0x81, 125]));
    assert.deepEqual(hooks.wsHeader(BINARY, false, 126), Buffer.from([0x02, 126, 0x00, 126]));
    assert.deepEqual(hooks.wsHeader(0, true, 65535), Buffer.from([0x80, 126, 0xff, 0xff]));
    assert.deepEqual(hooks.wsHeader(BINARY, true, 65536), Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]));
    assert.deepEqual(hooks.wsHeader(BINARY, true, (1n << 63n) - 1n),
      Buffer.from([0x82, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    assert.deepEqual(hooks.wsHeader(TEXT, true, 3, true), Buffer.from([0xc1, 3]));
  });

  test('frames no peer may receive are not written', () => {
    assert.equal(hooks.wsHeader(BINARY, true, 1n << 63n), null);
    assert.equal(hooks.wsHeader(3, true, 0), null);
    assert.equal(hooks.wsHeader(0xb, true, 0), null);
    assert.equal(hooks.wsHeader(PING, false, 0), null);
    assert.equal(hooks.wsHeader(PING, true, 126), null);
    assert.equal(hooks.wsHeader(PING, true, 1, true), null);
    assert.equal(hooks.wsHeader(0, false, 1, true), null);
    assert.equal(hooks.wsFrame(PONG, true, Buffer.alloc(126)), null);
  });

  test("what the writer writes, the decoder reads back (a server's frames, unmasked)", () => {
    const lim = { requireMask: false };
    const frames = Buffer.concat([hooks.wsFrame(TEXT, false, Buffer.from('héllo '))!,
      hooks.wsFrame(PING, true, Buffer.from('p'))!, hooks.wsFrame(0, true, Buffer.from('wörld'))!,
      hooks.wsClose(1000, Buffer.from('bye'))!]);
    const evs = decode(frames, lim);
    assert.deepEqual(evs.map((e) => e.type), ['frame', 'data', 'ping', 'frame', 'data', 'messageEnd', 'close']);
    assert.equal(Buffer.concat(evs.filter((e) => e.type === 'data').map((e) => e.data!)).toString(), 'héllo wörld');
    assert.deepEqual(evs.at(-1), { type: 'close', code: 1000, reason: Buffer.from('bye') });
  });

  test('a close frame: no body for code 0, no frame for a code no close frame carries', () => {
    assert.deepEqual(hooks.wsClose(0, Buffer.alloc(0)), Buffer.from([0x88, 0x00]));
    assert.deepEqual(hooks.wsClose(1011, Buffer.from('x')), Buffer.from([0x88, 3, 0x03, 0xf3, 0x78]));
    for (const code of [1005, 1006, 1015, 999, 2000, 5000]) assert.equal(hooks.wsClose(code, Buffer.alloc(0)), null);
  });

  test('a close reason is cut to 123 bytes without splitting a character', () => {
    // 61 two-byte characters and an ASCII byte: 123 bytes, kept whole.
    const fits = Buffer.from('é'.repeat(61) + 'x');
    assert.deepEqual(hooks.wsClose(1000, fits)!.subarray(4), fits);
    // 62 'é': 124 bytes; the cut at 123 falls inside the last one.
    const reason = Buffer.from('é'.repeat(62));
    const out = hooks.wsClose(1000, reason)!;
    assert.equal(out.length, 2 + 2 + 122);
    assert.deepEqual(out.subarray(4), reason.subarray(0, 122));
    assert.deepEqual(decode(out, { requireMask: false }), [{ type: 'close', code: 1000, reason: reason.subarray(0, 122) }]);
    // Four-byte characters: the cut backs up over three continuation bytes.
    const emoji = Buffer.from('\u{1f600}'.repeat(40));
    assert.equal(hooks.wsUtf8Prefix(emoji, 123), 120);
    assert.equal(hooks.wsUtf8Prefix(emoji, 160), 160);
    assert.equal(hooks.wsUtf8Prefix(Buffer.from('abc'), 2), 2);
  });
});

function fuzzFiles(folder: 'corpus' | 'regressions'): string[] {
  const dir = join(ROOT, 'test', 'fuzz', folder, 'ws');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => !f.startsWith('.')).sort().map((f) => join(dir, f));
}

describe('the opening handshake (RFC 6455 4.2, RFC 3174)', () => {
  test('SHA-1: the RFC 3174 test vectors, whole and in pieces', () => {
    const vectors: [Buffer, string][] = [
      [Buffer.from('abc'), 'a9993e364706816aba3e25717850c26c9cd0d89d'],
      [Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'),
        '84983e441c3bd26ebaae4aa1f95129e5e54670f1'],
      [Buffer.alloc(1000000, 'a'), '34aa973cd4c4daa4f61eeb2bdbad27316534016f'],
      [Buffer.from('01234567'.repeat(8 * 10)), 'dea356a2cddd90c7a7ecedc5ebb563934f460452'],
      [Buffer.alloc(0), 'da39a3ee5e6b4b0d3255bfef95601890afd80709'],
    ];
    for (const [input, hex] of vectors) {
      for (const piece of [0, 1, 63, 64, 65]) {
        if (piece === 1 && input.length > 1000) continue;
        assert.equal(hooks.wsSha1(input, piece).toString('hex'), hex, `${input.length} bytes in pieces of ${piece}`);
      }
    }
  });

  test('SHA-1 agrees with node:crypto on every length around the block boundaries', () => {
    const data = randomBytes(300);
    for (let n = 0; n <= data.length; n++) {
      const sub = data.subarray(0, n);
      assert.equal(hooks.wsSha1(sub, 7).toString('hex'), createHash('sha1').update(sub).digest('hex'), String(n));
    }
  });

  test("Sec-WebSocket-Accept: the RFC's example, and node:crypto's answer for random keys", () => {
    assert.equal(hooks.wsAccept('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    for (let i = 0; i < 50; i++) {
      const key = randomBytes(16).toString('base64');
      assert.ok(hooks.wsKeyValid(key), key);
      const want = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
      assert.equal(hooks.wsAccept(key), want);
    }
  });

  test('Sec-WebSocket-Key must be base64 of 16 bytes, canonical (4.2.1 item 5)', () => {
    assert.ok(hooks.wsKeyValid('dGhlIHNhbXBsZSBub25jZQ=='));
    assert.ok(hooks.wsKeyValid('AAAAAAAAAAAAAAAAAAAAAA=='));
    assert.ok(hooks.wsKeyValid('/+/+/+/+/+/+/+/+/+/+/w=='));
    for (const bad of ['', 'dGhlIHNhbXBsZSBub25jZQ', 'dGhlIHNhbXBsZSBub25jZQ=', 'dGhlIHNhbXBsZSBub25jZQ===',
      'dGhlIHNhbXBsZSBub25jZR==', 'dGhlIHNhbXBsZSBub25jZ===', 'dGhlIHNhbXBsZSBub25j*Q==', ' GhlIHNhbXBsZSBub25jZQ==',
      randomBytes(15).toString('base64'), randomBytes(17).toString('base64'), 'dGhlIHNhbXBsZSBub25jZQ-_']) {
      assert.equal(hooks.wsKeyValid(bad), false, JSON.stringify(bad));
    }
  });

  test('Sec-WebSocket-Version must be 13 (4.2.1 item 6)', () => {
    assert.ok(hooks.wsVersionValid('13'));
    for (const v of ['', '8', '12', '013', '13 ', '+13', '1'])
      assert.equal(hooks.wsVersionValid(v), false, JSON.stringify(v));
  });
});

// The seed corpus and any regressions of test/fuzz/ws_fuzz.cc, replayed
// without clang: wsDecode throws if any split disagrees.
for (const folder of ['regressions', 'corpus'] as const) {
  describe(`WebSocket fuzz ${folder}`, () => {
    const files = fuzzFiles(folder);
    if (folder === 'corpus') test('the seed corpus is not empty', () => assert.ok(files.length >= 10));
    for (const file of files) {
      test(basename(file), () => {
        const buf = readFileSync(file);
        decode(buf);
        decode(buf, { maxFrame: 64, maxMessage: 100, allowRsv1: true });
        decode(buf, { requireMask: false }, 3);
      });
    }
  });
}

describe('the error list', () => {
  test('every error has a close code of 1002, 1007 or 1009 and a test above', () => {
    assert.ok(ERRORS.length >= 17);
    for (const e of ERRORS) {
      assert.ok([1002, 1007, 1009].includes(WS_ERRORS[e].code), e);
      assert.ok(covered.has(e), `no test refuses with ${e}`);
    }
  });
});
