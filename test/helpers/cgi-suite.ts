// The cases test/uwsgi and test/scgi share, written once and run for each
// protocol: good requests, refused input, many connections. A protocol is its
// request encoder, its reply's first line and the words of its log lines and
// refusals; what only one protocol has stays in that protocol's folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Request } from 'tsgi';
import { deferred, delay, header, parseResponses, within, type RawConnection } from './index.js';
import {
  ask, assertNoHopByHop, countingApp, exchange, open, parseCgiReply, scgiGood, scgiRequest, uwsgiPacket, uwsgiRequest,
  values, withServer, type Harness, type Target, type Vars,
} from './cgi-client.js';

export interface CgiProtocol {
  name: 'uwsgi' | 'scgi';
  /** As log lines and refusals spell it. */
  label: string;
  /** The harness's first listener of this protocol. */
  target(h: Harness): Target;
  /** A well-formed request for `uri` (nginx's variables), with an optional body. */
  request(uri: string, opts?: { method?: string; body?: string | Buffer }): Buffer;
  /** A request with exactly these variables (and the ones the protocol requires). */
  packet(vars: Vars, opts?: { body?: string | Buffer }): Buffer;
  /** The first line of a reply. */
  first(status: number, reason: string): string;
  /** What the plain HTTP 400 for an HTTP client on this socket says. */
  notHttp: RegExp[];
}

export const UWSGI: CgiProtocol = {
  name: 'uwsgi',
  label: 'uwsgi',
  target: (h) => h.uwsgi,
  request: (uri, opts) => uwsgiRequest(uri, opts),
  packet: (vars, opts = {}) => uwsgiPacket(vars, opts),
  first: (status, reason) => `HTTP/1.1 ${status} ${reason}`,
  notHttp: [/uwsgi socket/, /not HTTP/],
};

export const SCGI: CgiProtocol = {
  name: 'scgi',
  label: 'SCGI',
  target: (h) => h.scgi,
  request: (uri, opts) => scgiGood(uri, opts),
  packet: (vars, opts = {}) => {
    const len = opts.body === undefined ? 0 : Buffer.byteLength(opts.body);
    return scgiRequest([['CONTENT_LENGTH', String(len)], ['SCGI', '1'], ...vars], opts);
  },
  first: (status, reason) => `Status: ${status} ${reason}`,
  notHttp: [/SCGI socket/, /scgi_pass/],
};

/** Runs `fn` against a server with `app`, given this protocol's listener. */
function serving(p: CgiProtocol, app: Parameters<typeof withServer>[0], fn: (t: Target, h: Harness) => Promise<void>,
  options?: Parameters<typeof withServer>[2]): Promise<void> {
  return withServer(app, (h) => fn(p.target(h), h), options);
}

// ---- good requests ---------------------------------------------------------

