// req.body.read(into): the body's next bytes written into the app's own
// memory. Byte-exact over every protocol, whatever the size of the app's
// memory against the body's (smaller, equal, larger, one byte), however the
// bytes are cut into writes, read at once or late (buffered first), with a
// Content-Length or chunked; a read returns as soon as some bytes came, never
// more than fit, and 0 at the end (again after it). A body is read one way
// only, and one read at a time. A client leaving mid-body fails the read and
// the server goes on; a reply sent before the body is read keeps the
// connection; memory reused from request to request gets every body right.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { serve, type App, type Body, type ServerHandle } from 'tsgi';
import { delay, digest, pattern, RawConnection, type RawResponse, rng } from '../helpers/index.js';
import { ask, targetOf, scgiGood, uwsgiRequest, type Target } from '../helpers/cgi-client.js';
import { FcgiConnection, fcgiVars, parseStdout, PROTOCOL_STATUS, request, ROLE, stream, T } from '../helpers/fcgi-client.js';

const K = 1024;
// One Buffer for the requests that ask for it (?shared): reused request after
// request, as an app that allocates nothing per body would.
const SHARED = Buffer.alloc(16 * K);

/** Reads the body with read(into) until 0, checking each count; its length, digest and how many reads. */
async function readAll(body: Body, into: Uint8Array, slow: boolean): Promise<string> {
  const h = createHash('sha256');
  let total = 0;
  let reads = 0;
  for (;;) {
    const n = await body.read(into);
    if (!Number.isInteger(n) || n < 0 || n > into.byteLength) throw new Error(`read returned ${n} into ${into.byteLength}`);
    if (n === 0) break;
    h.update(into.subarray(0, n));
    total += n;
    reads++;
    // A reader slower than the client, for its first 300 reads (a read of 3
    // bytes at a time would otherwise take minutes).
    if (slow && reads % 3 === 0 && reads <= 300) await delay(1);
  }
  const again = await body.read(into);
  return `${total} ${h.digest('hex')} again=${again} done=${body.done}`;
}

let aborts = 0;
const app: App = async (req) => {
  if (req.REQUEST_METHOD === 'GET') return { body: 'got' };
  const q = new URLSearchParams(req.QUERY_STRING);
  req.signal.addEventListener('abort', () => { aborts++; });
  if (q.has('late')) await delay(Number(q.get('late')));
  switch (req.PATH_INFO) {
    case '/read': {
      const into = q.has('shared') ? SHARED : Buffer.alloc(Number(q.get('into') ?? 64 * K));
      return { body: await readAll(req.body, into, q.has('slow')) };
    }
    case '/one': {
      // One read, then the reply: the rest of the body is never asked for.
      const n = await req.body.read(Buffer.alloc(Number(q.get('into') ?? 100)));
      return { body: `one ${n}` };
    }
    case '/rules': {
      const out: string[] = [];
      const code = (err: unknown) => (err as { code?: string; name?: string }).code ?? (err as Error).name;
      await req.body.read(new Uint8Array(0)).catch((err: unknown) => out.push(code(err)));
      await req.body.read('x' as unknown as Uint8Array).catch((err: unknown) => out.push(code(err)));
      const into = Buffer.alloc(8);
      const first = req.body.read(into);
      await req.body.read(Buffer.alloc(8)).catch((err: unknown) => out.push(code(err)));
      out.push(String(await first));
      await req.body.bytes().catch((err: unknown) => out.push(code(err)));
      await req.body.text().catch((err: unknown) => out.push(code(err)));
      try {
        for await (const _ of req.body) out.push('iterated');
      } catch (err) {
        out.push(code(err));
      }
      let n = 0;
      for (let r; (r = await req.body.read(into)) > 0;) n += r;
      out.push(String(n));
      return { body: out.join(' ') };
    }
    case '/after-bytes': {
      const b = await req.body.bytes();
      const err = await req.body.read(Buffer.alloc(8)).then(() => 'read', (e: { code?: string }) => e.code);
      return { body: `${b.byteLength} ${err}` };
    }
    case '/filter': {
      // FILTER's DATA stream has no fill: read() copies from the pieces it delivers.
      const body = await readAll(req.body, Buffer.alloc(1000), false);
      const data = await readAll(req.data!, Buffer.alloc(Number(q.get('into'))), q.has('slow'));
      return { body: `${body} | ${data}` };
    }
    case '/abort': {
      try {
        await readAll(req.body, Buffer.alloc(4 * K), false);
        return { body: 'read whole' };
      } catch (err) {
        abortedReads.push((err as { code?: string }).code ?? 'error');
        throw err;
      }
    }
  }
  return { status: 404, body: 'no' };
};
const abortedReads: string[] = [];

