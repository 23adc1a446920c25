// permessage-deflate (RFC 7692) on the wire, modelled on Autobahn|Testsuite
// sections 12 (compressed echo) and 13 (the extension's parameters): the
// offers and what the 101 answers, compressed messages both ways with and
// without context takeover, against the `ws` client and Node's own zlib on a
// raw socket; and what is refused: bad deflate data and bad UTF-8 (1007), a
// bomb past the message limit (1009), RSV1 where it was not agreed (1002).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import WebSocket from 'ws';
import { serve, type ServerHandle } from 'tsgi';
import { BINARY, CLOSE, closeBody, frame, RawWs, serverFrame, TEXT } from './frames.js';

let server: ServerHandle;
let port = 0;
let plain: ServerHandle;
let plainPort = 0;
const app = (req: { tsgi: { websocket: boolean } }) => req.tsgi.websocket
  ? { websocket: { message(ws: any, data: string | Uint8Array, isBinary: boolean) { ws.send(data, { binary: isBinary }); } } }
  : { body: 'x' };

before(() => {
  server = serve(app as any, { listen: '127.0.0.1:0', wsCompression: true, wsMaxMessage: 1 << 20, log: () => {} });
  port = server.addresses[0]!.port!;
  plain = serve(app as any, { listen: '127.0.0.1:0', log: () => {} });
  plainPort = plain.addresses[0]!.port!;
});
after(async () => {
  await server.close(1000);
  await plain.close(1000);
});

