// Static files over HTTP/1.1, answered by the core: RFC 9110's validators,
// preconditions (13.2.2), ranges (14) and content codings, directories,
// refusals, and the proof that the app is never called for them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serve, type ServerHandle } from 'tsgi';
import { header, parseResponses, rawRequest, tempDir, type RawResponse } from '../helpers/index.js';

let server: ServerHandle;
let port = 0;
let appCalls = 0;
const dir = tempDir('tsgi-static-');
const pub = path.join(dir, 'public');
const big = Buffer.alloc(200_000);
for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 8)) & 0xff;

async function req(target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawResponse> {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: x', 'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  const { data } = await rawRequest(port, lines.join('\r\n') + '\r\n\r\n');
  const { responses } = parseResponses(data, { head: method === 'HEAD', closed: true });
  assert.equal(responses.length, 1, data.toString('latin1'));
  return responses[0]!;
}

before(async () => {
  fs.mkdirSync(path.join(pub, 'docs'), { recursive: true });
  fs.mkdirSync(path.join(pub, 'empty'));
  fs.mkdirSync(path.join(dir, 'check'));
  fs.writeFileSync(path.join(pub, 'hello.txt'), 'hello world\n');
  fs.writeFileSync(path.join(pub, 'hello.txt.gz'), 'pretend gzip');
  fs.writeFileSync(path.join(pub, 'hello.txt.br'), 'pretend brotli');
  fs.writeFileSync(path.join(pub, 'style.css'), 'body{}');
  fs.writeFileSync(path.join(pub, 'app.js'), 'export {}');
  fs.writeFileSync(path.join(pub, 'image.png'), 'png');
  fs.writeFileSync(path.join(pub, 'big.bin'), big);
  fs.writeFileSync(path.join(pub, 'docs', 'index.html'), '<p>docs</p>');
  fs.writeFileSync(path.join(pub, '.env'), 'SECRET=1');
  fs.writeFileSync(path.join(pub, 'favicon.ico'), 'ico');
  fs.writeFileSync(path.join(pub, 'empty.txt'), '');
  fs.writeFileSync(path.join(dir, 'check', 'robots.txt'), 'User-agent: *');
  fs.utimesSync(path.join(pub, 'hello.txt'), 1_700_000_000, 1_700_000_000);
  server = await serve(() => {
    appCalls++;
    return { status: 200, headers: { 'content-type': 'text/plain' }, body: 'from the app' };
  }, {
    listen: '127.0.0.1:0', log: () => {},
    static: {
      map: { '/static': pub, '/favicon.ico': path.join(pub, 'favicon.ico') },
      check: [path.join(dir, 'check')],
      index: ['index.html'],
      expiresType: { 'image/': 86400 },
    },
  });
  port = server.addresses[0]!.port!;
});

after(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('a file', () => {
  test('200 with its validators, type and length; the app is not called', async () => {
    const before = appCalls;
    const r = await req('/static/hello.txt');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'hello world\n');
    assert.equal(header(r, 'content-type'), 'text/plain; charset=utf-8');
    assert.equal(header(r, 'content-length'), '12');
    assert.equal(header(r, 'last-modified'), 'Tue, 14 Nov 2023 22:13:20 GMT');
    assert.match(header(r, 'etag')!, /^"[0-9a-f]+-c-[0-9a-f]+"$/);
    assert.equal(header(r, 'accept-ranges'), 'bytes');
    assert.equal(header(r, 'vary'), 'Accept-Encoding');
    assert.equal(appCalls, before);
  });

  test('types from mime-db, charset for text', async () => {
    assert.equal(header(await req('/static/style.css'), 'content-type'), 'text/css; charset=utf-8');
    assert.equal(header(await req('/static/app.js'), 'content-type'), 'text/javascript; charset=utf-8');
    assert.equal(header(await req('/static/image.png'), 'content-type'), 'image/png');
    assert.equal(header(await req('/static/big.bin'), 'content-type'), 'application/octet-stream');
  });

  test('a large file (sendfile) arrives whole; HEAD has the length and no body', async () => {
    const r = await req('/static/big.bin');
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(big));
    const h = await req('/static/big.bin', {}, 'HEAD');
    assert.equal(h.status, 200);
    assert.equal(header(h, 'content-length'), String(big.length));
    assert.equal(h.body.length, 0);
  });

  test('an empty file', async () => {
    const r = await req('/static/empty.txt');
    assert.equal(r.status, 200);
    assert.equal(header(r, 'content-length'), '0');
  });

  test('a map to one file', async () => {
    const r = await req('/favicon.ico');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'ico');
    assert.equal((await req('/favicon.ico/x')).status, 404);
  });

  test('Cache-Control and Expires by type', async () => {
    const r = await req('/static/image.png');
    assert.equal(header(r, 'cache-control'), 'max-age=86400');
    assert.ok(Date.parse(header(r, 'expires')!) > Date.now() + 86000_000);
    assert.equal(header(await req('/static/style.css'), 'cache-control'), undefined);
  });
});

