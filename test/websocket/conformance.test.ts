// RFC 6455 conformance of serve()'s WebSockets, on the wire: an echo server
// driven over raw TCP with hand-built masked frames (frames.ts), every case
// checking the exact bytes the server answers after the 101, that it closes
// the TCP connection, and that nothing else was sent. Titles name the
// section of the Autobahn|Testsuite each case follows; the cases and code
// are our own. A failing case's close frame carries the code and the text
// of the framer's error list (wsErrors()).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type App, type ServerHandle } from 'tsgi';
import { RawConnection, header } from '../helpers/index.js';
import { hooks } from '../helpers/testing-addon.js';
import {
  BINARY, CLOSE, CONT, PONG, TEXT, acceptFor, binary, chunks, close, frame, handshake, ping, pong,
  RawWs, serverClose, serverFrame, splitAt, text, describeFrames,
} from './frames.js';

const ERRORS = hooks.wsErrors();

/** The close frame the server sends when the framer refuses the input with `error`. */
function failClose(error: string): Buffer {
  const e = ERRORS[error];
  assert.ok(e, `no framer error ${error}`);
  return serverClose(e.code, e.text);
}

const echo: App = async (req) => {
  if (req.tsgi.websocket) {
    return { websocket: { message(ws, data, isBinary) { ws.send(data, { binary: isBinary }); } } };
  }
  const body = req.REQUEST_METHOD === 'POST' ? await req.body.text() : '';
  return { body: `upgrade=${req.tsgi.upgrade} websocket=${req.tsgi.websocket} body=${body}` };
};

const LIMIT = 64 * 1024;
let server: ServerHandle;
let small: ServerHandle;  // wsMaxMessage LIMIT
let port = 0;
let smallPort = 0;

before(() => {
  server = serve(echo, { listen: '127.0.0.1:0', log: () => {} });
  small = serve(echo, { listen: '127.0.0.1:0', log: () => {}, wsMaxMessage: LIMIT });
  port = server.addresses[0]!.port!;
  smallPort = small.addresses[0]!.port!;
});

after(async () => {
  await Promise.all([server.close(1000), small.close(1000)]);
});

interface CaseOpts {
  /** Milliseconds between the pieces written (default 1). */
  gap?: number;
  /** Another server's port. */
  on?: number;
}

/**
 * Opens a WebSocket, writes `send` (pieces in turn), and checks that the
 * server answers exactly `expected` and closes the connection.
 */
async function exchange(send: Buffer | readonly Buffer[], expected: readonly Buffer[], o: CaseOpts = {}): Promise<void> {
  const ws = await RawWs.open(o.on ?? port);
  try {
    await ws.sendPieces(Array.isArray(send) ? send : [send as Buffer], o.gap ?? 1);
    await ws.expectEnd(expected);
  } finally {
    ws.destroy();
  }
}

/** A case that ends cleanly: `send` then a close 1000; the echoes, then the close echoed. */
function clean(send: Buffer | readonly Buffer[], echoes: readonly Buffer[], o: CaseOpts = {}): Promise<void> {
  const pieces = Array.isArray(send) ? send : [send as Buffer];
  return exchange([...pieces, close(1000)], [...echoes, serverClose(1000)], o);
}

const bytes = (n: number, seed = 0): Buffer => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};
const letters = (n: number): string => 'abcdefghijklmnopqrstuvwxyz'.repeat(Math.ceil(n / 26)).slice(0, n);

// ---- 1.x framing ---------------------------------------------------------------

