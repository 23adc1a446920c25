// The server-side conformance suite of TSGI 1.0 (docs/tsgi.md): each rule the
// spec states for servers, checked over every front protocol tsgi speaks.
// Section numbers are the spec's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { seal, TsgiError, TSGI_VERSION, type App, type Middleware, type Request } from 'tsgi';
import { tempDir } from '../helpers/index.js';
import { get, PROTOCOLS, send, withEvery } from './client.js';

const json = (v: unknown) => ({ headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(v) });

test('§2.1 meta-variables: the CGI names, PATH_INFO decoded, QUERY_STRING not, CONTENT_*, GATEWAY_INTERFACE, SERVER_SOFTWARE, HTTP_*', { timeout: 20_000 }, async () => {
  const app: App = async (req) => {
    const body = await req.body.text();
    return json({
      REQUEST_METHOD: req.REQUEST_METHOD, SCRIPT_NAME: req.SCRIPT_NAME, PATH_INFO: req.PATH_INFO,
      QUERY_STRING: req.QUERY_STRING, REQUEST_URI: req.REQUEST_URI, CONTENT_TYPE: req.CONTENT_TYPE,
      CONTENT_LENGTH: req.CONTENT_LENGTH, SERVER_PROTOCOL: req.SERVER_PROTOCOL,
      GATEWAY_INTERFACE: req.var('GATEWAY_INTERFACE'), SERVER_SOFTWARE: req.var('SERVER_SOFTWARE'),
      HTTP_X_TRACE: req.var('HTTP_X_TRACE'), none: req.var('NO_SUCH_VARIABLE') ?? null,
      viaVars: req.vars().REQUEST_METHOD, types: [req.SERVER_NAME, req.SERVER_PORT, req.REMOTE_ADDR, req.REMOTE_PORT].map((v) => typeof v),
      body,
    });
  };
  await withEvery(app, async ({ target }) => {
    for (const p of PROTOCOLS) {
      const a = await send(p, target[p], {
        method: 'POST', uri: '/a%20b/c?x=%20y&z', body: 'hello',
        headers: [['Content-Type', 'text/plain'], ['X-Trace', 'abc']],
      });
      assert.equal(a.status, 200, `${p}: ${a.head}`);
      const v = JSON.parse(a.body.toString()) as Record<string, unknown>;
      assert.deepEqual(v, {
        REQUEST_METHOD: 'POST', SCRIPT_NAME: '', PATH_INFO: '/a b/c', QUERY_STRING: 'x=%20y&z',
        REQUEST_URI: '/a%20b/c?x=%20y&z', CONTENT_TYPE: 'text/plain', CONTENT_LENGTH: '5',
        SERVER_PROTOCOL: 'HTTP/1.1', GATEWAY_INTERFACE: 'CGI/1.1', SERVER_SOFTWARE: v.SERVER_SOFTWARE,
        HTTP_X_TRACE: 'abc', none: null, viaVars: 'POST', types: ['string', 'string', 'string', 'string'], body: 'hello',
      }, p);
      assert.equal(v.SERVER_SOFTWARE, 'tsgi', `${p}: the name, no version to advertise`);
    }
  });
});

test('§2.2 headers: header() is case-insensitive and joins repeats; headers lists pairs', { timeout: 20_000 }, async () => {
  const app: App = (req) => json({
    one: req.header('x-one'), ONE: req.header('X-ONE'), missing: req.header('x-missing') ?? null,
    pairs: req.headers.filter(([n]) => n.toLowerCase().startsWith('x-')).map(([n, v]) => [n.toLowerCase(), v]),
  });
  await withEvery(app, async ({ target }) => {
    for (const p of PROTOCOLS) {
      const a = await send(p, target[p], { uri: '/', headers: [['X-One', 'first'], ['X-Two', '2']] });
      const v = JSON.parse(a.body.toString()) as Record<string, unknown>;
      assert.deepEqual(v, { one: 'first', ONE: 'first', missing: null, pairs: [['x-one', 'first'], ['x-two', '2']] }, p);
    }
  });
});