/** DEFLATE as RFC 7692 7.2.1 sends it: raw, the final 00 00 ff ff removed. */
function compress(data: Buffer | string, windowBits = 15): Buffer {
  const out = zlib.deflateRawSync(Buffer.from(data), { windowBits, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  assert.ok(out.subarray(-4).equals(Buffer.from([0, 0, 0xff, 0xff])));
  return out.subarray(0, -4);
}

function inflate(data: Buffer): Buffer {
  return zlib.inflateRawSync(Buffer.concat([data, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
}

function openWs(p: number, perMessageDeflate: WebSocket.ClientOptions['perMessageDeflate']): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${p}/`, { perMessageDeflate });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function echo(ws: WebSocket, data: string | Buffer): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve, reject) => {
    ws.once('message', (d, binary) => resolve({ data: d as Buffer, binary }));
    ws.once('close', (code) => reject(new Error(`closed ${code}`)));
    ws.send(data);
  });
}

describe('13.x the offer and the answer', () => {
  for (const [name, offer, answer] of [
    // A parameter the client did not offer is not answered (7.1.2.1); the
    // server may still compress with a smaller window than the default 15.
    ['13.1 the plain offer', 'permessage-deflate', /^permessage-deflate$/],
    ['13.2 client_no_context_takeover', 'permessage-deflate; client_no_context_takeover',
      /^permessage-deflate; client_no_context_takeover$/],
    ['13.3 server_max_window_bits=9', 'permessage-deflate; server_max_window_bits=9', /^permessage-deflate; server_max_window_bits=9$/],
    ['13.4 server_no_context_takeover', 'permessage-deflate; server_no_context_takeover',
      /^permessage-deflate; server_no_context_takeover$/],
    ['13.6 both, with client_max_window_bits', 'permessage-deflate; client_max_window_bits; server_no_context_takeover; client_no_context_takeover',
      /^permessage-deflate; server_no_context_takeover; client_no_context_takeover(; client_max_window_bits=15)?$/],
    ['a malformed first offer falls back to the next', 'permessage-deflate; server_max_window_bits=99, permessage-deflate',
      /^permessage-deflate$/],
  ] as const) {
    test(name, async () => {
      const ws = await RawWs.open(port, { extra: [`Sec-WebSocket-Extensions: ${offer}`] });
      try {
        const m = /\r\nSec-WebSocket-Extensions: ([^\r]*)\r\n/.exec(ws.head);
        assert.ok(m, ws.head);
        assert.match(m[1]!, answer);
      } finally {
        ws.destroy();
      }
    });
  }

  test('an unknown extension only: none in the 101', async () => {
    const ws = await RawWs.open(port, { extra: ['Sec-WebSocket-Extensions: x-webkit-deflate-frame'] });
    ws.destroy();
    assert.doesNotMatch(ws.head, /Sec-WebSocket-Extensions/);
  });

  test('a server without --ws-compression answers no extension', async () => {
    const ws = await RawWs.open(plainPort, { extra: ['Sec-WebSocket-Extensions: permessage-deflate'] });
    ws.destroy();
    assert.doesNotMatch(ws.head, /Sec-WebSocket-Extensions/);
  });
});

describe('12.x compressed echo with the ws client', () => {
  const SIZES = [16, 64, 1024, 4096, 65536, 262144];
  for (const [name, opts] of [
    ['12.1 context takeover both ways', {}],
    ['12.2 server_no_context_takeover', { serverNoContextTakeover: true }],
    ['12.3 client_no_context_takeover', { clientNoContextTakeover: true }],
    ['12.4 both without context takeover, small windows',
      { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 9 }],
  ] as const) {
    test(`${name}: text and binary of ${SIZES.join(', ')} bytes, several times each`, async () => {
      const ws = await openWs(port, { ...opts, threshold: 0 });
      try {
        assert.match(ws.extensions, /^permessage-deflate/);
        for (const size of SIZES) {
          for (let round = 0; round < 3; round++) {
            const t = `${round} ${'lorem ipsum dolor sit amet '.repeat(Math.ceil(size / 27))}`.slice(0, size);
            const a = await echo(ws, t);
            assert.equal(a.binary, false);
            assert.equal(a.data.toString(), t);
            const b = Buffer.alloc(size, (size + round) & 0xff);
            const r = await echo(ws, b);
            assert.equal(r.binary, true);
            assert.ok(r.data.equals(b));
          }
        }
      } finally {
        ws.close();
      }
    });
  }
});

describe('on a raw socket: what the server sends, and what it refuses', () => {
  const OFFER = ['Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover'];

  test('a message of 1 KiB and more comes back compressed (RSV1), a short one as it is', async () => {
    const ws = await RawWs.open(port, { extra: OFFER });
    try {
      const big = 'abcdefgh'.repeat(512);
      await ws.send(frame(TEXT, compress(big), { rsv: 4 }));
      await ws.send(frame(TEXT, 'short'));
      const [a, b] = await ws.waitFrames(2);
      assert.equal(a!.rsv, 4, 'compressed');
      assert.ok(a!.payload.length < 100);
      assert.equal(inflate(a!.payload).toString(), big);
      assert.equal(b!.rsv, 0);
      assert.equal(b!.payload.toString(), 'short');
    } finally {
      ws.destroy();
    }
  });

  test('a compressed message split over frames and reads', async () => {
    const ws = await RawWs.open(port, { extra: OFFER });
    try {
      const z = compress('x'.repeat(5000) + 'end');
      const half = z.length >> 1;
      await ws.sendPieces([frame(TEXT, z.subarray(0, half), { rsv: 4, fin: false }), frame(0, z.subarray(half))]);
      const [a] = await ws.waitFrames(1);
      assert.equal(inflate(a!.payload).toString(), 'x'.repeat(5000) + 'end');
    } finally {
      ws.destroy();
    }
  });

  for (const [name, payload, code] of [
    ['bad deflate data: 1007', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00]), 1007],
    ['compressed text that is not UTF-8: 1007', compress(Buffer.from([0x68, 0xc3, 0x28, 0x69])), 1007],
    ['a bomb, 4 MiB of zeros in a few KB, past the 1 MiB limit: 1009', compress(Buffer.alloc(4 << 20)), 1009],
  ] as const) {
    test(name, async () => {
      const ws = await RawWs.open(port, { extra: OFFER });
      try {
        await ws.send(frame(TEXT, payload, { rsv: 4 }));
        assert.equal(await ws.waitClosed(), true);
        const frames = ws.frames;
        assert.equal(frames.length, 1, 'one close frame');
        assert.equal(frames[0]!.opcode, CLOSE);
        assert.equal(frames[0]!.payload.readUInt16BE(0), code);
      } finally {
        ws.destroy();
      }
    });
  }

  test('RSV1 when permessage-deflate was not agreed: 1002', async () => {
    const ws = await RawWs.open(port);
    try {
      await ws.send(frame(BINARY, compress('abc'), { rsv: 4 }));
      await ws.expectEnd([serverFrame(CLOSE, closeBody(1002, 'WebSocket frame with reserved bits set'))]);
    } finally {
      ws.destroy();
    }
  });
});