describe('1.x framing: text and binary messages of every length form', () => {
  for (const n of [0, 125, 126, 127, 128, 65535, 65536]) {
    test(`1.1.x text message, ${n} bytes`, () => clean(text(letters(n)), [serverFrame(TEXT, letters(n))]));
    test(`1.2.x binary message, ${n} bytes`, () => clean(binary(bytes(n)), [serverFrame(BINARY, bytes(n))]));
  }

  test('1.1.8 text message, 65536 bytes, written in pieces of 997', () =>
    clean(chunks(text(letters(65536)), 997), [serverFrame(TEXT, letters(65536))], { gap: 0 }));

  test('1.2.8 binary message, 65536 bytes, written in pieces of 997', () =>
    clean(chunks(binary(bytes(65536)), 997), [serverFrame(BINARY, bytes(65536))], { gap: 0 }));

  test('payload lengths 125/126/65535/65536: the server uses the 7-, 16- and 64-bit forms', async () => {
    const ws = await RawWs.open(port);
    try {
      for (const n of [125, 126, 65535, 65536]) await ws.send(binary(bytes(n)));
      const frames = await ws.waitFrames(4);
      const heads = [ws.bytes.subarray(0, 2)];
      let at = 0;
      for (const f of frames.slice(0, 3)) {
        at += f.payload.length + (f.payload.length <= 125 ? 2 : f.payload.length <= 0xffff ? 4 : 10);
        heads.push(ws.bytes.subarray(at, at + 2));
      }
      assert.deepEqual(heads.map((h) => [...h]), [[0x82, 125], [0x82, 126], [0x82, 126], [0x82, 127]]);
      await ws.send(close(1000));
      await ws.expectEnd([125, 126, 65535, 65536].map((n) => serverFrame(BINARY, bytes(n))).concat(serverClose(1000)));
    } finally {
      ws.destroy();
    }
  });

  test('a client length in the 16-bit form below 126 (not minimal) -> 1002', () =>
    exchange(text('abc', { lengthForm: 16 }), [failClose('kNonMinimalLength')]));

  test('a client length in the 64-bit form below 65536 (not minimal) -> 1002', () =>
    exchange(text('abc', { lengthForm: 64 }), [failClose('kNonMinimalLength')]));

  test('a 64-bit length with its top bit set -> 1002', () =>
    exchange(frame(BINARY, '', { length: 1n << 63n, lengthForm: 64 }), [failClose('kLengthHighBit')]));

  test('an unmasked client frame -> 1002', () =>
    exchange(text('abc', { mask: null }), [failClose('kUnmasked')]));

  test('a frame split at every byte position (7- and 16-bit lengths) echoes whole', async () => {
    for (const payload of ['Hello, world!', letters(300)]) {
      const whole = text(payload);
      const ws = await RawWs.open(port);
      try {
        for (let k = 1; k < whole.length; k++) {
          await ws.sendPieces(splitAt(whole, [k]), 2);
          const got = await ws.waitFrames(k);
          assert.equal(got[k - 1]!.payload.toString(), payload, `split at ${k}`);
        }
        await ws.send(close(1000));
        await ws.expectEnd([...Array<Buffer>(whole.length - 1).fill(serverFrame(TEXT, payload)), serverClose(1000)]);
      } finally {
        ws.destroy();
      }
    }
  });

  test('a frame written one byte at a time', () =>
    clean(chunks(text('Hello, world!'), 1), [serverFrame(TEXT, 'Hello, world!')]));

  test('200 frames and a close in one TCP write: 200 echoes in order, then the close', () => {
    const msgs = Array.from({ length: 200 }, (_, i) => `message ${i}`);
    return exchange(Buffer.concat([...msgs.map((m) => text(m)), close(1000)]),
      [...msgs.map((m) => serverFrame(TEXT, m)), serverClose(1000)]);
  });
});

// ---- 2.x ping/pong ----------------------------------------------------------------

describe('2.x ping/pong', () => {
  test('2.1 ping without payload -> pong without payload', () => clean(ping(), [serverFrame(PONG)]));
  test('2.2 ping with a text payload -> pong with it', () =>
    clean(ping('Hello, world!'), [serverFrame(PONG, 'Hello, world!')]));
  test('2.3 ping with a binary payload -> pong with it', () =>
    clean(ping(Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff])),
      [serverFrame(PONG, Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]))]));
  test('2.4 ping with 125 bytes -> pong with them', () => clean(ping(bytes(125)), [serverFrame(PONG, bytes(125))]));
  test('2.5 ping with 126 bytes -> 1002', () => exchange(ping(bytes(126)), [failClose('kControlTooLong')]));
  test('2.6 ping with 125 bytes written one byte at a time', () =>
    clean(chunks(ping(bytes(125)), 1), [serverFrame(PONG, bytes(125))], { gap: 0 }));
  test('2.7 unsolicited pong without payload: nothing answered', () => clean(pong(), []));
  test('2.8 unsolicited pong with payload: nothing answered', () => clean(pong('unsolicited'), []));
  test('2.9 unsolicited pong, then ping: only the ping answered', () =>
    clean([pong('unsolicited'), ping('ping')], [serverFrame(PONG, 'ping')]));
  test('2.10 10 pings in one write -> 10 pongs in order', () => {
    const payloads = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
    return clean(Buffer.concat(payloads.map((p) => ping(p))), payloads.map((p) => serverFrame(PONG, p)));
  });
  test('2.11 10 pings written one byte at a time -> 10 pongs', () => {
    const payloads = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
    return clean(chunks(Buffer.concat(payloads.map((p) => ping(p))), 1), payloads.map((p) => serverFrame(PONG, p)),
      { gap: 0 });
  });
});

// ---- 3.x reserved bits --------------------------------------------------------------