test('§2.2 a header whose name contains "_" is dropped (HTTP: the server maps names itself)', { timeout: 10_000 }, async () => {
  const app: App = (req) => json({ dashed: req.var('HTTP_X_FORWARDED_FOR') ?? null, raw: req.header('x_forwarded_for') ?? null });
  await withEvery(app, async ({ target }) => {
    const a = await send('http', target.http, { uri: '/', headers: [['X_Forwarded_For', '6.6.6.6']] });
    assert.deepEqual(JSON.parse(a.body.toString()), { dashed: null, raw: null });
  });
});

test('§2.3 req.tsgi: version [1, 3], the front protocol, the hosting facts', { timeout: 10_000 }, async () => {
  const app: App = (req) => json({ ...req.tsgi });
  await withEvery(app, async ({ target }) => {
    assert.deepEqual([...TSGI_VERSION], [1, 3]);
    for (const p of PROTOCOLS) {
      const v = JSON.parse((await send(p, target[p], { uri: '/' })).body.toString()) as Record<string, unknown>;
      assert.deepEqual(v.version, [1, 3], p);
      assert.equal(v.protocol, p);
      assert.equal(v.url_scheme, 'http', p);
      assert.equal(v.run_once, false, p);
      assert.equal(typeof v.multiprocess, 'boolean', p);
      assert.equal(typeof v.multithread, 'boolean', p);
      assert.equal(v.role, p === 'fastcgi' ? 'responder' : undefined, p);
    }
  });
});

test('§2.4 the body: streamed in chunks, read once (a second read rejects), limited readers answer 413 and 400', { timeout: 20_000 }, async () => {
  const big = randomBytes(300_000);
  const app: App = async (req) => {
    const route = req.PATH_INFO;
    if (route === '/stream') {
      let n = 0;
      for await (const chunk of req.body) n += chunk.byteLength;
      let second = 'none';
      await req.body.bytes().catch((e: unknown) => { second = e instanceof TsgiError ? e.code : 'other'; });
      return json({ n, second, done: req.body.done });
    }
    if (route === '/limit') return { body: String((await req.body.bytes(1000)).length) };
    return json(await req.body.json());
  };
  await withEvery(app, async ({ target }) => {
    for (const p of PROTOCOLS) {
      const s = await send(p, target[p], { method: 'POST', uri: '/stream', body: big });
      assert.deepEqual(JSON.parse(s.body.toString()), { n: big.length, second: 'TSGI_ERR_BODY_CONSUMED', done: true }, p);
      assert.equal((await send(p, target[p], { method: 'POST', uri: '/limit', body: 'x'.repeat(1001) })).status, 413, p);
      assert.equal((await send(p, target[p], { method: 'POST', uri: '/json', body: '{"a":' })).status, 400, p);
      const ok = await send(p, target[p], { method: 'POST', uri: '/json', body: '{"a":[1,2]}' });
      assert.deepEqual(JSON.parse(ok.body.toString()), { a: [1, 2] }, p);
    }
  });
});

test('§2.4 read(into): the next bytes in the app\'s memory, 0 at the end; one way of reading only', { timeout: 20_000 }, async () => {
  const big = randomBytes(300_000);
  const app: App = async (req) => {
    const into = Buffer.alloc(Number(req.QUERY_STRING));
    const h = createHash('sha256');
    let n = 0;
    let reads = 0;
    for (let got; (got = await req.body.read(into)) > 0; reads++) {
      if (got > into.length) throw new Error(`read ${got} into ${into.length}`);
      h.update(into.subarray(0, got));
      n += got;
    }
    let second = 'none';
    await req.body.bytes().catch((e: unknown) => { second = e instanceof TsgiError ? e.code : 'other'; });
    return json({ n, sha: h.digest('hex'), end: await req.body.read(into), second, done: req.body.done, some: reads > 0 });
  };
  const sha = createHash('sha256').update(big).digest('hex');
  await withEvery(app, async ({ target }) => {
    for (const p of PROTOCOLS) {
      for (const size of [1000, 65_536, 400_000]) {
        const s = await send(p, target[p], { method: 'POST', uri: `/?${size}`, body: big });
        assert.deepEqual(JSON.parse(s.body.toString()),
          { n: big.length, sha, end: 0, second: 'TSGI_ERR_BODY_CONSUMED', done: true, some: true }, `${p} into ${size}`);
      }
    }
  });
});

