// A real Hono 4 app, unmodified, served by tsgi through fromFetch() on its
// HTTP, uwsgi and FastCGI listeners: routing with params, c.json, a JSON echo
// through c.req.json(), a streamed body (hono/streaming), two Set-Cookie,
// notFound, onError, and the TSGI request reached through c.env.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { Hono } from 'hono';
import { setCookie } from 'hono/cookie';
import { stream, streamText } from 'hono/streaming';
import { fromFetch, serve, type Request as TsgiRequest, type ServerHandle } from 'tsgi';
import { captureLog } from '../helpers/index.js';
import { ask as askCgi, cgiVars, listenersOf, uwsgiPacket, values, type Target } from '../helpers/cgi-client.js';
import { ask as askFcgi, fcgiVars } from '../helpers/fcgi-client.js';

type Env = { Bindings: { tsgi: TsgiRequest } };

function honoApp(): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/', (c) => c.text('Hello, Hono!'));
  app.get('/users/:id/posts/:post', (c) => c.json({ user: c.req.param('id'), post: c.req.param('post'), q: c.req.query('q') ?? null }));
  app.post('/echo', async (c) => {
    const body = await c.req.json<unknown>();
    return c.json({ got: body, type: c.req.header('content-type') ?? null }, 201);
  });
  app.get('/stream-text', (c) => streamText(c, async (s) => {
    for (let i = 0; i < 3; i++) {
      await s.writeln(`line ${i}`);
      await s.sleep(60);
    }
  }));
  app.get('/stream-bytes', (c) => stream(c, async (s) => {
    await s.write(new Uint8Array([1, 2, 3]));
    await s.sleep(20);
    await s.write(new Uint8Array([4, 5]));
  }));
  app.get('/cookies', (c) => {
    setCookie(c, 'session', 'abc', { path: '/', httpOnly: true });
    setCookie(c, 'theme', 'dark', { path: '/' });
    return c.text('two cookies');
  });
  app.get('/env', (c) => c.json({ protocol: c.env.tsgi.tsgi.protocol, method: c.env.tsgi.REQUEST_METHOD }));
  app.get('/boom', () => {
    throw new Error('boom');
  });
  app.notFound((c) => c.text(`no route for ${c.req.path}`, 404));
  app.onError((err, c) => c.json({ error: err.message }, 500));
  return app;
}

interface Got {
  status: number;
  headers: Array<[string, string]>;
  body: Buffer;
  /** Milliseconds since the request was sent at which each body chunk arrived (HTTP only). */
  times: number[];
}