describe('3.x reserved bits', () => {
  test('3.1 RSV1 on a text frame (no extension negotiated) -> 1002, nothing echoed', () =>
    exchange(text('Hello, world!', { rsv: 4 }), [failClose('kReservedBits')]));

  test('3.2 text echoed, then RSV2 on a text frame -> 1002; the ping after it is not answered', async () => {
    const ws = await RawWs.open(port);
    try {
      await ws.send(text('Hello, world!'));
      await ws.waitFrames(1);
      await ws.sendPieces([text('Hello, world!', { rsv: 2 }), ping()]);
      await ws.expectEnd([serverFrame(TEXT, 'Hello, world!'), failClose('kReservedBits')]);
    } finally {
      ws.destroy();
    }
  });

  test('3.3 RSV1+RSV2 on a text frame after an echo, frames in one write -> 1002', async () => {
    const ws = await RawWs.open(port);
    try {
      await ws.send(text('Hello, world!'));
      await ws.waitFrames(1);
      await ws.send(Buffer.concat([text('Hello, world!', { rsv: 3 }), ping()]));
      await ws.expectEnd([serverFrame(TEXT, 'Hello, world!'), failClose('kReservedBits')]);
    } finally {
      ws.destroy();
    }
  });

  test('3.4 RSV3 on a text frame after an echo, written one byte at a time -> 1002', async () => {
    const ws = await RawWs.open(port);
    try {
      await ws.send(text('Hello, world!'));
      await ws.waitFrames(1);
      await ws.sendPieces(chunks(Buffer.concat([text('Hello, world!', { rsv: 1 }), ping()]), 1), 0);
      await ws.expectEnd([serverFrame(TEXT, 'Hello, world!'), failClose('kReservedBits')]);
    } finally {
      ws.destroy();
    }
  });

  test('3.5 RSV1+RSV3 on a binary frame -> 1002', () =>
    exchange(binary(bytes(8), { rsv: 5 }), [failClose('kReservedBits')]));
  test('3.6 RSV2+RSV3 on a ping -> 1002', () => exchange(ping('Hello', { rsv: 3 }), [failClose('kReservedBits')]));
  test('3.7 all RSV bits on a close -> 1002', () => exchange(close(1000, '', { rsv: 7 }), [failClose('kReservedBits')]));
  test('RSV1 on a continuation frame -> 1002', () =>
    exchange([text('a', { fin: false }), frame(CONT, 'b', { rsv: 4 })], [failClose('kReservedBits')]));
});

// ---- 4.x opcodes ---------------------------------------------------------------------

describe('4.x opcodes', () => {
  for (const op of [3, 4, 5, 6, 7]) {
    test(`4.1.x reserved non-control opcode ${op} -> 1002`, () =>
      exchange(frame(op, 'reserved'), [failClose('kUnknownOpcode')]));
  }
  for (const op of [0xb, 0xc, 0xd, 0xe, 0xf]) {
    test(`4.2.x reserved control opcode ${op} -> 1002`, () =>
      exchange(frame(op, 'reserved'), [failClose('kUnknownOpcode')]));
  }
  test('4.1.3 text echoed, then opcode 5, then a ping: 1002, no pong', async () => {
    const ws = await RawWs.open(port);
    try {
      await ws.send(text('Hello, world!'));
      await ws.waitFrames(1);
      await ws.send(Buffer.concat([frame(5, ''), ping()]));
      await ws.expectEnd([serverFrame(TEXT, 'Hello, world!'), failClose('kUnknownOpcode')]);
    } finally {
      ws.destroy();
    }
  });
  test('4.2.5 opcode 15 written one byte at a time -> 1002', () =>
    exchange(chunks(frame(15, 'payload'), 1), [failClose('kUnknownOpcode')], { gap: 0 }));
});

// ---- 5.x fragmentation ---------------------------------------------------------------

