// STDIN without CONTENT_LENGTH (an empty one: no stated length) read whole
// with bytes(), text() or json(): the core writes each record's data into a
// Buffer it regrows up to the reader's limit. Byte-exact for sizes around the
// first Buffer's and its doublings, cut into records and reads at random, two
// such bodies interleaved on one connection; past the limit the app gets the
// reader's error and can still answer; a client leaving mid-STDIN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Request } from 'tsgi';
import { ask, beginRequest, FcgiConnection, fcgiVars, pairs, parseStdout, record, request, stream, T,
  withFcgiServer } from '../helpers/fcgi-client.js';
import { delay, digest, pattern, rng } from '../helpers/index.js';

/** nginx-like variables for a POST whose CONTENT_LENGTH is empty: STDIN alone frames the body. */
function openVars(uri: string): Array<[string, string]> {
  return fcgiVars(uri, { method: 'POST', body: 'x' })
    .map(([k, v]) => (k === 'CONTENT_LENGTH' ? [k, ''] : [k, v]) as [string, string]);
}

/** Random record cuts: records of 1 to `max` bytes. */
function cutsOf(n: number, random: () => number, max: number): number[] {
  const cuts: number[] = [];
  for (let at = 0; at < n;) {
    at += 1 + Math.floor(random() * max);
    if (at < n) cuts.push(at);
  }
  return cuts;
}

const reader = async (req: Request) => {
  const limit = Number(new URLSearchParams(req.QUERY_STRING).get('limit') ?? 4 * 1024 * 1024);
  try {
    let b: Buffer;
    if (req.PATH_INFO === '/text') b = Buffer.from(await req.body.text(limit), 'latin1');
    else if (req.PATH_INFO === '/json') b = Buffer.from(JSON.stringify(await req.body.json(limit)));
    else b = Buffer.from(await req.body.bytes(limit));
    return { body: `${b.byteLength} ${digest(b)}` };
  } catch (err) {
    return { status: 599, body: String((err as { code?: string }).code) };
  }
};

const K = 1024;

test('STDIN of no stated length, read whole: byte-exact around the Buffer\'s sizes', { timeout: 60_000 }, async () => {
  await withFcgiServer(reader, async ({ tcp }) => {
    // Around the first Buffer (64 KiB, src/server/body.ts) and its first doubling.
    for (const n of [0, 1, 16 * K - 1, 16 * K, 16 * K + 1, 64 * K - 1, 64 * K, 64 * K + 1, 128 * K + 1, 1024 * K]) {
      const random = rng(n + 3);
      const bin = pattern(n, n);
      const ascii = Buffer.from(bin.map((x) => 0x20 + (x % 0x5f)));
      const cases: Array<[string, Buffer]> = [['/bytes', bin], ['/text', ascii]];
      if (n >= 2) {
        const json = Buffer.alloc(n, 'b');
        json[0] = json[n - 1] = 0x22;
        cases.push(['/json', json]);
      }
      for (const [path, body] of cases) {
        const c = await FcgiConnection.open(tcp);
        try {
          const data = request(1, openVars(path), { body, stdin: { cuts: cutsOf(n, random, n < 4096 ? 50 : 40_000) } });
          for (let at = 0; at < data.length;) {
            const end = Math.min(data.length, at + 1 + Math.floor(random() * (n < 4096 ? 80 : 90_000)));
            await c.write(data.subarray(at, end));
            at = end;
            if (random() < 0.2) await delay(1);
          }
          const a = await c.answer(1);
          const reply = parseStdout(a.stdout);
          assert.equal(reply.status, 200, `${path} ${n}: ${reply.body.toString()}`);
          assert.equal(reply.body.toString(), `${body.length} ${digest(body)}`, `${path} ${n}`);
        } finally {
          c.destroy();
        }
      }
    }
  });
});

test('a small STDIN of no stated length, the request split in two at every byte', { timeout: 60_000 }, async () => {
  await withFcgiServer(reader, async ({ tcp }) => {
    const body = pattern(200, 1);
    const data = request(1, openVars('/bytes'), { body, stdin: { cuts: [1, 50, 51, 199] } });
    for (let k = 1; k < data.length; k++) {
      const c = await FcgiConnection.open(tcp);
      try {
        await c.write(data.subarray(0, k));
        await delay(1);
        await c.write(data.subarray(k));
        const reply = parseStdout((await c.answer(1)).stdout);
        assert.equal(reply.body.toString(), `200 ${digest(body)}`, `cut at ${k}`);
      } finally {
        c.destroy();
      }
    }
  });
});

test('two bodies of no stated length interleaved on one connection', { timeout: 20_000 }, async () => {
  await withFcgiServer(reader, async ({ tcp }) => {
    const c = await FcgiConnection.open(tcp);
    try {
      const one = pattern(90_000, 1);
      const two = pattern(40_000, 2);
      const begin = (id: number) => Buffer.concat([beginRequest(id, { keepConn: true }),
        stream(T.PARAMS, id, pairs(openVars('/bytes')))]);
      await c.write(Buffer.concat([begin(1), begin(2)]));
      for (let at = 0; at < one.length; at += 10_000) {
        await c.write(stream(T.STDIN, 1, one.subarray(at, at + 10_000), { end: false }));
        if (at < two.length) await c.write(stream(T.STDIN, 2, two.subarray(at, at + 10_000), { end: false }));
      }
      await c.write(Buffer.concat([record(T.STDIN, 2), record(T.STDIN, 1)]));
      const [a, b] = await Promise.all([c.answer(1), c.answer(2)]);
      assert.equal(parseStdout(a.stdout).body.toString(), `${one.length} ${digest(one)}`);
      assert.equal(parseStdout(b.stdout).body.toString(), `${two.length} ${digest(two)}`);
    } finally {
      c.destroy();
    }
  });
});

test('STDIN past the reader\'s limit: TSGI_ERR_BODY_TOO_LARGE, the app still answers', { timeout: 20_000 }, async () => {
  await withFcgiServer(reader, async ({ tcp }) => {
    for (const [n, limit] of [[5000, 1000], [100_000, 40_000], [300_000, 150_000], [300_000, 16_385], [1, 0]]) {
      const body = pattern(n!, n!);
      const a = await ask(tcp, openVars(`/bytes?limit=${limit}`), { body, stdin: { cuts: cutsOf(n!, rng(n!), 30_000) } });
      assert.equal(a.reply.status, 599, `${n} over ${limit}`);
      assert.equal(a.reply.body.toString(), 'TSGI_ERR_BODY_TOO_LARGE', `${n} over ${limit}`);
      assert.equal(a.end.protocolStatus, 0);
    }
    const body = pattern(50_000, 5);
    const a = await ask(tcp, openVars('/bytes?limit=50000'), { body });
    assert.equal(a.reply.body.toString(), `50000 ${digest(body)}`, 'at the limit');
  });
});

test('a client that leaves mid-STDIN: the server goes on', { timeout: 20_000 }, async () => {
  await withFcgiServer(reader, async ({ tcp, server }) => {
    for (const sent of [20_000, 200_000]) {
      const c = await FcgiConnection.open(tcp);
      await c.write(request(1, openVars('/bytes'), { body: pattern(1 << 20) }).subarray(0, sent));
      await delay(30);
      c.destroy();
      const started = Date.now();
      while (server.connectionCount!() > 0 && Date.now() - started < 3000) await delay(10);
      assert.equal(server.connectionCount!(), 0, 'connections left open');
    }
  });
});