test('§2.5 req.errors.write never disturbs the reply', { timeout: 10_000 }, async () => {
  const app: App = (req) => {
    const more = req.errors.write('diagnostic\n');
    return { body: `written ${typeof more}` };
  };
  await withEvery(app, async ({ target, logs }) => {
    for (const p of PROTOCOLS) assert.equal((await send(p, target[p], { uri: '/e' })).body.toString(), 'written boolean', p);
    await logs.wait(/app stderr on GET \/e: diagnostic/);
  });
});

test('§3 status: 200 by default; a Location without a status is 302; the app\'s status otherwise', { timeout: 10_000 }, async () => {
  const app: App = (req) => req.PATH_INFO === '/loc' ? { headers: { Location: '/elsewhere' } }
    : req.PATH_INFO === '/418' ? { status: 418, body: 'teapot' } : {};
  await withEvery(app, async ({ target }) => {
    for (const p of PROTOCOLS) {
      assert.equal((await send(p, target[p], { uri: '/' })).status, 200, p);
      const loc = await send(p, target[p], { uri: '/loc' });
      assert.equal(loc.status, 302, p);
      assert.deepEqual(get(loc, 'location'), ['/elsewhere'], p);
      assert.equal((await send(p, target[p], { uri: '/418' })).status, 418, p);
    }
  });
});

test('§3 headers: pairs or an object with arrays and numbers; undefined skipped; one name may repeat', { timeout: 10_000 }, async () => {
  const app: App = (req) => req.PATH_INFO === '/pairs'
    ? { headers: [['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2'], ['X-N', '1']] }
    : { headers: { 'Set-Cookie': ['a=1', 'b=2'], 'X-N': 1, 'X-Skip': undefined } };
  await withEvery(app, async ({ target }) => {
    for (const p of PROTOCOLS) {
      for (const uri of ['/pairs', '/object']) {
        const a = await send(p, target[p], { uri });
        assert.deepEqual(get(a, 'set-cookie'), ['a=1', 'b=2'], `${p} ${uri}`);
        assert.deepEqual(get(a, 'x-n'), ['1'], `${p} ${uri}`);
        assert.deepEqual(get(a, 'x-skip'), [], `${p} ${uri}`);
      }
    }
  });
});

test('§3 body kinds: string (UTF-8), bytes, iterable, async iterable, file, null — each arrives exactly', { timeout: 20_000 }, async () => {
  const dir = tempDir('tsgi-conf-file-');
  const file = path.join(dir, 'f.bin');
  const data = randomBytes(100_000);
  fs.writeFileSync(file, data);
  const bodies: Record<string, () => unknown> = {
    '/string': () => 'héllo ✓',
    '/bytes': () => new Uint8Array([0, 1, 2, 255]),
    '/iterable': () => ['a', Buffer.from('b'), 'c'],
    '/async': () => (async function* () { yield 'x'; await new Promise((r) => setTimeout(r, 5)); yield 'y'; })(),
    '/file': () => ({ path: file }),
    '/null': () => null,
  };
  const app: App = (req) => ({ body: bodies[req.PATH_INFO]!() as never });
  await withEvery(app, async ({ target }) => {
    for (const p of PROTOCOLS) {
      const got = async (uri: string) => (await send(p, target[p], { uri })).body;
      assert.equal((await got('/string')).toString('utf8'), 'héllo ✓', p);
      assert.deepEqual([...await got('/bytes')], [0, 1, 2, 255], p);
      assert.equal((await got('/iterable')).toString(), 'abc', p);
      assert.equal((await got('/async')).toString(), 'xy', p);
      assert.ok((await got('/file')).equals(data), `${p}: file`);
      assert.equal((await got('/null')).length, 0, p);
      const s = await send(p, target[p], { uri: '/string' });
      assert.deepEqual(get(s, 'content-length'), [String(Buffer.byteLength('héllo ✓'))], `${p}: a whole body has its length`);
    }
  });
});