describe('5.x fragmentation (with interleaved pings)', () => {
  const frag1 = text('fragment1', { fin: false });
  const frag2 = frame(CONT, 'fragment2');
  const whole = serverFrame(TEXT, 'fragment1fragment2');

  test('5.1 a ping in 2 fragments -> 1002', () =>
    exchange([ping('fragment1', { fin: false }), frame(CONT, 'fragment2')], [failClose('kControlFragmented')]));
  test('5.2 a pong in 2 fragments -> 1002', () =>
    exchange([pong('fragment1', { fin: false }), frame(CONT, 'fragment2')], [failClose('kControlFragmented')]));
  test('5.3 text in 2 fragments, one write -> echoed as one message', () => clean(Buffer.concat([frag1, frag2]), [whole]));
  test('5.4 text in 2 fragments, written apart', () => clean([frag1, frag2], [whole], { gap: 5 }));
  test('5.5 text in 2 fragments, written one byte at a time', () =>
    clean(chunks(Buffer.concat([frag1, frag2]), 1), [whole], { gap: 0 }));
  test('5.6 text in 2 fragments with a ping between, one write -> pong, then the echo', () =>
    clean(Buffer.concat([frag1, ping('pongme!'), frag2]), [serverFrame(PONG, 'pongme!'), whole]));
  test('5.7 text in 2 fragments with a ping between, written apart', () =>
    clean([frag1, ping('pongme!'), frag2], [serverFrame(PONG, 'pongme!'), whole], { gap: 5 }));
  test('5.8 text in 2 fragments with a ping between, one byte at a time', () =>
    clean(chunks(Buffer.concat([frag1, ping('pongme!'), frag2]), 1), [serverFrame(PONG, 'pongme!'), whole], { gap: 0 }));
  test('5.9 a continuation (FIN) with no message started -> 1002', () =>
    exchange([frame(CONT, 'non-continuation payload'), text('Hello, world!')], [failClose('kUnexpectedContinuation')]));
  test('5.10 the same, one byte at a time', () =>
    exchange(chunks(frame(CONT, 'non-continuation payload'), 1), [failClose('kUnexpectedContinuation')], { gap: 0 }));
  test('5.12 a continuation (no FIN) with no message started -> 1002', () =>
    exchange(frame(CONT, 'non-continuation payload', { fin: false }), [failClose('kUnexpectedContinuation')]));
  test('5.15 a whole fragmented message, then a stray continuation -> echo, then 1002', async () => {
    const ws = await RawWs.open(port);
    try {
      await ws.send(Buffer.concat([frag1, frag2]));
      await ws.waitFrames(1);
      await ws.send(Buffer.concat([frame(CONT, 'fragment3', { fin: false }), frame(CONT, 'fragment4')]));
      await ws.expectEnd([whole, failClose('kUnexpectedContinuation')]);
    } finally {
      ws.destroy();
    }
  });
  test('5.18 a text frame inside a fragmented message -> 1002', () =>
    exchange(Buffer.concat([frag1, text('fragment2')]), [failClose('kMessageInterleaved')]));
  test('5.19 text in 5 fragments with 2 pings between, written apart -> pongs in place, one echo', () => {
    const parts = ['fragment1', 'fragment2', 'fragment3', 'fragment4', 'fragment5'];
    const send = [
      text(parts[0]!, { fin: false }), frame(CONT, parts[1]!, { fin: false }), ping('pongme 1!'),
      frame(CONT, parts[2]!, { fin: false }), frame(CONT, parts[3]!, { fin: false }), ping('pongme 2!'),
      frame(CONT, parts[4]!),
    ];
    return clean(send, [serverFrame(PONG, 'pongme 1!'), serverFrame(PONG, 'pongme 2!'), serverFrame(TEXT, parts.join(''))],
      { gap: 5 });
  });
  test('binary in 3 fragments, one empty -> echoed as one binary message', () =>
    clean([binary(bytes(10), { fin: false }), frame(CONT, '', { fin: false }), frame(CONT, bytes(5, 9))],
      [serverFrame(BINARY, Buffer.concat([bytes(10), bytes(5, 9)]))]));
});

// ---- 6.x UTF-8 -----------------------------------------------------------------------

const VALID_UTF8: ReadonlyArray<readonly [string, string]> = [
  ['6.2 Hello-µ@ßöäüàá-UTF-8!!', Buffer.from('Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!').toString('hex')],
  ['6.5.1 κόσμε', 'cebae1bdb9cf83cebcceb5'],
  ['6.7.1 U+0000', '00'],
  ['6.7.2 U+0080', 'c280'],
  ['6.7.3 U+0800', 'e0a080'],
  ['6.7.4 U+10000', 'f0908080'],
  ['6.8.x U+007F, U+07FF, U+FFFF', '7fdfbfefbfbf'],
  ['6.11.x U+D7FF, U+E000, U+FFFD, U+10FFFF', 'ed9fbfee8080efbfbdf48fbfbf'],
  ['6.1.1 empty text', ''],
];