/** The head of a POST to `target` of `length` bytes (and `fields`, each ending in CRLF). */
function head(target: string, length: number, fields = ''): string {
  return `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n${fields}\r\n`;
}

/** A POST of `body` to `target`, head and body. */
function post(target: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(head(target, body.length)), body]);
}

function expected(body: Buffer): string {
  return `${body.length} ${digest(body)} again=0 done=true`;
}

function expectRead(res: RawResponse | undefined, body: Buffer, what: string): void {
  assert.ok(res, `${what}: no reply`);
  assert.equal(res.status, 200, `${what}: ${res.body.toString()}`);
  assert.equal(res.body.toString(), expected(body), what);
}

/** `body` chunked in random sizes up to maxChunk, with a trailer. */
function chunked(body: Buffer, random: () => number, maxChunk: number): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at < body.length;) {
    const n = Math.min(body.length - at, 1 + Math.floor(random() * maxChunk));
    out.push(Buffer.from(`${n.toString(16)}\r\n`), body.subarray(at, at + n), Buffer.from('\r\n'));
    at += n;
  }
  out.push(Buffer.from('0\r\nX-Trailer: t\r\n\r\n'));
  return Buffer.concat(out);
}

async function writeInPieces(c: { write(b: Buffer): Promise<void> }, data: Buffer, random: () => number, maxPiece: number) {
  for (let at = 0; at < data.length;) {
    const n = Math.min(data.length - at, 1 + Math.floor(random() * maxPiece));
    await c.write(data.subarray(at, at + n));
    at += n;
    if (random() < 0.2) await delay(1);
  }
}

const SIZES = [1, 7, 4 * K, 16 * K - 1, 16 * K, 16 * K + 1, 64 * K, 64 * K + 3, 300 * K, 1024 * K];
const INTO = [1, 13, 4 * K, 16 * K, 64 * K, 2 * 1024 * K];

