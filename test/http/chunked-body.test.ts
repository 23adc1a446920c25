// Chunked request bodies (RFC 9112 7.1): chunk extensions and trailers are
// parsed and dropped, the app sees exactly the data, whatever way the bytes
// are cut into reads.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type ServerHandle } from 'tsgi';
import type { App } from 'tsgi';
import { delay, RawConnection } from '../helpers/index.js';

const DATA = ['hello', 'chunked world, with ; and "quotes"', 'abc', '0123456789', '\r\n\r\n0\r\n'];
const BODY = DATA.join('');

// Several chunks, each with another way of writing the size line.
const CHUNKED =
  `${DATA[0]!.length.toString(16)};name=value\r\n${DATA[0]}\r\n` +
  `${DATA[1]!.length.toString(16).toUpperCase()} ; q="a \\"b\\" c" ;flag\r\n${DATA[1]}\r\n` +
  `000${DATA[2]!.length}\r\n${DATA[2]}\r\n` +
  `${DATA[3]!.length.toString(16)};x=1;y=2\r\n${DATA[3]}\r\n` +
  `${DATA[4]!.length.toString(16)}\r\n${DATA[4]}\r\n` +
  '0;last=yes\r\nX-Trailer: one\r\nX-Checksum: abc def\r\n\r\n';

const REQUEST = Buffer.from(
  'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n' +
  CHUNKED +
  'GET /after HTTP/1.1\r\nHost: x\r\n\r\n');

describe('chunked request bodies', () => {
  let server: ServerHandle;
  let port: number;
  let pieces: number[] = [];
  const app: App = async (req) => {
    if (req.REQUEST_METHOD !== 'POST') return { body: 'after' };
    const parts: Buffer[] = [];
    for await (const p of req.body) {
      pieces.push(p.byteLength);
      parts.push(Buffer.from(p));
    }
    return {
      headers: { 'X-Content-Length': req.CONTENT_LENGTH === '' ? 'none' : req.CONTENT_LENGTH },
      body: Buffer.concat(parts),
    };
  };

  before(() => {
    server = serve(app, { listen: '127.0.0.1:0', log: () => {} });
    port = server.addresses[0]!.port!;
  });
  after(() => server.close());

  async function check(c: RawConnection, already: number): Promise<void> {
    const res = await c.responses(already + 2);
    const echo = res[already]!;
    assert.equal(echo.status, 200);
    assert.equal(echo.body.toString('latin1'), BODY);
    assert.equal(echo.headers.find(([n]) => n === 'X-Content-Length')?.[1], 'none', 'CONTENT_LENGTH is "" when chunked');
    assert.equal(res[already + 1]!.body.toString(), 'after', 'the request after the trailers is framed right');
  }

  test('whole, in one write', async () => {
    const c = await RawConnection.open(port);
    try {
      await c.write(REQUEST);
      await check(c, 0);
    } finally {
      c.destroy();
    }
  });

  test('split in two at every byte boundary', async () => {
    let multiPiece = 0;
    for (let k = 1; k < REQUEST.length; k++) {
      pieces = [];
      const c = await RawConnection.open(port);
      try {
        await c.write(REQUEST.subarray(0, k));
        await delay(1);
        await c.write(REQUEST.subarray(k));
        await check(c, 0).catch((err: Error) => {
          throw new Error(`split at byte ${k}: ${err.message}`);
        });
        if (pieces.length > DATA.length) multiPiece++;
      } finally {
        c.destroy();
      }
    }
    // A split inside a chunk's data must reach the app as one more piece, or
    // the test did not split what the server read.
    const inside = BODY.length - DATA.length;
    assert.ok(multiPiece >= inside * 0.9, `only ${multiPiece} of ${inside} splits inside data cut a chunk in two`);
  });

  test('byte by byte, twice on one connection', async () => {
    const c = await RawConnection.open(port);
    try {
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < REQUEST.length; i++) {
          c.socket.write(REQUEST.subarray(i, i + 1));
          if (i % 4 === 0) await delay(0);
        }
        await check(c, 2 * round);
      }
      assert.equal(c.closed, false);
    } finally {
      c.destroy();
    }
  });

  test('many small chunks of a larger body, one write each', async () => {
    const c = await RawConnection.open(port);
    try {
      await c.write('POST /many HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
      const expected: Buffer[] = [];
      for (let i = 0; i < 500; i++) {
        const piece = Buffer.alloc((i * 37) % 200 + 1, i & 0xff);
        expected.push(piece);
        c.socket.write(`${piece.length.toString(16)}\r\n`);
        c.socket.write(piece);
        c.socket.write('\r\n');
        if (i % 50 === 0) await delay(0);
      }
      await c.write('0\r\n\r\n');
      const [res] = await c.responses(1);
      assert.ok(res!.body.equals(Buffer.concat(expected)));
    } finally {
      c.destroy();
    }
  });
});

// A client's mistake the app reads into is answered with its 4xx and logged
// as one line: no stack (it comes at request rate and shows install paths).
describe('a client\'s bad body is logged in one line', () => {
  let server: ServerHandle;
  let port: number;
  const lines: string[] = [];
  before(() => {
    server = serve(async (req) => ({ body: await req.body.text(100) }),
      { listen: '127.0.0.1:0', log: (l) => lines.push(l), maxBodySize: 1000 });
    port = server.addresses[0]!.port!;
  });
  after(() => server.close());

  for (const [name, body, status] of [
    ['bad chunked coding', 'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n', 400],
    ['a body over the reader\'s limit', 'Content-Length: 200\r\n\r\n' + 'x'.repeat(200), 413],
    ['a chunk over --max-body-size', 'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nFFFF\r\n', 413],
  ] as const) {
    test(`${name}: ${status}, one log line without a stack`, async () => {
      lines.length = 0;
      const c = await RawConnection.open(port);
      try {
        await c.write(`POST /b HTTP/1.1\r\nHost: x\r\n${body}`);
        const [res] = await c.responses(1);
        assert.equal(res!.status, status);
      } finally {
        c.destroy();
      }
      await delay(20);
      const mine = lines.filter((l) => l.includes('POST /b'));
      assert.equal(mine.length, 1, lines.join('\n'));
      assert.doesNotMatch(mine[0]!, /\n|\bat /, 'no stack');
      assert.match(mine[0]!, new RegExp(`^answered ${status} on POST /b: `));
    });
  }
});