const INVALID_UTF8: ReadonlyArray<readonly [string, string, string]> = [
  ['6.3.1 κόσμε + a surrogate (U+D800) + "edited"', 'cebae1bdb9cf83cebcceb5eda080656469746564', 'kBadUtf8'],
  ['6.6.x κόσμε cut inside its last character', 'cebae1bdb9cf83cebcce', 'kTruncatedUtf8'],
  ['6.8.1 above U+10FFFF (F4 90 80 80)', 'f4908080', 'kBadUtf8'],
  ['6.9.x five-byte form (F8 88 80 80 80)', 'f888808080', 'kBadUtf8'],
  ['6.10.x six-byte form (FC 84 80 80 80 80)', 'fc8480808080', 'kBadUtf8'],
  ['6.12.x a lone continuation byte (80)', '80', 'kBadUtf8'],
  ['6.12.x a lone continuation byte (BF) after text', '41bf', 'kBadUtf8'],
  ['6.14.x a start byte then ASCII (C2 41)', 'c241', 'kBadUtf8'],
  ['6.16.x FE and FF', 'fe', 'kBadUtf8'],
  ['6.17.x a truncated 3-byte form at the end (E1 BD)', '41e1bd', 'kTruncatedUtf8'],
  ['6.18.x overlong 2-byte form of "/" (C0 AF)', 'c0af', 'kBadUtf8'],
  ['6.19.x overlong 3-byte form of U+0000 (E0 80 80)', 'e08080', 'kBadUtf8'],
  ['6.20.x overlong 4-byte form (F0 80 80 80)', 'f0808080', 'kBadUtf8'],
  ['6.21.x a surrogate (ED A0 80)', 'eda080', 'kBadUtf8'],
  ['6.21.x a surrogate pair (ED A0 80 ED B0 80)', 'eda080edb080', 'kBadUtf8'],
  ['6.21.x the last surrogate (ED BF BF)', 'edbfbf', 'kBadUtf8'],
];

describe('6.x UTF-8 (valid/invalid, split at every byte in fragments)', () => {
  for (const [name, hex] of VALID_UTF8) {
    const b = Buffer.from(hex, 'hex');
    test(`${name}: valid, echoed whole and split into 2 fragments at every byte`, async () => {
      const sends = [text(b)];
      for (let k = 1; k < b.length; k++) sends.push(text(b.subarray(0, k), { fin: false }), frame(CONT, b.subarray(k)));
      // Every byte its own fragment (6.2.4).
      if (b.length > 1) {
        sends.push(...[...b].map((x, i) => frame(i === 0 ? TEXT : CONT, Buffer.from([x]), { fin: i === b.length - 1 })));
      }
      const messages = 1 + Math.max(0, b.length - 1) + (b.length > 1 ? 1 : 0);
      await clean(Buffer.concat(sends), Array<Buffer>(messages).fill(serverFrame(TEXT, b)));
    });
  }

  for (const [name, hex, error] of INVALID_UTF8) {
    const b = Buffer.from(hex, 'hex');
    test(`${name}: invalid -> 1007, whole and split into 2 fragments at every byte`, async () => {
      await exchange(text(b), [failClose(error)]);
      for (let k = 1; k < b.length; k++) {
        await exchange([text(b.subarray(0, k), { fin: false }), frame(CONT, b.subarray(k))], [failClose(error)]);
      }
    });
  }

  test('6.4.1 fail fast: invalid UTF-8 in a first fragment -> 1007 before the message ends', () =>
    exchange(text(Buffer.from('cebae1bdb9cf83cebcceb5f4908080656469746564', 'hex'), { fin: false }),
      [failClose('kBadUtf8')]));

  test('6.4.3 fail fast: invalid UTF-8 mid-frame -> 1007 before the frame ends', async () => {
    const payload = Buffer.concat([Buffer.from('cebae1bdb9cf83cebcceb5f4908080', 'hex'), Buffer.alloc(100, 0x61)]);
    const whole = text(payload);
    const ws = await RawWs.open(port);
    try {
      await ws.send(whole.subarray(0, 6 + 2 + 15));  // header, then the bytes through the bad one
      await ws.expectEnd([failClose('kBadUtf8')]);
    } finally {
      ws.destroy();
    }
  });

  test('invalid UTF-8 in a binary message is just bytes', () =>
    clean(binary(Buffer.from('eda080c0af', 'hex')), [serverFrame(BINARY, Buffer.from('eda080c0af', 'hex'))]));
});

// ---- 7.x close handling ----------------------------------------------------------------