export function requestCases(p: CgiProtocol): void {
  test('a plain 200 is the first line, Content-Length and the body, then close', async () => {
    await serving(p, () => ({ body: 'ok' }), async (t) => {
      const r = await exchange(t, p.request('/'));
      assert.ok(r.closed);
      assert.equal(r.data.toString('latin1'), `${p.first(200, 'OK')}\r\nContent-Length: 2\r\n\r\nok`);
    });
  });

  test('statuses: 201 with two Set-Cookie and Content-Length, 404 with a body, 204 without one; no hop-by-hop fields', async () => {
    const app = (req: Request) => {
      if (req.PATH_INFO === '/none') return { status: 204 };
      if (req.PATH_INFO !== '/cookies') return { status: 404, body: 'nope' };
      return {
        status: 201,
        headers: [['content-type', 'text/plain'], ['set-cookie', 'a=1; Path=/'], ['set-cookie', 'b=2; HttpOnly']] as [string, string][],
        body: 'created',
      };
    };
    await serving(p, app, async (t) => {
      const r = await exchange(t, p.request('/cookies'));
      assert.ok(r.closed, 'the server closes the connection after the reply');
      assert.ok(r.data.toString('latin1').startsWith(`${p.first(201, 'Created')}\r\n`), r.data.toString('latin1', 0, 40));
      const reply = parseCgiReply(r.data, p.name);
      assertNoHopByHop(reply);
      assert.deepEqual(values(reply, 'set-cookie'), ['a=1; Path=/', 'b=2; HttpOnly']);
      assert.deepEqual(values(reply, 'content-length'), ['7']);
      assert.deepEqual(values(reply, 'status'), [], 'Status only once, as the first line');
      assert.equal(reply.body.toString(), 'created');
      const nf = await ask(t, p.name, p.request('/missing'));
      assert.equal(nf.first, p.first(404, 'Not Found'));
      assert.equal(nf.body.toString(), 'nope');
      const nc = await ask(t, p.name, p.request('/none'));
      assert.equal(nc.first, p.first(204, 'No Content'));
      assert.equal(nc.body.length, 0);
      assertNoHopByHop(nc);
    });
  });

  test('hop-by-hop fields the app sets are dropped; a streamed reply without length is close-delimited', async () => {
    const app = (req: Request) => {
      const headers = {
        'content-type': 'text/plain', connection: 'keep-alive', 'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked', 'x-kept': 'yes',
      };
      if (req.PATH_INFO === '/stream') {
        return { headers, body: (async function* () { yield 'part1 '; await delay(20); yield 'part2'; })() };
      }
      return { headers, body: 'whole' };
    };
    await serving(p, app, async (t) => {
      const streamed = await ask(t, p.name, p.request('/stream'));
      assert.equal(streamed.first, p.first(200, 'OK'));
      assertNoHopByHop(streamed);
      assert.deepEqual(values(streamed, 'content-length'), [], 'no length: the close ends the body');
      assert.deepEqual(values(streamed, 'x-kept'), ['yes']);
      assert.equal(streamed.body.toString(), 'part1 part2', 'not chunk-encoded');
      const whole = await ask(t, p.name, p.request('/whole'));
      assertNoHopByHop(whole);
      assert.deepEqual(values(whole, 'content-length'), ['5']);
      assert.equal(whole.body.toString(), 'whole');
    });
  });

  test('a streamed reply with a declared Content-Length keeps it', async () => {
    const app = () => ({ headers: { 'content-length': '10' }, body: (function* () { yield '01234'; yield '56789'; })() });
    await serving(p, app, async (t) => {
      const reply = await ask(t, p.name, p.request('/'));
      assertNoHopByHop(reply);
      assert.deepEqual(values(reply, 'content-length'), ['10']);
      assert.equal(reply.body.toString(), '0123456789');
    });
  });

  test('body echo: small, empty, 1 MiB binary sent in pieces, and streamed back as it is read', async () => {
    const app = async (req: Request) => {
      if (req.PATH_INFO === '/stream') {
        return { body: (async function* () { for await (const piece of req.body) yield piece; })() };
      }
      return { headers: { 'content-type': 'application/octet-stream' }, body: await req.body.bytes(4 * 1024 * 1024) };
    };
    await serving(p, app, async (t) => {
      const small = await ask(t, p.name, p.request('/echo', { body: 'ping' }));
      assert.equal(small.body.toString(), 'ping');
      const empty = await ask(t, p.name, p.request('/echo', { method: 'POST', body: '' }));
      assert.equal(empty.body.length, 0);
      assert.deepEqual(values(empty, 'content-length'), ['0']);

      const big = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >>> 11)) & 0xff;
      const packet = p.request('/echo', { body: big });
      const pieces: Buffer[] = [];
      for (let i = 0; i < packet.length; i += 65_536) pieces.push(packet.subarray(i, i + 65_536));
      const echoed = await ask(t, p.name, pieces, { timeoutMs: 10_000 });
      assert.equal(echoed.status, 200);
      assert.deepEqual(values(echoed, 'content-length'), [String(big.length)]);
      assert.ok(echoed.body.equals(big), 'the 1 MiB body came back unchanged');

      const streamed = await ask(t, p.name, p.request('/stream', { body: big }), { timeoutMs: 10_000 });
      assert.deepEqual(values(streamed, 'content-length'), []);
      assert.ok(streamed.body.equals(big), 'the streamed echo is the body');
    });
  });

  test('a body read whole is one Buffer of its stated length; over the limit it is refused unread', async () => {
    const app = async (req: Request) => {
      if (req.PATH_INFO === '/limit') {
        try {
          await req.body.bytes(1000);
          return { body: 'read' };
        } catch (err) {
          return { body: (err as { code?: string }).code ?? 'no code' };
        }
      }
      const b = await req.body.bytes(4 * 1024 * 1024);
      // Its own memory, exactly the body: not a view into a larger block.
      const own = b.byteOffset === 0 && b.buffer.byteLength === b.byteLength;
      return { headers: { 'x-own': String(own) }, body: b };
    };
    await serving(p, app, async (t) => {
      const big = Buffer.alloc(300 * 1024 + 7);
      for (let i = 0; i < big.length; i++) big[i] = (i * 13 + (i >>> 9)) & 0xff;
      const packet = p.request('/whole', { body: big });
      const pieces: Buffer[] = [];
      for (let i = 0; i < packet.length; i += 10_000) pieces.push(packet.subarray(i, i + 10_000));
      const reply = await ask(t, p.name, pieces, { timeoutMs: 10_000 });
      assert.equal(reply.status, 200);
      assert.deepEqual(values(reply, 'x-own'), ['true']);
      assert.ok(reply.body.equals(big), 'the body came back unchanged');
      const over = await ask(t, p.name, p.request('/limit', { body: 'y'.repeat(5000) }));
      assert.equal(over.body.toString(), 'TSGI_ERR_BODY_TOO_LARGE');
    });
  });

  test('the head and the body in one write, split at the boundary, or byte by byte, are the same request', async () => {
    const app = async (req: Request) => ({ body: `${req.PATH_INFO}:${await req.body.text()}` });
    await serving(p, app, async (t) => {
      const packet = p.request('/split', { body: 'abc' });
      const head = packet.length - 3;
      for (const pieces of [[packet], [packet.subarray(0, 4), packet.subarray(4)],
        [packet.subarray(0, head), packet.subarray(head, head + 1), packet.subarray(head + 1)]]) {
        const reply = await ask(t, p.name, pieces);
        assert.equal(reply.body.toString(), '/split:abc');
      }
      const c = await open(t);
      try {
        for (let i = 0; i < packet.length; i++) await c.write(packet.subarray(i, i + 1));
        assert.ok(await c.waitClosed(3000));
        assert.equal(parseCgiReply(c.data, p.name).body.toString(), '/split:abc');
      } finally {
        c.destroy();
      }
    });
  });

  test('repeated HTTP_* variables (nginx < 1.23) are joined: ", " in general, "; " for Cookie', async () => {
    const app = (req: Request) => ({ body: JSON.stringify([req.header('x-dup'), req.header('cookie')]) });
    await serving(p, app, async (t) => {
      const reply = await ask(t, p.name, p.packet([['REQUEST_METHOD', 'GET'], ['PATH_INFO', '/dup'],
        ['HTTP_X_DUP', 'a'], ['HTTP_COOKIE', 'c=1'], ['HTTP_X_DUP', 'b'], ['HTTP_COOKIE', 'd=2']]));
      assert.equal(reply.status, 200);
      assert.deepEqual(JSON.parse(reply.body.toString()), ['a, b', 'c=1; d=2']);
    });
  });

  test('variables read one by one and after many reads (all decoded) agree', async () => {
    const names = ['REQUEST_METHOD', 'QUERY_STRING', 'SERVER_NAME', 'SERVER_PORT', 'REMOTE_ADDR', 'REQUEST_URI',
      'SERVER_PROTOCOL', 'CONTENT_TYPE', 'HTTP_X_ONE', 'HTTP_X_DUP', 'NOT_SENT'];
    const app = (req: Request) => {
      const first = names.map((n) => req.var(n) ?? null);
      const again = names.map((n) => req.var(n) ?? null);
      return { body: JSON.stringify([first, again, req.header('x-dup'), req.PATH_INFO]) };
    };
    await serving(p, app, async (t) => {
      const reply = await ask(t, p.name, p.packet([['REQUEST_METHOD', 'GET'], ['PATH_INFO', '/v'],
        ['REQUEST_URI', '/v?q=1'], ['QUERY_STRING', 'q=1'], ['SERVER_NAME', 'example.org'], ['SERVER_PORT', '80'],
        ['REMOTE_ADDR', '10.0.0.1'], ['SERVER_PROTOCOL', 'HTTP/1.1'], ['HTTP_X_ONE', '1'], ['HTTP_X_DUP', 'a'],
        ['HTTP_X_DUP', 'b']]));
      assert.equal(reply.status, 200);
      const [first, again, dup, path] = JSON.parse(reply.body.toString()) as [unknown[], unknown[], string, string];
      const want = ['GET', 'q=1', 'example.org', '80', '10.0.0.1', '/v?q=1', 'HTTP/1.1', '', '1', 'a, b', null];
      assert.deepEqual(first, want, 'found one by one, a repeated HTTP_* joined');
      assert.deepEqual(again, want, 'the same once all are decoded');
      assert.equal(dup, 'a, b');
      assert.equal(path, '/v');
    });
  });
}

