// A chunked body that the app reads whole (bytes(), text(), json()) is
// written by the core into a Buffer it regrows, doubling, up to the reader's
// limit: byte-exact whatever the chunking and however the bytes are cut into
// reads, around the first Buffer's size and its doublings; past the limit the
// read fails with the reader's error and the connection goes on; a client
// leaving mid-body, a reply sent before the body was read, and many such
// requests leave nothing behind.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { serve, type App, type ServerHandle } from 'tsgi';
import { delay, digest, pattern, RawConnection, type RawResponse, rng } from '../helpers/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A JSON string literal of exactly n bytes (n >= 2). */
function jsonOf(n: number): Buffer {
  const b = Buffer.alloc(n, 'a');
  b[0] = b[n - 1] = 0x22;
  return b;
}

/** `body` in chunks of random sizes (1 to maxChunk), some with extensions, and trailers. */
function chunked(body: Buffer, random: () => number, maxChunk: number): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    const n = Math.min(body.length - at, 1 + Math.floor(random() * maxChunk));
    const ext = random() < 0.3 ? ';name=value;q="a b"' : '';
    out.push(Buffer.from(`${n.toString(16)}${ext}\r\n`), body.subarray(at, at + n), Buffer.from('\r\n'));
    at += n;
  }
  out.push(Buffer.from('0;last=yes\r\nX-Trailer: one\r\n\r\n'));
  return Buffer.concat(out);
}

const head = (path: string): string => `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`;
const GET = 'GET /get HTTP/1.1\r\nHost: x\r\n\r\n';

/** Writes `data` in random pieces (1 to maxPiece bytes), yielding between some. */
async function writeInPieces(c: RawConnection, data: Buffer, random: () => number, maxPiece: number): Promise<void> {
  let at = 0;
  while (at < data.length) {
    const n = Math.min(data.length - at, 1 + Math.floor(random() * maxPiece));
    await c.write(data.subarray(at, at + n));
    at += n;
    if (random() < 0.2) await delay(1);
  }
}

function expectBody(res: RawResponse | undefined, body: Buffer, what: string): void {
  assert.ok(res, `${what}: no reply`);
  assert.equal(res.status, 200, `${what}: ${res.body.toString()}`);
  assert.equal(res.body.toString(), `${body.length} ${digest(body)}`, what);
}

// The first Buffer is 64 KiB (src/server/body.ts), then 128, 256 ...
const K = 1024;
const SIZES = [0, 1, 16 * K - 1, 16 * K, 16 * K + 1, 64 * K - 1, 64 * K, 64 * K + 1, 100 * K, 128 * K + 1, 1024 * K];