describe('preconditions (RFC 9110 13.2.2)', () => {
  const etag = async () => header(await req('/static/hello.txt'), 'etag')!;

  test('If-None-Match: 304 with the validators, no body', async () => {
    const tag = await etag();
    const r = await req('/static/hello.txt', { 'If-None-Match': tag });
    assert.equal(r.status, 304);
    assert.equal(header(r, 'etag'), tag);
    assert.equal(header(r, 'vary'), 'Accept-Encoding');
    assert.equal(r.body.length, 0);
    assert.equal((await req('/static/hello.txt', { 'If-None-Match': `"x", W/${tag}` })).status, 304);
    assert.equal((await req('/static/hello.txt', { 'If-None-Match': '*' })).status, 304);
    assert.equal((await req('/static/hello.txt', { 'If-None-Match': '"other"' })).status, 200);
  });

  test('If-Modified-Since: 304 when not newer; ignored beside If-None-Match', async () => {
    const lm = 'Tue, 14 Nov 2023 22:13:20 GMT';
    assert.equal((await req('/static/hello.txt', { 'If-Modified-Since': lm })).status, 304);
    assert.equal((await req('/static/hello.txt', { 'If-Modified-Since': 'Tue, 14 Nov 2023 22:13:19 GMT' })).status, 200);
    assert.equal((await req('/static/hello.txt', { 'If-Modified-Since': 'garbage' })).status, 200);
    assert.equal((await req('/static/hello.txt', { 'If-Modified-Since': lm, 'If-None-Match': '"other"' })).status, 200);
  });

  test('If-Match and If-Unmodified-Since: 412', async () => {
    const tag = await etag();
    assert.equal((await req('/static/hello.txt', { 'If-Match': tag })).status, 200);
    assert.equal((await req('/static/hello.txt', { 'If-Match': '"other"' })).status, 412);
    assert.equal((await req('/static/hello.txt', { 'If-Match': `W/${tag}` })).status, 412);
    assert.equal((await req('/static/hello.txt', { 'If-Unmodified-Since': 'Tue, 14 Nov 2023 22:13:19 GMT' })).status, 412);
    assert.equal((await req('/static/hello.txt', { 'If-Unmodified-Since': 'Tue, 14 Nov 2023 22:13:20 GMT' })).status, 200);
    // Step 1 before step 3: a failed If-Match is 412 even if If-None-Match would be 304.
    assert.equal((await req('/static/hello.txt', { 'If-Match': '"other"', 'If-None-Match': tag })).status, 412);
  });
});

describe('ranges (RFC 9110 14)', () => {
  test('one range: 206 with Content-Range', async () => {
    const r = await req('/static/big.bin', { Range: 'bytes=100-199' });
    assert.equal(r.status, 206);
    assert.equal(header(r, 'content-range'), `bytes 100-199/${big.length}`);
    assert.ok(r.body.equals(big.subarray(100, 200)));
    const s = await req('/static/big.bin', { Range: 'bytes=-10' });
    assert.ok(s.body.equals(big.subarray(big.length - 10)));
    const small = await req('/static/hello.txt', { Range: 'bytes=6-' });
    assert.equal(small.status, 206);
    assert.equal(small.body.toString(), 'world\n');
  });

  test('several ranges: multipart/byteranges', async () => {
    const r = await req('/static/big.bin', { Range: 'bytes=0-9,1000-1009,-5' });
    assert.equal(r.status, 206);
    const m = /^multipart\/byteranges; boundary=(.+)$/.exec(header(r, 'content-type')!);
    assert.ok(m);
    assert.equal(Number(header(r, 'content-length')), r.body.length);
    const parts = r.body.toString('latin1').split(`--${m[1]}`);
    assert.equal(parts.length, 5);  // '', three parts, '--\r\n'
    assert.equal(parts[4], '--\r\n');
    const want: Array<[number, number]> = [[0, 9], [1000, 1009], [big.length - 5, big.length - 1]];
    want.forEach(([a, b], i) => {
      const part = parts[i + 1]!;
      assert.ok(part.includes(`Content-Range: bytes ${a}-${b}/${big.length}\r\n`), part);
      assert.ok(part.includes('Content-Type: application/octet-stream\r\n'));
      const body = Buffer.from(part.slice(part.indexOf('\r\n\r\n') + 4).replace(/\r\n$/, ''), 'latin1');
      assert.ok(body.equals(big.subarray(a, b + 1)), `part ${i}`);
    });
  });

  test('several ranges of a small (in-memory) file', async () => {
    const r = await req('/static/hello.txt', { Range: 'bytes=0-4,6-10' });
    assert.equal(r.status, 206);
    assert.match(r.body.toString(), /hello[\s\S]*world/);
  });

  test('unsatisfiable: 416 with bytes */length', async () => {
    const r = await req('/static/big.bin', { Range: `bytes=${big.length}-` });
    assert.equal(r.status, 416);
    assert.equal(header(r, 'content-range'), `bytes */${big.length}`);
  });

  test('ignored: a bad Range, a HEAD, a stale If-Range', async () => {
    assert.equal((await req('/static/big.bin', { Range: 'bytes=5-1' })).status, 200);
    assert.equal((await req('/static/big.bin', { Range: 'lines=1-2' })).status, 200);
    assert.equal((await req('/static/big.bin', { Range: 'bytes=0-1' }, 'HEAD')).status, 200);
    const tag = header(await req('/static/big.bin'), 'etag')!;
    assert.equal((await req('/static/big.bin', { Range: 'bytes=0-1', 'If-Range': tag })).status, 206);
    const stale = await req('/static/big.bin', { Range: 'bytes=0-1', 'If-Range': '"old"' });
    assert.equal(stale.status, 200);
    assert.equal(stale.body.length, big.length);
  });
});