describe('req.body.read(into)', () => {
  let server: ServerHandle;
  let http: number;
  let uwsgi: Target;
  let scgi: Target;
  let fastcgi: Target;

  before(() => {
    server = serve(app, {
      listen: ['127.0.0.1:0', 'uwsgi://127.0.0.1:0', 'scgi://127.0.0.1:0', 'fastcgi://127.0.0.1:0'],
      log: () => {},
    });
    const of = (p: string) => targetOf(server, p);
    http = (of('http') as { port: number }).port;
    uwsgi = of('uwsgi');
    scgi = of('scgi');
    fastcgi = of('fastcgi');
  });
  after(() => server.close(2000));

  /** `fn` on a new connection to the HTTP listener, closed after it. */
  async function onConnection(fn: (c: RawConnection) => Promise<void>): Promise<void> {
    const c = await RawConnection.open(http);
    try {
      await fn(c);
    } finally {
      c.destroy();
    }
  }

  test('HTTP, Content-Length: every size of body against every size of memory, on one kept connection', {
    timeout: 60_000,
  }, async () => {
    await onConnection(async (c) => {
      let served = 0;
      for (const size of SIZES) {
        for (const into of INTO) {
          if (into === 1 && size > 64 * K) continue;  // a million reads prove nothing more
          const body = pattern(size, size + into);
          await c.write(post(`/read?into=${into}`, body));
          const res = (await c.responses(++served, { timeoutMs: 20_000 }))[served - 1];
          expectRead(res, body, `${size} bytes into ${into}`);
        }
      }
    });
  });

  test('HTTP: bodies cut into random writes, read at once, late (buffered first) and slowly', { timeout: 60_000 }, async () => {
    const random = rng(7);
    for (const mode of ['', '&late=40', '&slow']) {
      await onConnection(async (c) => {
        let served = 0;
        for (const size of [1, 5000, 64 * K, 200 * K]) {
          for (const into of [3, 4 * K, 64 * K]) {
            const body = pattern(size, into);
            await c.write(head(`/read?into=${into}${mode}`, size));
            await writeInPieces(c, body, random, 20_000);
            const res = (await c.responses(++served, { timeoutMs: 20_000 }))[served - 1];
            expectRead(res, body, `${size} into ${into}${mode}`);
          }
        }
      });
    }
  });

  test('HTTP, chunked: random chunks in random writes, then a pipelined GET', { timeout: 60_000 }, async () => {
    const random = rng(11);
    await onConnection(async (c) => {
      let served = 0;
      for (const size of [0, 1, 9000, 64 * K + 1, 700 * K]) {
        for (const into of [5, 16 * K, 64 * K]) {
          for (const late of ['', '&late=30']) {
            const body = pattern(size, 3);
            const wire = chunked(body, random, 40_000);
            await c.write(`POST /read?into=${into}${late} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
            await writeInPieces(c, Buffer.concat([wire, Buffer.from('GET /x HTTP/1.1\r\nHost: x\r\n\r\n')]), random, 30_000);
            const got = await c.responses(served + 2, { timeoutMs: 20_000 });
            expectRead(got[served], body, `chunked ${size} into ${into}${late}`);
            assert.equal(got[served + 1]!.body.toString(), 'got');
            served += 2;
          }
        }
      }
    });
  });

  test('HTTP: memory reused from request to request, on many connections at once', { timeout: 60_000 }, async () => {
    // One request at a time per connection, so the shared Buffer is never read twice at once.
    await onConnection(async (c) => {
      for (let i = 0; i < 40; i++) {
        const body = pattern(1 + ((i * 7919) % (100 * K)), i);
        await c.write(post('/read?shared', body));
        const res = (await c.responses(i + 1, { timeoutMs: 10_000 }))[i];
        expectRead(res, body, `request ${i}`);
      }
    });
    // Many connections, each request with its own memory.
    await Promise.all(Array.from({ length: 16 }, async (_, j) => {
      await onConnection(async (cc) => {
        for (let i = 0; i < 5; i++) {
          const body = pattern(30 * K + j * 1000 + i, j * 5 + i);
          await cc.write(post(`/read?into=${8 * K}`, body));
          expectRead((await cc.responses(i + 1, { timeoutMs: 10_000 }))[i], body, `connection ${j} request ${i}`);
        }
      });
    }));
  });

  test('HTTP: Expect: 100-continue goes out at the first read', async () => {
    await onConnection(async (c) => {
      const body = pattern(50 * K, 1);
      await c.write(head(`/read?into=${4 * K}`, body.length, 'Expect: 100-continue\r\n'));
      await c.waitUntil(() => c.data.toString('latin1').startsWith('HTTP/1.1 100 Continue\r\n\r\n'), 5000, '100');
      await c.write(body);
      const got = await c.responses(1);
      expectRead(got.find((r) => r.status === 200), body, '100-continue');
    });
  });

  test('one read, then the reply: the connection goes on (the rest is discarded)', async () => {
    await onConnection(async (c) => {
      const body = pattern(40 * K, 2);
      await c.write(Buffer.concat([post('/one?into=100', body), Buffer.from('GET /x HTTP/1.1\r\nHost: x\r\n\r\n')]));
      const got = await c.responses(2);
      assert.equal(got[0]!.body.toString(), 'one 100');
      assert.equal(got[1]!.body.toString(), 'got');
    });
  });

  test('a body is read one way only, one read at a time', async () => {
    await onConnection(async (c) => {
      const body = pattern(20, 3);
      await c.write(post('/rules', body));
      await c.write(post('/after-bytes', body));
      const got = await c.responses(2);
      assert.equal(got[0]!.body.toString(), 'RangeError TypeError TSGI_ERR_BODY_CONSUMED 8 ' +
        'TSGI_ERR_BODY_CONSUMED TSGI_ERR_BODY_CONSUMED TSGI_ERR_BODY_CONSUMED 12');
      assert.equal(got[1]!.body.toString(), '20 TSGI_ERR_BODY_CONSUMED');
    });
  });

  test('a client leaving mid-body fails the read; the server goes on', async () => {
    const before = aborts;
    abortedReads.length = 0;
    for (const te of [false, true]) {
      const c = await RawConnection.open(http);
      const framing = te ? 'Transfer-Encoding: chunked' : 'Content-Length: 100000';
      await c.write(`POST /abort HTTP/1.1\r\nHost: x\r\n${framing}\r\n\r\n`);
      await c.write(te ? Buffer.concat([Buffer.from('2000\r\n'), pattern(0x2000, 4)]) : pattern(30_000, 4));
      await delay(50);
      c.destroy();
    }
    await delay(200);
    assert.equal(aborts - before, 2);
    assert.deepEqual(abortedReads, ['TSGI_ERR_BODY_ABORTED', 'TSGI_ERR_BODY_ABORTED']);
    await onConnection(async (c) => {
      await c.write('GET /x HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal((await c.responses(1))[0]!.body.toString(), 'got');
    });
  });

  for (const style of ['uwsgi', 'scgi'] as const) {
    test(`${style}: every size of body against several sizes of memory, in random writes`, { timeout: 60_000 }, async () => {
      const random = rng(style === 'uwsgi' ? 3 : 5);
      const target = style === 'uwsgi' ? uwsgi : scgi;
      for (const size of [1, 4 * K + 1, 64 * K, 300 * K]) {
        for (const into of [7, 16 * K, 64 * K]) {
          for (const late of ['', '&late=30']) {
            const body = pattern(size, into + 1);
            const uri = `/read?into=${into}${late}`;
            const wire = style === 'uwsgi' ? uwsgiRequest(uri, { method: 'POST', body }) : scgiGood(uri, { method: 'POST', body });
            const pieces: Buffer[] = [];
            for (let at = 0; at < wire.length;) {
              const n = Math.min(wire.length - at, 1 + Math.floor(random() * 50_000));
              pieces.push(wire.subarray(at, at + n));
              at += n;
            }
            const reply = await ask(target, style, pieces, { timeoutMs: 20_000 });
            assert.equal(reply.status, 200, `${style} ${size} into ${into}${late}`);
            assert.equal(reply.body.toString(), expected(body), `${style} ${size} into ${into}${late}`);
          }
        }
      }
    });
  }

  test('FastCGI: STDIN records of every size, read at once and late, on a kept connection', { timeout: 60_000 }, async () => {
    const random = rng(13);
    const c = await FcgiConnection.open(fastcgi);
    try {
      let id = 0;
      for (const size of [1, 9000, 65_535, 65_536, 400 * K]) {
        for (const into of [3, 16 * K, 64 * K]) {
          for (const late of ['', '&late=30']) {
            const body = pattern(size, into + 2);
            const uri = `/read?into=${into}${late}`;
            const wire = request(++id, fcgiVars(uri, { method: 'POST', body }), { body, keepConn: true });
            await writeInPieces(c, wire, random, 40_000);
            const a = await c.answer(id, 20_000);
            assert.deepEqual(a.end, { appStatus: 0, protocolStatus: PROTOCOL_STATUS.REQUEST_COMPLETE });
            assert.equal(parseStdout(a.stdout).body.toString(), expected(body), `FastCGI ${size} into ${into}${late}`);
          }
        }
      }
    } finally {
      c.raw.destroy();
    }
  });

  test('FastCGI FILTER: the DATA stream read with read(into), its pieces copied in', { timeout: 30_000 }, async () => {
    const c = await FcgiConnection.open(fastcgi);
    try {
      let id = 100;
      for (const [size, into, slow] of [[1, 5, ''], [100_000, 7, ''], [3 << 20, 64 * K, ''], [1 << 20, 10_000, '&slow']] as const) {
        const data = pattern(size, 9);
        const body = pattern(2500, 1);
        const vars = fcgiVars(`/filter?into=${into}${slow}`, { method: 'POST', body, extra: [['DATA_LENGTH', String(size)]] });
        await c.write(Buffer.concat([request(++id, vars, { role: ROLE.FILTER, body, keepConn: true }),
          stream(T.DATA, id, data, { maxRecord: 30_000 })]));
        const a = await c.answer(id, 20_000);
        assert.deepEqual(a.end, { appStatus: 0, protocolStatus: PROTOCOL_STATUS.REQUEST_COMPLETE });
        assert.equal(parseStdout(a.stdout).body.toString(), `${expected(body)} | ${expected(data)}`, `DATA ${size} into ${into}${slow}`);
      }
    } finally {
      c.raw.destroy();
    }
  });
});
