// Good SCGI requests, as nginx's scgi_pass sends them (CONTENT_LENGTH first,
// SCGI=1): the variables reach the app, the body is read, and the reply is a
// CGI-style head (a Status header, no status line, no hop-by-hop field),
// ended by closing the connection. After each case, every socket of the
// server still serves a good request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Request } from 'tsgi';
import { deferred, within } from '../helpers/index.js';
import {
  ask, assertNoHopByHop, exchange, open, parseCgiReply, scgiGood, scgiRequest, values, withServer,
} from '../helpers/cgi-client.js';

test('a good request: the variables reach the app; the reply starts with "Status: 200 OK", then close', async () => {
  const seen = deferred<Record<string, unknown>>();
  const app = async (req: Request) => {
    const body = await req.body.text();
    seen.resolve({
      REQUEST_METHOD: req.REQUEST_METHOD, PATH_INFO: req.PATH_INFO, QUERY_STRING: req.QUERY_STRING,
      REQUEST_URI: req.REQUEST_URI, CONTENT_TYPE: req.CONTENT_TYPE, CONTENT_LENGTH: req.CONTENT_LENGTH,
      SERVER_NAME: req.SERVER_NAME, SERVER_PORT: req.SERVER_PORT, REMOTE_ADDR: req.REMOTE_ADDR,
      REMOTE_PORT: req.REMOTE_PORT, SCGI: req.var('SCGI'), DOCUMENT_ROOT: req.var('DOCUMENT_ROOT'),
      custom: req.var('X_CUSTOM'), ua: req.header('user-agent'), scheme: req.tsgi.url_scheme,
      protocol: req.tsgi.protocol, body,
    });
    return {
      headers: [['content-type', 'text/plain'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']] as [string, string][],
      body: `got ${body}`,
    };
  };
  await withServer(app, async ({ scgi }) => {
    const vars: Array<[string, string]> = [
      ['CONTENT_LENGTH', '5'], ['SCGI', '1'], ['REQUEST_METHOD', 'PUT'], ['PATH_INFO', '/p/q'],
      ['QUERY_STRING', 'k=v'], ['REQUEST_URI', '/p/q?k=v'], ['CONTENT_TYPE', 'text/plain'],
      ['SERVER_NAME', 'example.org'], ['SERVER_PORT', '8443'], ['REMOTE_ADDR', '198.51.100.4'],
      ['REMOTE_PORT', '6000'], ['DOCUMENT_ROOT', '/srv'], ['HTTPS', 'on'], ['X_CUSTOM', 'yes'],
      ['HTTP_USER_AGENT', 'agent/2'],
    ];
    const r = await exchange(scgi, scgiRequest(vars, { body: 'hello' }));
    assert.ok(r.closed, 'the server closes the connection after the reply');
    const text = r.data.toString('latin1');
    assert.ok(text.startsWith('Status: 200 OK\r\n'), JSON.stringify(text.slice(0, 40)));
    assert.doesNotMatch(text.split('\r\n\r\n')[0]!, /^HTTP\//m, 'no status line');
    const reply = parseCgiReply(r.data, 'scgi');
    assertNoHopByHop(reply);
    assert.deepEqual(values(reply, 'set-cookie'), ['a=1', 'b=2']);
    assert.deepEqual(values(reply, 'content-length'), ['9']);
    assert.deepEqual(values(reply, 'status'), [], 'Status only once, as the first line');
    assert.equal(reply.body.toString(), 'got hello');
    assert.deepEqual(await within(seen.promise, 2000, 'the app'), {
      REQUEST_METHOD: 'PUT', PATH_INFO: '/p/q', QUERY_STRING: 'k=v', REQUEST_URI: '/p/q?k=v', CONTENT_TYPE: 'text/plain',
      CONTENT_LENGTH: '5', SERVER_NAME: 'example.org', SERVER_PORT: '8443', REMOTE_ADDR: '198.51.100.4',
      REMOTE_PORT: '6000', SCGI: '1', DOCUMENT_ROOT: '/srv', custom: 'yes', ua: 'agent/2', scheme: 'https',
      protocol: 'scgi', body: 'hello',
    });
  });
});

test('SCGI=1 may come anywhere (lighttpd puts it last); CONTENT_LENGTH "0" without a body', async () => {
  await withServer((req: Request) => ({ body: `${req.REQUEST_METHOD} ${req.PATH_INFO} [${req.CONTENT_LENGTH}]` }), async ({ scgi }) => {
    const reply = await ask(scgi, 'scgi', scgiRequest([['CONTENT_LENGTH', '0'], ['REQUEST_METHOD', 'GET'],
      ['PATH_INFO', '/last'], ['SCGI', '1']]));
    assert.equal(reply.first, 'Status: 200 OK');
    assert.equal(reply.body.toString(), 'GET /last [0]');
  });
});

test('other statuses: "Status: 404 Not Found", "Status: 204 No Content" without a body', async () => {
  const app = (req: Request) => (req.PATH_INFO === '/none' ? { status: 204 } : { status: 404, body: 'nope' });
  await withServer(app, async ({ scgi }) => {
    const nf = await ask(scgi, 'scgi', scgiGood('/missing'));
    assert.equal(nf.first, 'Status: 404 Not Found');
    assert.equal(nf.body.toString(), 'nope');
    const nc = await ask(scgi, 'scgi', scgiGood('/none'));
    assert.equal(nc.first, 'Status: 204 No Content');
    assert.equal(nc.body.length, 0);
    assertNoHopByHop(nc);
  });
});

test('hop-by-hop fields the app sets are dropped; a streamed reply without length is close-delimited', async () => {
  const app = () => ({
    headers: { connection: 'keep-alive', 'keep-alive': 'timeout=5', 'transfer-encoding': 'chunked', 'x-kept': '1' },
    body: (async function* () { yield 'a'; await new Promise((r) => setTimeout(r, 20)); yield 'b'; })(),
  });
  await withServer(app, async ({ scgi }) => {
    const reply = await ask(scgi, 'scgi', scgiGood('/stream'));
    assert.equal(reply.first, 'Status: 200 OK');
    assertNoHopByHop(reply);
    assert.deepEqual(values(reply, 'content-length'), []);
    assert.deepEqual(values(reply, 'x-kept'), ['1']);
    assert.equal(reply.body.toString(), 'ab', 'not chunk-encoded');
  });
});

test('body echo: small, 1 MiB in pieces, streamed back as read', async () => {
  const app = async (req: Request) => {
    if (req.PATH_INFO === '/stream') return { body: (async function* () { for await (const p of req.body) yield p; })() };
    return { body: await req.body.bytes(4 * 1024 * 1024) };
  };
  await withServer(app, async ({ scgi }) => {
    assert.equal((await ask(scgi, 'scgi', scgiGood('/echo', { body: 'pong' }))).body.toString(), 'pong');
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 13 + (i >>> 9)) & 0xff;
    const req = scgiGood('/echo', { body: big });
    const pieces: Buffer[] = [];
    for (let i = 0; i < req.length; i += 65_536) pieces.push(req.subarray(i, i + 65_536));
    const echoed = await ask(scgi, 'scgi', pieces, { timeoutMs: 10_000 });
    assert.deepEqual(values(echoed, 'content-length'), [String(big.length)]);
    assert.ok(echoed.body.equals(big));
    const streamed = await ask(scgi, 'scgi', scgiGood('/stream', { body: big }), { timeoutMs: 10_000 });
    assert.deepEqual(values(streamed, 'content-length'), []);
    assert.ok(streamed.body.equals(big));
  });
});

test('the netstring byte by byte, then the body, is one request', async () => {
  await withServer(async (req: Request) => ({ body: `${req.PATH_INFO}:${await req.body.text()}` }), async ({ scgi }) => {
    const data = scgiGood('/bytes', { body: 'xyz' });
    const c = await open(scgi);
    try {
      for (let i = 0; i < data.length; i++) await c.write(data.subarray(i, i + 1));
      assert.ok(await c.waitClosed(3000));
      assert.equal(parseCgiReply(c.data, 'scgi').body.toString(), '/bytes:xyz');
    } finally {
      c.destroy();
    }
  });
});

test('a body shorter than CONTENT_LENGTH, then close: the body read rejects and the signal fires', async () => {
  const outcome = deferred<{ code: string | undefined; aborted: boolean }>();
  const started = deferred<void>();
  const app = async (req: Request) => {
    started.resolve();
    try {
      await req.body.text();
      outcome.resolve({ code: undefined, aborted: req.signal.aborted });
    } catch (err) {
      outcome.resolve({ code: (err as { code?: string }).code, aborted: req.signal.aborted });
    }
    return { body: 'never' };
  };
  await withServer(app, async ({ scgi }) => {
    const c = await open(scgi);
    try {
      await c.write(scgiGood('/short', { body: 'y'.repeat(50) }).subarray(0, -40));
      await within(started.promise, 2000, 'the app starts');
      c.socket.end();
      const o = await within(outcome.promise, 3000, 'the app learns the client left');
      assert.equal(o.code, 'TSGI_ERR_BODY_ABORTED');
      assert.equal(o.aborted, true);
      assert.ok(await c.waitClosed(2000));
      assert.equal(c.data.length, 0);
    } finally {
      c.destroy();
    }
  });
});

test('repeated HTTP_* names (nginx < 1.23) are accepted and joined: ", " in general, "; " for Cookie', async () => {
  const app = (req: Request) => ({ body: JSON.stringify([req.header('x-dup'), req.header('cookie')]) });
  await withServer(app, async ({ scgi }) => {
    const reply = await ask(scgi, 'scgi', scgiRequest([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['REQUEST_METHOD', 'GET'],
      ['PATH_INFO', '/dup'], ['HTTP_X_DUP', 'a'], ['HTTP_COOKIE', 'c=1'], ['HTTP_X_DUP', 'b'], ['HTTP_COOKIE', 'd=2']]));
    assert.equal(reply.status, 200);
    assert.deepEqual(JSON.parse(reply.body.toString()), ['a, b', 'c=1; d=2']);
  });
});