// ---- refused input and clients that leave ---------------------------------

export function malformedCases(p: CgiProtocol): void {
  test(`HTTP sent to the ${p.label} socket gets a plain HTTP 400 naming it`, async () => {
    const { app, calls } = countingApp();
    await serving(p, app, async (t, { logs }) => {
      for (const request of ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc',
        'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz', 'HEAD / HTTP/1.0\r\n\r\n']) {
        const r = await exchange(t, request);
        assert.ok(r.closed, 'closed after the 400');
        const { responses } = parseResponses(r.data, { closed: true, head: false });
        assert.equal(responses.length, 1, r.data.toString('latin1'));
        const res = responses[0]!;
        assert.equal(res.version, 'HTTP/1.1');
        assert.equal(res.status, 400);
        for (const re of p.notHttp) assert.match(res.body.toString(), re);
        assert.equal(header(res, 'content-length'), String(res.body.length));
      }
      await logs.wait(new RegExp(`HTTP request on ${p.label} socket`));
      assert.equal(calls(), 0);
    });
  });

  test('junk bytes (a TLS ClientHello, random bytes, 0xff, text) get a 400, never reach the app', async () => {
    const { app, calls } = countingApp();
    await serving(p, app, async (t, { logs }) => {
      let seed = 12345;
      const random = Buffer.alloc(600);
      for (let i = 0; i < random.length; i++) { seed = (seed * 1103515245 + 12345) >>> 0; random[i] = seed >>> 24; }
      random[0] = 0xde;
      const cases: Array<[string, Buffer]> = [
        ['a TLS ClientHello', Buffer.from('160301020001 0001fc0303'.replace(/\s/g, '') + '00'.repeat(40), 'hex')],
        ['a short TLS ClientHello', Buffer.from('16030100a5010000a10303', 'hex')],
        ['random bytes', random],
        ['lower-case text', Buffer.from('hello there, server\r\n\r\n')],
        ['a short line', Buffer.from('hello\r\n')],
        ['0xff bytes', Buffer.alloc(64, 0xff)],
        ['fewer 0xff bytes', Buffer.alloc(32, 0xff)],
      ];
      for (const [what, bytes] of cases) {
        const r = await exchange(t, bytes);
        assert.ok(r.closed, `${what}: the server closes`);
        const text = r.data.toString('latin1');
        assert.ok(text.startsWith(`${p.first(400, 'Bad Request')}\r\n`), `${what}: ${JSON.stringify(text.slice(0, 80))}`);
        assertNoHopByHop(parseCgiReply(r.data, p.name));
      }
      assert.match(await logs.wait(new RegExp(`bad ${p.label} request`)), new RegExp(p.label));
      assert.equal(calls(), 0);
    });
  });

  test('an incomplete request, then the client closes: dropped without a reply', async () => {
    const { app, calls } = countingApp();
    await serving(p, app, async (t) => {
      const good = p.request('/x');
      for (const cut of [1, 3, good.length - 5, good.length - 1]) {
        const r = await exchange(t, good.subarray(0, cut), { end: true });
        assert.ok(r.closed, 'the server closes');
        assert.equal(r.data.length, 0, `no reply when cut at ${cut}`);
      }
      assert.equal(calls(), 0);
    });
  });

  for (const how of ['half-closes', 'goes away'] as const) {
    test(`a body shorter than CONTENT_LENGTH, then the client ${how}: the body read rejects, the signal fires`, async () => {
      const outcome = deferred<{ code: string | undefined; aborted: boolean; got: number }>();
      const started = deferred<void>();
      const app = async (req: Request) => {
        started.resolve();
        let got = 0;
        try {
          for await (const piece of req.body) got += piece.byteLength;
          outcome.resolve({ code: undefined, aborted: req.signal.aborted, got });
        } catch (err) {
          outcome.resolve({ code: (err as { code?: string }).code, aborted: req.signal.aborted, got });
        }
        return { body: 'never seen' };
      };
      await serving(p, app, async (t) => {
        const c = await open(t);
        try {
          await c.write(p.request('/short', { body: 'x'.repeat(100) }).subarray(0, -90));
          await within(started.promise, 2000, 'the app starts');
          if (how === 'half-closes') c.socket.end();
          else c.destroy();
          const o = await within(outcome.promise, 3000, 'the app learns the client left');
          assert.equal(o.code, 'TSGI_ERR_BODY_ABORTED');
          assert.equal(o.aborted, true, 'signal aborted');
          assert.equal(o.got, 10, 'the 10 bytes that came were delivered');
          if (how === 'half-closes') {
            assert.ok(await c.waitClosed(2000), 'the server closes');
            assert.equal(c.data.length, 0, 'no reply after the client left');
          }
        } finally {
          c.destroy();
        }
      });
    });
  }

  test('a client that resets mid-body: the signal fires', async () => {
    const aborted = deferred<boolean>();
    const app = async (req: Request) => {
      req.signal.addEventListener('abort', () => aborted.resolve(true));
      try { await req.body.bytes(); } catch { /* expected */ }
      return { body: 'x' };
    };
    await serving(p, app, async (t) => {
      const c = await open(t);
      await c.write(p.request('/short', { body: 'x'.repeat(1000) }).subarray(0, -500));
      await delay(50);
      c.socket.resetAndDestroy();
      assert.equal(await within(aborted.promise, 3000, 'the abort signal'), true);
    });
  });
}