function httpGet(port: number, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      const times: number[] = [];
      res.on('data', (c: Buffer) => { chunks.push(c); times.push(Date.now() - start); });
      res.on('end', () => {
        const pairs: Array<[string, string]> = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
        resolve({ status: res.statusCode!, headers: pairs, body: Buffer.concat(chunks), times });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

type Protocol = 'http' | 'uwsgi' | 'fastcgi';

async function send(protocol: Protocol, target: Target, method: string, uri: string, body?: string,
  contentType?: string): Promise<Got> {
  if (protocol === 'http') {
    const port = (target as { port: number }).port;
    return httpGet(port, method, uri, body, contentType ? { 'content-type': contentType } : {});
  }
  // The raw clients take strings as latin1: send the UTF-8 bytes.
  const bytes = body === undefined ? undefined : Buffer.from(body);
  const opts = { method, ...(bytes !== undefined ? { body: bytes } : {}) };
  const vars = (protocol === 'uwsgi' ? cgiVars(uri, opts) : fcgiVars(uri, opts))
    .map(([k, v]): [string, string] => (k === 'CONTENT_TYPE' && contentType ? [k, contentType] : [k, v]));
  if (protocol === 'uwsgi') {
    const r = await askCgi(target, 'uwsgi', uwsgiPacket(vars, bytes !== undefined ? { body: bytes } : {}));
    return { status: r.status, headers: r.headers, body: r.body, times: [] };
  }
  const a = await askFcgi(target, vars, bytes !== undefined ? { body: bytes } : {});
  return { status: a.reply.status, headers: a.reply.headers, body: a.reply.body, times: [] };
}

describe('a Hono app through fromFetch()', () => {
  let server: ServerHandle;
  const logs = captureLog();
  const targets = new Map<Protocol, Target>();

  before(() => {
    server = serve(fromFetch(honoApp()), {
      listen: ['127.0.0.1:0', 'uwsgi://127.0.0.1:0', 'fastcgi://127.0.0.1:0'],
      log: logs.log,
    });
    for (const l of listenersOf(server)) targets.set(l.protocol as Protocol, l.target);
  });
  after(() => server.close(2000));

  for (const protocol of ['http', 'uwsgi', 'fastcgi'] as const) {
    describe(`over ${protocol}`, () => {
      const go = (method: string, uri: string, body?: string, type?: string) =>
        send(protocol, targets.get(protocol)!, method, uri, body, type);

      test('GET / answers text with a Content-Length', async () => {
        const r = await go('GET', '/');
        assert.equal(r.status, 200);
        assert.equal(r.body.toString(), 'Hello, Hono!');
        assert.equal(values(r, 'content-type')[0], 'text/plain;charset=UTF-8');
        assert.deepEqual(values(r, 'content-length'), ['12']);
      });

      test('route params and the query reach the handler; c.json answers JSON', async () => {
        const r = await go('GET', '/users/42/posts/a%20b?q=x%26y');
        assert.equal(r.status, 200);
        assert.match(values(r, 'content-type')[0]!, /^application\/json/);
        assert.deepEqual(JSON.parse(r.body.toString()), { user: '42', post: 'a b', q: 'x&y' });
      });

      test('POST JSON is echoed through c.req.json()', async () => {
        const payload = { name: 'tsgi', list: [1, 2, 3], nested: { ok: true }, text: 'héllo ✓' };
        const r = await go('POST', '/echo', JSON.stringify(payload), 'application/json');
        assert.equal(r.status, 201);
        assert.deepEqual(JSON.parse(r.body.toString()), { got: payload, type: 'application/json' });
      });

      test('streamText sends its chunks as they are written', async () => {
        const r = await go('GET', '/stream-text');
        assert.equal(r.status, 200);
        assert.equal(r.body.toString(), 'line 0\nline 1\nline 2\n');
        assert.deepEqual(values(r, 'content-length'), [], 'a stream has no Content-Length');
        if (protocol === 'http') {
          assert.deepEqual(values(r, 'transfer-encoding'), ['chunked']);
          assert.ok(r.times.length >= 3, `chunks arrived one by one: ${r.times.join(', ')} ms`);
          assert.ok(r.times[r.times.length - 1]! - r.times[0]! >= 100,
            `the last chunk came well after the first: ${r.times.join(', ')} ms`);
        }
      });

      test('stream() sends bytes', async () => {
        const r = await go('GET', '/stream-bytes');
        assert.equal(r.status, 200);
        assert.deepEqual([...r.body], [1, 2, 3, 4, 5]);
      });

      test('two Set-Cookie headers stay two', async () => {
        const r = await go('GET', '/cookies');
        assert.equal(r.status, 200);
        assert.deepEqual(values(r, 'set-cookie'), ['session=abc; Path=/; HttpOnly', 'theme=dark; Path=/']);
        assert.equal(r.body.toString(), 'two cookies');
      });

      test('c.env.tsgi is the TSGI request', async () => {
        const r = await go('GET', '/env');
        assert.deepEqual(JSON.parse(r.body.toString()), { protocol, method: 'GET' });
      });

      test('notFound answers 404', async () => {
        const r = await go('GET', '/nowhere?x=1');
        assert.equal(r.status, 404);
        assert.equal(r.body.toString(), 'no route for /nowhere');
      });

      test('onError answers what the app says, and the server logs nothing', async () => {
        const before = logs.lines.length;
        const r = await go('GET', '/boom');
        assert.equal(r.status, 500);
        assert.deepEqual(JSON.parse(r.body.toString()), { error: 'boom' });
        assert.equal(logs.lines.length, before, logs.lines.slice(before).join('\n'));
      });

      // (The uwsgi client here reads a body by Content-Length, HEAD or not.)
      if (protocol !== 'uwsgi') test('HEAD gets the head of GET, its Content-Length included, without a body', async () => {
        const get = await go('GET', '/');
        const r = await go('HEAD', '/');
        assert.equal(r.status, 200);
        assert.equal(r.body.length, 0);
        assert.deepEqual(values(get, 'content-length'), ['12']);
        assert.deepEqual(values(r, 'content-length'), ['12']);
        assert.deepEqual(values(r, 'content-type'), values(get, 'content-type'));
      });
    });
  }

  test('uwsgi without REQUEST_URI: the URL is made of PATH_INFO and QUERY_STRING', async () => {
    const vars = (await import('../helpers/cgi-client.js')).cgiVars('/users/7/posts/a b?q=1')
      .filter(([k]) => k !== 'REQUEST_URI');
    const r = await askCgi(targets.get('uwsgi')!, 'uwsgi', uwsgiPacket(vars));
    assert.equal(r.status, 200, r.head);
    assert.deepEqual(JSON.parse(r.body.toString()), { user: '7', post: 'a b', q: '1' });
  });
});