test('§3 (1.3) a sealed body: the bytes as they were when sealed, with Content-Length; closed, a 500 before the head', { timeout: 20_000 }, async () => {
  const source = randomBytes(300_000);
  const want = Buffer.from(source);
  const sealed = seal(source);
  source.fill(0);  // the copy was taken when sealing
  const closed = seal('gone');
  closed.close();
  const app: App = (req) => ({ body: req.PATH_INFO === '/closed' ? closed : sealed });
  await withEvery(app, async ({ target, logs }) => {
    for (const p of PROTOCOLS) {
      const r = await send(p, target[p], { uri: '/sealed' });
      assert.equal(r.status, 200, p);
      assert.ok(r.body.equals(want), `${p}: the sealed bytes`);
      assert.deepEqual(get(r, 'content-length'), [String(want.length)], p);
      const h = await send(p, target[p], { method: 'HEAD', uri: '/sealed' });
      assert.equal(h.body.length, 0, `${p}: HEAD has no body`);
      assert.equal((await send(p, target[p], { uri: '/closed' })).status, 500, p);
    }
    await logs.wait(/sealed body was closed/);
  });
  sealed.close();
});

test('§4.1 framing: a streamed body keeps the app\'s Content-Length; more than stated is cut; HTTP/1.1 without one is chunked', { timeout: 20_000 }, async () => {
  const app: App = (req) => {
    if (req.PATH_INFO === '/stated') return { headers: { 'Content-Length': '6' }, body: ['abc', 'def'] };
    if (req.PATH_INFO === '/over') return { headers: { 'Content-Length': '4' }, body: ['abc', 'def'] };
    return { body: ['abc', 'def'] };
  };
  await withEvery(app, async ({ target, logs }) => {
    for (const p of PROTOCOLS) {
      const s = await send(p, target[p], { uri: '/stated' });
      assert.deepEqual(get(s, 'content-length'), ['6'], p);
      assert.equal(s.body.toString(), 'abcdef', p);
      assert.equal((await send(p, target[p], { uri: '/over' })).body.toString(), 'abcd', p);
      const u = await send(p, target[p], { uri: '/unstated' });
      assert.equal(u.body.toString(), 'abcdef', p);
      assert.deepEqual(get(u, 'transfer-encoding'), p === 'http' ? ['chunked'] : [], p);
    }
    await logs.wait(/longer than its Content-Length/);
  });
});

test('§4.2 hop-by-hop fields from the app are not forwarded', { timeout: 10_000 }, async () => {
  const app: App = () => ({
    headers: [['Keep-Alive', 'timeout=5'], ['Transfer-Encoding', 'gzip'], ['TE', 'trailers'], ['Trailer', 'X'],
      ['Upgrade', 'h2c'], ['Proxy-Connection', 'keep-alive'], ['X-Kept', 'yes']],
    body: 'ok',
  });
  await withEvery(app, async ({ target }) => {
    for (const p of PROTOCOLS) {
      const a = await send(p, target[p], { uri: '/' });
      for (const h of ['keep-alive', 'te', 'trailer', 'upgrade', 'proxy-connection']) assert.deepEqual(get(a, h), [], `${p}: ${h}`);
      assert.ok(!get(a, 'transfer-encoding').includes('gzip'), p);
      assert.deepEqual(get(a, 'x-kept'), ['yes'], p);
      assert.equal(a.body.toString(), 'ok', p);
    }
  });
});

test('§4.3 a header that could split the reply is refused: 500, never a split reply', { timeout: 10_000 }, async () => {
  const app: App = (req) => ({ headers: req.PATH_INFO === '/name' ? [['Bad Name', 'x']] : [['X-Evil', 'a\r\nSet-Cookie: pwned=1']] });
  await withEvery(app, async ({ target }) => {
    for (const p of PROTOCOLS) {
      for (const uri of ['/name', '/value']) {
        const a = await send(p, target[p], { uri });
        assert.equal(a.status, 500, `${p} ${uri}`);
        assert.deepEqual(get(a, 'set-cookie'), [], `${p} ${uri}`);
      }
    }
  });
});

