// Reply bodies given as strings: encoded once as UTF-8 by the addon, a large
// one into a block of its own that the output queue writes from and keeps
// (pins) for a client that has not read it yet. These check the bytes and the
// framing at the sizes where the paths change (the core copies 16 KiB and
// less; the addon's scratch takes strings of up to 16,384 UTF-16 units), for
// one- to four-byte characters and a lone surrogate (V8 writes U+FFFD, as
// Buffer.from does), whole and streamed; and that clients that read slowly
// get every byte while other replies reuse the addon's memory.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { serve, type Request, type ServerHandle } from 'tsgi';
import { RawConnection, delay, header, parseResponses, type RawResponse } from '../helpers/index.js';
import { stringOf } from '../helpers/string-bodies.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The characters the bodies are made of: 1, 2, 3 and 4 bytes of UTF-8, and a lone surrogate (3: U+FFFD). */
const CHARS: Record<string, string> = { ascii: 'a', e: 'é', euro: '€', emoji: '😀', lone: '\ud800', mixed: 'aé€😀\udc00' };

/** `s` in `parts` pieces, no surrogate pair split between two. */
function pieces(s: string, parts: number): string[] {
  const out: string[] = [];
  let from = 0;
  for (let k = 1; k <= parts; k++) {
    let to = k === parts ? s.length : Math.floor((s.length * k) / parts);
    const c = s.charCodeAt(to - 1);
    if (to < s.length && c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(to);
      if (next >= 0xdc00 && next <= 0xdfff) to++;
    }
    out.push(s.slice(from, to));
    from = to;
  }
  return out;
}

/** The body `/<mode>?c=<char>&n=<bytes>` answers (n: its UTF-8 length; u: a length in UTF-16 units instead). */
function bodyOf(q: URLSearchParams): string {
  const ch = CHARS[q.get('c') ?? 'ascii']!;
  if (q.has('u')) return ch.repeat(Number(q.get('u')) / ch.length);
  return stringOf(ch, Number(q.get('n')));
}

const app = (req: Request) => {
  const q = new URLSearchParams(req.QUERY_STRING);
  const s = bodyOf(q);
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
  switch (req.PATH_INFO) {
    case '/whole':
      return { headers, body: s };
    case '/stream':  // several write() calls, chunked
      return { headers, body: (async function* () { for (const p of pieces(s, 4)) yield p; })() };
    case '/stream-length':  // several write() calls under the app's Content-Length
      headers['content-length'] = String(Buffer.byteLength(s));
      return { headers, body: (async function* () { for (const p of pieces(s, 4)) { yield p; await delay(1); } })() };
    default:
      return { status: 404, body: '' };
  }
};

let server: ServerHandle;
let port = 0;
before(() => {
  server = serve(app, { listen: '127.0.0.1:0', log: () => {} });
  port = server.addresses[0]!.port!;
});
after(() => server.close(1000));

async function get(path: string): Promise<RawResponse> {
  const c = await RawConnection.open(port);
  try {
    await c.write(`GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`);
    const [res] = await c.responses(1, { timeoutMs: 10_000 });
    return res!;
  } finally {
    c.destroy();
  }
}

function assertBody(res: RawResponse, want: string, what: string): void {
  const bytes = Buffer.from(want, 'utf8');
  assert.equal(res.status, 200, what);
  assert.equal(res.body.length, bytes.length, `${what}: body length`);
  if (!res.body.equals(bytes)) {
    let at = 0;
    while (res.body[at] === bytes[at]) at++;
    assert.fail(`${what}: the bodies differ from byte ${at}`);
  }
}

const SIZES = [0, 1, 16383, 16384, 16385, 1024 * 1024];

describe('string bodies at the thresholds, every character width', { concurrency: 4 }, () => {
  for (const c of Object.keys(CHARS)) {
    for (const n of SIZES) {
      const q = `c=${c}&n=${n}`;
      const want = stringOf(CHARS[c]!, n);
      test(`${c}, ${n} bytes: whole, Content-Length exact`, async () => {
        const res = await get(`/whole?${q}`);
        assert.equal(res.framing, 'length');
        assert.equal(header(res, 'content-length'), String(n));
        assertBody(res, want, `whole ${q}`);
      });
      test(`${c}, ${n} bytes: streamed in four write() calls, chunked and under a Content-Length`, async () => {
        const chunked = await get(`/stream?${q}`);
        if (n > 0) assert.equal(chunked.framing, 'chunked');
        assertBody(chunked, want, `stream ${q}`);
        const framed = await get(`/stream-length?${q}`);
        assert.equal(framed.framing, 'length');
        assert.equal(header(framed, 'content-length'), String(n));
        assertBody(framed, want, `stream-length ${q}`);
      });
    }
  }
});