describe('HTTP: a chunked body read whole', () => {
  let server: ServerHandle;
  let port: number;
  let aborts = 0;
  let early: Promise<unknown>[] = [];
  const app: App = async (req) => {
    if (req.REQUEST_METHOD === 'GET') return { body: 'got' };
    req.signal.addEventListener('abort', () => { aborts++; });
    const limit = Number(new URLSearchParams(req.QUERY_STRING).get('limit') ?? 4 * 1024 * 1024);
    try {
      switch (req.PATH_INFO) {
        case '/early':
          // The reply goes before the body is read: the read is let go.
          early.push(req.body.bytes(limit).catch((err: { code?: string }) => err.code));
          return { body: 'early' };
        case '/text': {
          const b = Buffer.from(await req.body.text(limit), 'latin1');
          return { body: `${b.byteLength} ${digest(b)}` };
        }
        case '/json': {
          const b = Buffer.from(JSON.stringify(await req.body.json(limit)));
          return { body: `${b.byteLength} ${digest(b)}` };
        }
        default: {
          const b = await req.body.bytes(limit);
          return { body: `${b.byteLength} ${digest(b)}` };
        }
      }
    } catch (err) {
      return { status: 500, body: String((err as { code?: string }).code) };
    }
  };

  before(() => {
    server = serve(app, { listen: '127.0.0.1:0', log: () => {} });
    port = server.addresses[0]!.port!;
  });
  after(() => server.close());

  for (const n of SIZES) {
    test(`${n} bytes with bytes(), text() and json(), in random chunks and random reads`, async () => {
      const random = rng(n + 1);
      const c = await RawConnection.open(port);
      try {
        const bin = pattern(n, n);
        const ascii = Buffer.from(bin.map((x) => 0x20 + (x % 0x5f)));
        const cases: Array<[string, Buffer]> = [['/bytes', bin], ['/text', ascii]];
        if (n >= 2) cases.push(['/json', jsonOf(n)]);
        for (const [path, body] of cases) {
          const before = (await c.responses(0)).length;
          const request = Buffer.concat([Buffer.from(head(path)), chunked(body, random, n < 4096 ? 64 : 40_000)]);
          await writeInPieces(c, request, random, n < 4096 ? 100 : 70_000);
          const all = await c.responses(before + 1);
          expectBody(all[before], body, `${path} ${n}`);
        }
        assert.equal(c.closed, false, 'kept alive');
      } finally {
        c.destroy();
      }
    });
  }

  test('a body with extensions and trailers, split in two at every byte, on one connection', async () => {
    const c = await RawConnection.open(port);
    try {
      const body = pattern(300, 2);
      const request = Buffer.concat([Buffer.from(head('/split')), chunked(body, rng(7), 90)]);
      for (let k = 1; k < request.length; k++) {
        await c.write(request.subarray(0, k));
        await delay(1);
        await c.write(request.subarray(k));
        const all = await c.responses(k);
        expectBody(all[k - 1], body, `cut at ${k}`);
      }
    } finally {
      c.destroy();
    }
  });

  test('a body sent one byte per write, then a GET pipelined behind one in the same write', async () => {
    const c = await RawConnection.open(port);
    try {
      const body = pattern(40, 3);
      const request = Buffer.concat([Buffer.from(head('/bytes')), chunked(body, rng(9), 7)]);
      for (let i = 0; i < request.length; i++) await c.write(request.subarray(i, i + 1));
      expectBody((await c.responses(1))[0], body, 'byte by byte');
      const big = pattern(70_000, 4);
      await c.write(Buffer.concat([Buffer.from(head('/bytes')), chunked(big, rng(11), 30_000), Buffer.from(GET)]));
      const all = await c.responses(3);
      expectBody(all[1], big, 'the POST');
      assert.equal(all[2]!.body.toString(), 'got');
    } finally {
      c.destroy();
    }
  });

  test('past the reader\'s limit: TSGI_ERR_BODY_TOO_LARGE, the rest discarded, the connection goes on', async () => {
    const c = await RawConnection.open(port);
    try {
      let replies = 0;
      // Past the first Buffer (the limit's size), past a regrown one, and a limit of 0.
      for (const [n, limit] of [[5000, 1000], [100_000, 40_000], [200_000, 150_000], [20_000, 16_385], [1, 0],
        [200_000, 100]]) {
        const body = pattern(n!, n!);
        await writeInPieces(c, Buffer.concat([Buffer.from(head(`/bytes?limit=${limit}`)), chunked(body, rng(n!), 9000)]),
          rng(limit!), 30_000);
        await c.write(GET);
        replies += 2;
        const all = await c.responses(replies);
        assert.equal(all[replies - 2]!.status, 500, `${n} over ${limit}`);
        assert.equal(all[replies - 2]!.body.toString(), 'TSGI_ERR_BODY_TOO_LARGE', `${n} over ${limit}`);
        assert.equal(all[replies - 1]!.body.toString(), 'got', `the GET after ${n} over ${limit}`);
      }
      // Exactly the limit is not past it.
      const body = pattern(50_000, 5);
      await c.write(Buffer.concat([Buffer.from(head('/bytes?limit=50000')), chunked(body, rng(5), 20_000)]));
      expectBody((await c.responses(replies + 1))[replies], body, 'at the limit');
      assert.equal(c.closed, false);
    } finally {
      c.destroy();
    }
  });

  test('a reply sent before the body is read: the read fails, the connection goes on', async () => {
    early = [];
    const c = await RawConnection.open(port);
    try {
      const body = pattern(60_000, 6);
      await c.write(Buffer.concat([Buffer.from(head('/early')), chunked(body, rng(6), 20_000), Buffer.from(GET)]));
      const all = await c.responses(2);
      assert.equal(all[0]!.body.toString(), 'early');
      assert.equal(all[1]!.body.toString(), 'got');
      assert.deepEqual(await Promise.all(early), ['TSGI_ERR_BODY_ABORTED']);
    } finally {
      c.destroy();
    }
  });

  test('a client that leaves mid-body: the signal fires, nothing stays open, the server goes on', async () => {
    for (const sent of [head('/leave').length + 10, 20_000, 300_000]) {
      const before = aborts;
      const c = await RawConnection.open(port);
      const request = Buffer.concat([Buffer.from(head('/leave')), chunked(pattern(1 << 20), rng(sent), 50_000)]);
      await c.write(request.subarray(0, sent));
      await delay(30);
      c.destroy();
      const started = Date.now();
      while ((aborts === before || server.connectionCount!() > 0) && Date.now() - started < 3000) await delay(10);
      assert.equal(aborts, before + 1, `the abort signal after ${sent} bytes`);
      assert.equal(server.connectionCount!(), 0, 'connections left open');
    }
    const c = await RawConnection.open(port);
    try {
      const body = pattern(30_000, 8);
      await c.write(Buffer.concat([Buffer.from(head('/bytes')), chunked(body, rng(8), 9000)]));
      expectBody((await c.responses(1))[0], body, 'after the clients left');
    } finally {
      c.destroy();
    }
  });

  test('memory stays flat over many bodies read whole, failed, cut off, or answered early', async () => {
    const c = await RawConnection.open(port);
    let replies = 0;
    const round = async (): Promise<void> => {
      for (let i = 0; i < 10; i++) {
        const body = pattern(100_000 + i, i);
        await c.write(Buffer.concat([Buffer.from(head('/bytes')), chunked(body, rng(i + 1), 30_000)]));
        await c.write(Buffer.concat([Buffer.from(head('/bytes?limit=50000')), chunked(body, rng(i + 2), 30_000)]));
        await c.write(Buffer.concat([Buffer.from(head('/early')), chunked(pattern(10_000), rng(i + 3), 3000)]));
        replies += 3;
        const all = await c.responses(replies);
        expectBody(all[replies - 3], body, 'read whole');
        assert.equal(all[replies - 2]!.body.toString(), 'TSGI_ERR_BODY_TOO_LARGE');
        const gone = await RawConnection.open(port);
        await gone.write(Buffer.concat([Buffer.from(head('/leave')), chunked(body, rng(i), 30_000)]).subarray(0, 80_000));
        await delay(2);
        gone.destroy();
      }
      early = [];
    };
    const used = async (): Promise<number> => {
      await delay(50);
      for (let i = 0; i < 3; i++) {
        gc();
        await delay(10);
      }
      const m = process.memoryUsage();
      return m.arrayBuffers + m.heapUsed;
    };
    try {
      for (let i = 0; i < 3; i++) await round();
      const base = await used();
      for (let i = 0; i < 15; i++) await round();
      const grown = (await used()) - base;
      // 150 bodies of 100 KB each way: a Buffer kept per request would be tens of MB.
      assert.ok(grown < 8 * 1024 * 1024, `grew by ${grown} bytes`);
    } finally {
      c.destroy();
    }
  });
});