describe('7.x close handling: codes valid/invalid, reason UTF-8, close then data, 1-byte payload', () => {
  test('7.1.1 a message then a close, one write -> the echo, then the close', () =>
    exchange(Buffer.concat([text('Hello World!'), close(1000)]), [serverFrame(TEXT, 'Hello World!'), serverClose(1000)]));
  test('7.1.1 the same, written apart', () => clean(text('Hello World!'), [serverFrame(TEXT, 'Hello World!')]));
  test('7.1.2 two closes -> one close answered', () =>
    exchange(Buffer.concat([close(1000), close(1000)]), [serverClose(1000)]));
  test('7.1.3 a close, then a ping -> no pong', () => exchange(Buffer.concat([close(1000), ping('Hello World!')]),
    [serverClose(1000)]));
  test('7.1.4 a close, then a text message -> no echo', () =>
    exchange(Buffer.concat([close(1000), text('Hello World!')]), [serverClose(1000)]));
  test('7.1.5 a fragment, a close, then the continuation -> the close only', () =>
    exchange(Buffer.concat([text('fragment1', { fin: false }), close(1000), frame(CONT, 'fragment2')]), [serverClose(1000)]));
  test('7.1.6 a 256 KiB message, a close and a ping in one write -> the echo, the close, no pong', () =>
    exchange(Buffer.concat([text(letters(256 * 1024)), close(1000), ping('ping')]),
      [serverFrame(TEXT, letters(256 * 1024)), serverClose(1000)]));
  test('7.3.1 a close without payload -> a close without payload', () => exchange(close(), [serverClose()]));
  test('7.3.2 a close with a 1-byte payload -> 1002', () =>
    exchange(frame(CLOSE, Buffer.from([0x03])), [failClose('kCloseTooShort')]));
  test('7.3.3 a close with 1000 -> 1000', () => exchange(close(1000), [serverClose(1000)]));
  test('7.3.4 a close with 1000 and a reason -> both echoed', () =>
    exchange(close(1000, 'Hello World!'), [serverClose(1000, 'Hello World!')]));
  test('7.3.5 a close with a 123-byte reason -> both echoed', () =>
    exchange(close(1000, letters(123)), [serverClose(1000, letters(123))]));
  test('a close with a multi-byte UTF-8 reason -> echoed as it came', () =>
    exchange(close(4001, 'κόσμε \u{10348}'), [serverClose(4001, 'κόσμε \u{10348}')]));
  test('7.3.6 a close with a 124-byte reason (126-byte payload) -> 1002', () =>
    exchange(close(1000, letters(124)), [failClose('kControlTooLong')]));
  test('7.5.1 a close reason that is not UTF-8 -> 1007', () =>
    exchange(close(1000, Buffer.from('cebae1bdb9cf83cebcceb5eda080656469746564', 'hex')), [failClose('kBadCloseReason')]));

  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
    test(`7.7.x valid close code ${code} -> echoed`, () => exchange(close(code), [serverClose(code)]));
  }
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    test(`7.9.x / 7.13.x invalid close code ${code} -> 1002`, () => exchange(close(code), [failClose('kBadCloseCode')]));
  }
  test('a close written one byte at a time', () =>
    exchange(chunks(close(1001, 'going'), 1), [serverClose(1001, 'going')], { gap: 0 }));
  test('the client half-closes without a close frame: the server closes, sends nothing', async () => {
    const ws = await RawWs.open(port);
    try {
      ws.conn.socket.end();
      await ws.expectEnd([]);
    } finally {
      ws.destroy();
    }
  });
  test('the client half-closes mid-frame: the server closes, sends nothing', async () => {
    const ws = await RawWs.open(port);
    try {
      await ws.send(text('Hello').subarray(0, 5));
      ws.conn.socket.end();
      await ws.expectEnd([]);
    } finally {
      ws.destroy();
    }
  });
});

// ---- 9.x limits ------------------------------------------------------------------------

describe('9.x limits: messages near and over the limit -> 1009', () => {
  test(`9.x a text message of exactly the limit (${LIMIT}) is echoed`, () =>
    clean(text(letters(LIMIT)), [serverFrame(TEXT, letters(LIMIT))], { on: smallPort }));
  test('9.x a binary message one byte under the limit is echoed', () =>
    clean(binary(bytes(LIMIT - 1)), [serverFrame(BINARY, bytes(LIMIT - 1))], { on: smallPort }));
  test('9.x a frame one byte over the limit -> 1009 at its header', () =>
    exchange(binary(bytes(LIMIT + 1)).subarray(0, 14), [failClose('kFrameTooBig')], { on: smallPort }));
  test('9.x a frame announcing 2^62 bytes -> 1009', () =>
    exchange(frame(BINARY, '', { length: 1n << 62n }), [failClose('kFrameTooBig')], { on: smallPort }));
  test('9.x a message in 4 fragments of exactly the limit is echoed', () => {
    const q = LIMIT / 4;
    return clean([
      binary(bytes(q, 1), { fin: false }), frame(CONT, bytes(q, 2), { fin: false }), frame(CONT, bytes(q, 3), { fin: false }),
      frame(CONT, bytes(q, 4)),
    ], [serverFrame(BINARY, Buffer.concat([bytes(q, 1), bytes(q, 2), bytes(q, 3), bytes(q, 4)]))], { on: smallPort });
  });
  test('9.x fragments summing one byte over the limit -> 1009 at the last header', () => {
    const q = LIMIT / 4;
    const last = frame(CONT, bytes(q + 1, 4));
    return exchange([
      binary(bytes(q, 1), { fin: false }), frame(CONT, bytes(q, 2), { fin: false }), frame(CONT, bytes(q, 3), { fin: false }),
      last.subarray(0, 8),
    ], [failClose('kMessageTooBig')], { on: smallPort });
  });
  test('9.x 100 messages of 1000 bytes in one write, then a close', () => {
    const msgs = Array.from({ length: 100 }, (_, i) => bytes(1000, i));
    return clean(Buffer.concat(msgs.map((m) => binary(m))), msgs.map((m) => serverFrame(BINARY, m)));
  });
  test('9.x a 1 MiB binary message in one frame, written in pieces of 65536', () =>
    clean(chunks(binary(bytes(1 << 20)), 65536), [serverFrame(BINARY, bytes(1 << 20))], { gap: 0 }));
  test('9.x a 1 MiB text message in 64 fragments', () => {
    const piece = letters(16 * 1024);
    const send = Array.from({ length: 64 }, (_, i) => frame(i === 0 ? TEXT : CONT, piece, { fin: i === 63 }));
    return clean(Buffer.concat(send), [serverFrame(TEXT, piece.repeat(64))]);
  });
});