describe('content codings', () => {
  test('brotli or gzip sibling by Accept-Encoding q-values, with Vary', async () => {
    const br = await req('/static/hello.txt', { 'Accept-Encoding': 'gzip, br' });
    assert.equal(header(br, 'content-encoding'), 'br');
    assert.equal(br.body.toString(), 'pretend brotli');
    assert.equal(header(br, 'content-type'), 'text/plain; charset=utf-8');
    const gz = await req('/static/hello.txt', { 'Accept-Encoding': 'gzip, br;q=0.5' });
    assert.equal(header(gz, 'content-encoding'), 'gzip');
    const id = await req('/static/hello.txt', { 'Accept-Encoding': 'identity' });
    assert.equal(header(id, 'content-encoding'), undefined);
    assert.equal(header(id, 'vary'), 'Accept-Encoding');
    assert.notEqual(header(br, 'etag'), header(id, 'etag'), 'each representation its own tag');
    assert.equal(header(await req('/static/style.css', { 'Accept-Encoding': 'gzip' }), 'vary'), undefined);
  });
});

describe('directories and refusals', () => {
  test('a directory redirects to its slash form (query kept), then serves its index', async () => {
    const r = await req('/static/docs?a=1');
    assert.equal(r.status, 301);
    assert.equal(header(r, 'location'), '/static/docs/?a=1');
    const i = await req('/static/docs/');
    assert.equal(i.status, 200);
    assert.equal(i.body.toString(), '<p>docs</p>');
    assert.equal(header(i, 'content-type'), 'text/html; charset=utf-8');
  });

  test('no listing: a directory without an index is 403', async () => {
    assert.equal((await req('/static/empty/')).status, 403);
    assert.equal((await req('/static/')).status, 403);
  });

  test('404 missing, 404 dot-files, 404 a file named as a directory', async () => {
    assert.equal((await req('/static/nope.txt')).status, 404);
    assert.equal((await req('/static/.env')).status, 404);
    assert.equal((await req('/static/hello.txt/')).status, 404);
  });

  test('403 unreadable', { skip: process.getuid?.() === 0 ? 'root reads every file' : false }, async () => {
    const f = path.join(pub, 'locked.txt');
    fs.writeFileSync(f, 'x');
    fs.chmodSync(f, 0);
    assert.equal((await req('/static/locked.txt')).status, 403);
  });

  test('405 for other methods, with Allow', async () => {
    for (const m of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const r = await req('/static/hello.txt', { 'Content-Length': '0' }, m);
      assert.equal(r.status, 405, m);
      assert.equal(header(r, 'allow'), 'GET, HEAD');
    }
  });
});

describe('--check-static', () => {
  test('a file that exists is served; anything else goes to the app', async () => {
    const before = appCalls;
    const r = await req('/robots.txt');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'User-agent: *');
    assert.equal(appCalls, before);
    assert.equal((await req('/nope')).body.toString(), 'from the app');
    assert.equal((await req('/robots.txt', { 'Content-Length': '0' }, 'POST')).body.toString(), 'from the app');
    assert.equal(appCalls, before + 2);
  });
});

test('keep-alive and pipelining: static and app replies in order on one connection', async () => {
  const reqs = ['/static/hello.txt', '/app', '/static/big.bin', '/static/nope', '/favicon.ico']
    .map((p, i, all) => `GET ${p} HTTP/1.1\r\nHost: x\r\n${i === all.length - 1 ? 'Connection: close\r\n' : ''}\r\n`);
  const { data } = await rawRequest(port, reqs.join(''), { timeoutMs: 5000 });
  const { responses } = parseResponses(data, { closed: true });
  assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 404, 200]);
  assert.equal(responses[1]!.body.toString(), 'from the app');
  assert.ok(responses[2]!.body.equals(big));
});

test('after a static reply a kept-alive connection idles under the keep-alive timeout', async () => {
  const s = await serve(() => ({ body: 'app' }), {
    listen: '127.0.0.1:0', log: () => {}, keepAliveTimeout: 300, headerTimeout: 20_000,
    static: { map: { '/static': pub } },
  });
  try {
    const started = Date.now();
    const { data, closed } = await rawRequest(s.addresses[0]!.port!, 'GET /static/hello.txt HTTP/1.1\r\nHost: x\r\n\r\n',
      { timeoutMs: 5000 });
    assert.ok(closed, 'the server closed the idle connection');
    assert.ok(Date.now() - started < 4000, `closed after ${Date.now() - started} ms`);
    assert.equal(parseResponses(data, { closed: true }).responses[0]!.status, 200);
  } finally {
    await s.close();
  }
});