test('strings of 16,384 and 16,385 UTF-16 units (the scratch limit) of 3- and 4-byte characters', async () => {
  for (const [c, u] of [['euro', 16384], ['euro', 16385], ['emoji', 16384], ['emoji', 16386], ['lone', 16385]] as const) {
    const want = CHARS[c]!.repeat(u / CHARS[c]!.length);
    for (const mode of ['whole', 'stream', 'stream-length']) {
      const res = await get(`/${mode}?c=${c}&u=${u}`);
      if (mode !== 'stream') assert.equal(header(res, 'content-length'), String(Buffer.byteLength(want)));
      assertBody(res, want, `${mode} ${c} × ${u} units`);
    }
  }
});

/** Sends GET `path` and reads nothing yet: the reply waits in the server's queue. */
async function stalled(path: string): Promise<RawConnection> {
  const c = await RawConnection.open(port);
  c.socket.pause();
  await c.write(`GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`);
  return c;
}

/** Reads the reply slowly: 64 KiB at most, then a pause, until it is whole. */
async function readSlowly(c: RawConnection): Promise<RawResponse> {
  let res: RawResponse | undefined;
  c.socket.on('data', () => {
    c.socket.pause();
    setTimeout(() => c.socket.resume(), 1);
  });
  c.socket.resume();
  await c.waitUntil(() => {
    res = parseResponses(c.data, { closed: c.closed }).responses[0];
    return res !== undefined || c.closed;
  }, 30_000, 'the whole reply');
  assert.ok(res, 'the connection closed before the reply was whole');
  return res;
}

test('clients that read a 4 MiB string reply slowly get every byte, while other replies go on', { timeout: 60_000 }, async () => {
  // Whole and streamed, one- and multi-byte; and two scratch-sized strings
  // (16,384 units of '€' is 48 KiB: written from the addon's scratch, which
  // must then stay the pin's while the next replies take another).
  const paths = ['/whole?c=mixed&n=4194304', '/stream?c=emoji&n=4194304', '/stream-length?c=e&n=4194304',
    '/whole?c=euro&u=16384', '/whole?c=lone&u=16384', '/whole?c=ascii&n=4194304'];
  const slow = await Promise.all(paths.map(stalled));
  try {
    await delay(300);
    // Other replies of every size meanwhile, through the same scratch and blocks.
    for (const q of ['c=ascii&u=16384', 'c=emoji&n=16385', 'c=euro&u=16385', 'c=ascii&n=1048576']) {
      const res = await get(`/whole?${q}`);
      assertBody(res, bodyOf(new URLSearchParams(q)), q);
    }
    const replies = await Promise.all(slow.map(readSlowly));
    for (let i = 0; i < paths.length; i++) {
      const want = Buffer.from(bodyOf(new URLSearchParams(paths[i]!.split('?')[1])), 'utf8');
      assert.equal(replies[i]!.body.length, want.length, paths[i]);
      assert.equal(sha(replies[i]!.body), sha(want), paths[i]);
    }
  } finally {
    for (const c of slow) c.destroy();
  }
});

test('scratch-sized string chunks behind a full socket each keep their own bytes', { timeout: 30_000 }, async () => {
  // With a high-water mark above the reply, write() never asks the app to
  // wait: every chunk is queued behind the 4 MiB the client has not read.
  // The three 16,384-unit strings are written from the addon's scratch, and
  // the socket takes none of them: each must stay the pin's while the next
  // is encoded elsewhere, or the client would read the last one three times.
  const parts = ['x'.repeat(4 << 20), '€'.repeat(16384), 'é'.repeat(16384), '😀'.repeat(8192), 'tail'];
  const want = Buffer.from(parts.join(''), 'utf8');
  const options = { listen: '127.0.0.1:0', log: () => {}, highWaterMark: 64 << 20 } as Parameters<typeof serve>[1];
  const s = serve(() => ({ body: (function* () { yield* parts; })() }), options);
  try {
    const c = await RawConnection.open(s.addresses[0]!.port!);
    try {
      c.socket.pause();
      await c.write('GET / HTTP/1.1\r\nHost: t\r\n\r\n');
      await delay(300);
      const res = await readSlowly(c);
      assert.equal(res.body.length, want.length);
      assert.equal(sha(res.body), sha(want));
    } finally {
      c.destroy();
    }
  } finally {
    await s.close(1000);
  }
});