// ---- the opening handshake ---------------------------------------------------------------

describe('opening handshake (RFC 6455 4.2)', () => {
  async function ask(request: string, on = port): Promise<{ raw: Buffer; conn: RawConnection }> {
    const conn = await RawConnection.open(on);
    await conn.write(request);
    await conn.waitUntil(() => conn.data.includes('\r\n\r\n') || conn.closed, 5000, 'a reply head');
    return { raw: conn.data, conn };
  }

  test('the 101 is exactly the RFC 6455 1.3 example', async () => {
    const { raw, conn } = await ask(handshake());
    try {
      assert.equal(raw.toString('latin1'), 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n' +
        'Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n');
      assert.equal(acceptFor('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    } finally {
      conn.destroy();
    }
  });

  async function plain(request: string, expectBody: string, status = 200): Promise<void> {
    const conn = await RawConnection.open(port);
    try {
      await conn.write(request);
      const [res] = await conn.responses(1);
      assert.equal(res!.status, status, res!.head);
      assert.equal(res!.body.toString(), expectBody);
      assert.equal(header(res!, 'upgrade'), undefined);
      assert.equal(header(res!, 'sec-websocket-accept'), undefined);
      // Still HTTP: the connection serves another request.
      await conn.write('GET /again HTTP/1.1\r\nHost: x\r\n\r\n');
      const again = await conn.responses(2);
      assert.equal(again[1]!.status, 200);
    } finally {
      conn.destroy();
    }
  }

  const fields = (key: string | null, version: string | null, extra: string[] = []): string[] => [
    'Upgrade: websocket', 'Connection: Upgrade',
    ...(key === null ? [] : [`Sec-WebSocket-Key: ${key}`]),
    ...(version === null ? [] : [`Sec-WebSocket-Version: ${version}`]), ...extra,
  ];

  test('no Sec-WebSocket-Key: the app sees websocket false and its reply is served', () =>
    plain(handshake({ headers: fields(null, '13') }), 'upgrade=true websocket=false body='));
  test('a key that is not base64 of 16 bytes: websocket false', () =>
    plain(handshake({ headers: fields('dGhlIHNhbXBsZSBub25jZQ', '13') }), 'upgrade=true websocket=false body='));
  test('a key of 17 bytes: websocket false', () =>
    plain(handshake({ headers: fields(Buffer.alloc(17, 1).toString('base64'), '13') }),
      'upgrade=true websocket=false body='));
  test('two keys: websocket false', () =>
    plain(handshake({ headers: fields(KEY(), '13', [`Sec-WebSocket-Key: ${KEY()}`]) }),
      'upgrade=true websocket=false body='));
  test('version 8: websocket false; the app answers (here 200)', () =>
    plain(handshake({ headers: fields(KEY(), '8') }), 'upgrade=true websocket=false body='));
  test('no version: websocket false', () =>
    plain(handshake({ headers: fields(KEY(), null) }), 'upgrade=true websocket=false body='));
  test('HTTP/1.0 with the WebSocket fields: neither upgrade nor websocket', async () => {
    const conn = await RawConnection.open(port);
    try {
      await conn.write(handshake().replace('HTTP/1.1', 'HTTP/1.0'));
      const [res] = await conn.responses(1);
      assert.equal(res!.status, 200);
      assert.equal(res!.body.toString(), 'upgrade=false websocket=false body=');
    } finally {
      conn.destroy();
    }
  });

  for (const [name, f] of [
    ['Connection: keep-alive, Upgrade', ['Upgrade: websocket', 'Connection: keep-alive, Upgrade']],
    ['uppercase tokens (WEBSOCKET, UPGRADE)', ['Upgrade: WEBSOCKET', 'Connection: UPGRADE']],
    ['lowercase field names', ['upgrade: websocket', 'connection: upgrade']],
    ['Upgrade listing another protocol first', ['Upgrade: h2c, websocket', 'Connection: Upgrade, HTTP2-Settings']],
  ] as const) {
    test(`${name}: 101, and the connection echoes`, async () => {
      const key = KEY();
      const conn = await RawConnection.open(port);
      try {
        await conn.write(handshake({ headers: [...f, `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13'] }));
        await conn.waitUntil(() => conn.data.includes('\r\n\r\n'), 5000, 'the 101');
        const head = conn.data.toString('latin1', 0, conn.data.indexOf('\r\n\r\n') + 4);
        assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
        assert.ok(head.includes(`Sec-WebSocket-Accept: ${acceptFor(key)}\r\n`), head);
        const start = head.length;
        await conn.write(Buffer.concat([text('hi'), close(1000)]));
        assert.equal(await conn.waitClosed(5000), true);
        assert.ok(conn.data.subarray(start).equals(Buffer.concat([serverFrame(TEXT, 'hi'), serverClose(1000)])),
          describeFrames(conn.data.subarray(start)));
      } finally {
        conn.destroy();
      }
    });
  }

  test('a POST with Upgrade and a body is served as a normal request', async () => {
    const conn = await RawConnection.open(port);
    try {
      await conn.write(handshake({
        headers: [...fields(KEY(), '13'), 'Content-Length: 5'],
      }).replace('GET ', 'POST ') + 'hello');
      const [res] = await conn.responses(1);
      assert.equal(res!.status, 200);
      assert.equal(res!.body.toString(), 'upgrade=false websocket=false body=hello');
    } finally {
      conn.destroy();
    }
  });

  test('a GET with Upgrade and a body is not upgradable', async () => {
    const conn = await RawConnection.open(port);
    try {
      await conn.write(handshake({ headers: [...fields(KEY(), '13'), 'Content-Length: 3'] }) + 'abc');
      const [res] = await conn.responses(1);
      assert.equal(res!.status, 200);
      assert.equal(res!.body.toString(), 'upgrade=false websocket=false body=');
    } finally {
      conn.destroy();
    }
  });

  test('frames in the same write as the handshake are read after the 101', async () => {
    const conn = await RawConnection.open(port);
    try {
      await conn.write(Buffer.concat([Buffer.from(handshake()), text('early'), close(1000)]));
      assert.equal(await conn.waitClosed(5000), true);
      const end = conn.data.indexOf('\r\n\r\n') + 4;
      assert.match(conn.data.toString('latin1', 0, end), /^HTTP\/1\.1 101 /);
      assert.equal(describeFrames(conn.data.subarray(end)), describeFrames(Buffer.concat([serverFrame(TEXT, 'early'),
        serverClose(1000)])));
    } finally {
      conn.destroy();
    }
  });

  test('an HTTP request on a second keep-alive request can still upgrade', async () => {
    const conn = await RawConnection.open(port);
    try {
      await conn.write('GET /first HTTP/1.1\r\nHost: x\r\n\r\n');
      await conn.responses(1);
      const before = conn.received;
      await conn.write(handshake());
      await conn.waitUntil(() => conn.data.indexOf('\r\n\r\n', before) > 0, 5000, 'the 101');
      assert.match(conn.data.toString('latin1', before), /^HTTP\/1\.1 101 /);
      const start = conn.data.indexOf('\r\n\r\n', before) + 4;
      await conn.write(close(1000));
      assert.equal(await conn.waitClosed(5000), true);
      assert.ok(conn.data.subarray(start).equals(serverClose(1000)));
    } finally {
      conn.destroy();
    }
  });

  test('a pipelined request after the handshake is read as frames (and fails)', async () => {
    const conn = await RawConnection.open(port);
    try {
      await conn.write(handshake() + 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(await conn.waitClosed(5000), true);
      const end = conn.data.indexOf('\r\n\r\n') + 4;
      // 'G' (0x47): RSV bits 4 and opcode 7.
      assert.ok(conn.data.subarray(end).equals(failClose('kReservedBits')), describeFrames(conn.data.subarray(end)));
    } finally {
      conn.destroy();
    }
  });
});

function KEY(): string {
  return Buffer.from(Array.from({ length: 16 }, () => Math.floor(Math.random() * 256))).toString('base64');
}