// ---- many connections ------------------------------------------------------

export function concurrencyCases(p: CgiProtocol): void {
  test(`1,000 concurrent ${p.label} connections, each one request, are all answered`, async () => {
    const N = 1000;
    let inApp = 0;
    let maxInApp = 0;
    const allIn = deferred<void>();
    const bound = setTimeout(() => allIn.resolve(), 10_000);
    const app = async (req: Request) => {
      if (req.PATH_INFO.startsWith('/c/')) {
        inApp++;
        maxInApp = Math.max(maxInApp, inApp);
        if (inApp === N) allIn.resolve();
        await allIn.promise;
        inApp--;
      }
      return { body: `${req.PATH_INFO} ${await req.body.text()}` };
    };
    try {
      await serving(p, app, async (t) => {
        const conns: RawConnection[] = [];
        try {
          for (let i = 0; i < N; i += 200) {
            conns.push(...await Promise.all(Array.from({ length: Math.min(200, N - i) }, () => open(t))));
          }
          await Promise.all(conns.map((c, i) => c.write(p.request(`/c/${i}`, { body: `b${i}` }))));
          await Promise.all(conns.map((c) => c.waitUntil(() => c.closed, 20_000, 'the reply and close')));
          conns.forEach((c, i) => {
            const reply = parseCgiReply(c.data, p.name);
            assert.equal(reply.status, 200, `connection ${i}`);
            assert.equal(reply.body.toString(), `/c/${i} b${i}`);
          });
          assert.equal(maxInApp, N, 'all requests were in the app at once');
        } finally {
          for (const c of conns) c.destroy();
        }
      });
    } finally {
      clearTimeout(bound);
    }
  });
}