test('a server closed while bodies are read whole: their reads fail, nothing is left', async () => {
  const reads: Promise<unknown>[] = [];
  const server = serve((req) => {
    const read = req.body.bytes(4 * 1024 * 1024);
    reads.push(read.then((b) => b.byteLength, (err: { code?: string }) => err.code));
    return read.then(() => ({ body: 'read' }), () => ({ status: 500 }));
  }, { listen: '127.0.0.1:0', log: () => {} });
  const port = server.addresses[0]!.port!;
  const conns = await Promise.all([0, 1, 2].map(() => RawConnection.open(port)));
  try {
    // Mid-chunk, past a regrowth, and the head alone.
    const body = chunked(pattern(200_000), rng(3), 50_000);
    await conns[0]!.write(Buffer.concat([Buffer.from(head('/a')), body.subarray(0, 100)]));
    await conns[1]!.write(Buffer.concat([Buffer.from(head('/b')), body.subarray(0, 120_000)]));
    await conns[2]!.write(head('/c'));
    const started = Date.now();
    while (reads.length < 3 && Date.now() - started < 3000) await delay(5);
    assert.equal(reads.length, 3, 'the three requests reached the app');
    await delay(30);
    await server.close(0);
    assert.deepEqual(await Promise.all(reads), ['TSGI_ERR_BODY_ABORTED', 'TSGI_ERR_BODY_ABORTED', 'TSGI_ERR_BODY_ABORTED']);
  } finally {
    for (const c of conns) c.destroy();
  }
});