test('§4.4 no body after HEAD, 204, 304; HEAD keeps the stated Content-Length', { timeout: 10_000 }, async () => {
  const app: App = (req) => req.PATH_INFO === '/204' ? { status: 204, body: 'nope' }
    : req.PATH_INFO === '/304' ? { status: 304, body: 'nope' } : { body: 'twelve bytes' };
  await withEvery(app, async ({ target }) => {
    for (const p of PROTOCOLS) {
      const h = await send(p, target[p], { method: 'HEAD', uri: '/' });
      assert.equal(h.body.length, 0, p);
      assert.deepEqual(get(h, 'content-length'), ['12'], p);
      for (const uri of ['/204', '/304']) assert.equal((await send(p, target[p], { uri })).body.length, 0, `${p} ${uri}`);
    }
  });
});

test('§4.5 an app that throws, rejects, or whose body fails before its first chunk: 500 with a fixed body; a 4xx TsgiError keeps its status', { timeout: 20_000 }, async () => {
  const app: App = (req) => {
    switch (req.PATH_INFO) {
      case '/throw': throw new Error('secret detail at /srv/app.js:1');
      case '/reject': return Promise.reject(new Error('secret detail'));
      case '/body': return { body: (async function* () { throw new Error('secret detail'); })() };
      default: throw new TsgiError('TSGI_ERR_BODY_TOO_LARGE', 'limit');
    }
  };
  await withEvery(app, async ({ target, logs }) => {
    for (const p of PROTOCOLS) {
      for (const uri of ['/throw', '/reject', '/body']) {
        const a = await send(p, target[p], { uri });
        assert.equal(a.status, 500, `${p} ${uri}`);
        assert.doesNotMatch(a.body.toString(), /secret|\/srv|at /, `${p} ${uri}: nothing of the error reaches the client`);
      }
      assert.equal((await send(p, target[p], { uri: '/413' })).status, 413, p);
    }
    await logs.wait(/app error on GET \/throw: Error: secret detail/);
  });
});

test('§4.6 an early abort: the signal fires and the server stops pulling the body, running the generator\'s finally', { timeout: 10_000 }, async () => {
  let aborted = 0;
  let finallyRan = 0;
  const app: App = (req) => {
    req.signal.addEventListener('abort', () => { aborted++; });
    return {
      body: (async function* () {
        try {
          for (;;) {
            yield 'tick\n';
            await new Promise((r) => setTimeout(r, 10));
          }
        } finally {
          finallyRan++;
        }
      })(),
    };
  };
  await withEvery(app, async ({ target }) => {
    const net = await import('node:net');
    const s = net.connect((target.http as { port: number }).port, '127.0.0.1');
    s.write('GET /forever HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((resolve) => s.once('data', () => resolve()));
    s.destroy();
    const started = Date.now();
    while ((aborted < 1 || finallyRan < 1) && Date.now() - started < 5000) await new Promise((r) => setTimeout(r, 10));
    assert.equal(aborted, 1, 'the signal fired once');
    assert.equal(finallyRan, 1, 'the generator was closed');
  });
});

test('§4.8 the reply in the front protocol\'s form: no Date, Connection or Transfer-Encoding over uwsgi, SCGI, FastCGI', { timeout: 10_000 }, async () => {
  const app: App = () => ({ body: (function* () { yield 'a'; yield 'b'; })() });
  await withEvery(app, async ({ target }) => {
    for (const p of ['uwsgi', 'scgi', 'fastcgi'] as const) {
      const a = await send(p, target[p], { uri: '/' });
      for (const h of ['date', 'connection', 'transfer-encoding']) assert.deepEqual(get(a, h), [], `${p}: ${h}`);
      assert.equal(a.body.toString(), 'ab', p);
    }
    const h = await send('http', target.http, { uri: '/' });
    assert.equal(get(h, 'date').length, 1, 'HTTP replies carry Date');
  });
});

test('§1 middleware: an app wrapping an app sees the reply and may add to it', { timeout: 10_000 }, async () => {
  const tag: Middleware = (next) => async (req: Request) => {
    const reply = await next(req);
    return { ...reply, headers: [['X-Wrapped', req.PATH_INFO]] };
  };
  await withEvery(tag(() => ({ body: 'inner' })), async ({ target }) => {
    for (const p of PROTOCOLS) {
      const a = await send(p, target[p], { uri: '/m' });
      assert.equal(a.body.toString(), 'inner', p);
      assert.deepEqual(get(a, 'x-wrapped'), ['/m'], p);
    }
  });
});
