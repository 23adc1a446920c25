// How app replies are framed on the wire: HEAD, 204/304, streamed bodies for
// 1.1 and 1.0, repeated fields, refused header values, app failures, Date,
// and an app-given Content-Length.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type ServerHandle } from 'tsgi';
import type { App, Reply } from 'tsgi';
import { delay, header, headerValues, RawConnection, type RawResponse } from '../helpers/index.js';

const SECRET = 'do-not-leak-this-message';

async function* stream(parts: string[]): AsyncGenerator<string> {
  for (const p of parts) {
    await delay(1);
    yield p;
  }
}

const routes: Record<string, (req: Parameters<App>[0]) => Reply | Promise<Reply>> = {
  '/text': () => ({ headers: { 'Content-Type': 'text/plain', 'X-Custom': 'yes' }, body: 'hello, world' }),
  '/bytes': () => ({ body: new Uint8Array([1, 2, 3, 4]) }),
  '/stream': () => ({ body: stream(['one ', 'two ', 'three']) }),
  '/sync-stream': () => ({ body: ['a', Buffer.from('b'), 'c'] }),
  '/empty-stream': () => ({ body: stream([]) }),
  '/stream-length': () => ({ headers: { 'Content-Length': '13' }, body: stream(['one ', 'two ', 'three']) }),
  '/stream-short': () => ({ headers: { 'Content-Length': '100' }, body: stream(['only ', '13 bytes']) }),
  '/stream-long': () => ({ headers: { 'Content-Length': '5' }, body: stream(['more than ', 'five']) }),
  '/head-length': () => ({ headers: { 'Content-Length': '1234' } }),
  '/whole-wrong-length': () => ({ headers: { 'Content-Length': '99' }, body: 'twelve bytes' }),
  '/whole-right-length': () => ({ headers: { 'Content-Length': '12' }, body: 'twelve bytes' }),
  '/204': () => ({ status: 204, headers: { 'X-Why': 'none' } }),
  '/204-with-body': () => ({ status: 204, body: 'must not be sent' }),
  '/304': () => ({ status: 304, headers: { ETag: '"v1"' } }),
  '/304-with-length': () => ({ status: 304, headers: { 'Content-Length': '42' }, body: 'x'.repeat(42) }),
  '/cookies-pairs': () => ({ headers: [['Set-Cookie', 'a=1; Path=/'], ['Set-Cookie', 'b=2; HttpOnly']], body: 'ok' }),
  '/cookies-array': () => ({ headers: { 'Set-Cookie': ['a=1; Path=/', 'b=2; HttpOnly'] }, body: 'ok' }),
  '/crlf-value': () => ({ headers: { 'X-Evil': 'a\r\nX-Injected: 1' }, body: 'should not be sent' }),
  '/lf-value': () => ({ headers: [['X-Evil', 'a\nX-Injected: 1']], body: 'should not be sent' }),
  '/crlf-name': () => ({ headers: [['X-Evil\r\nX-Injected', '1']], body: 'should not be sent' }),
  '/crlf-cookie': () => ({ headers: { 'Set-Cookie': ['ok=1', 'bad=1\r\nX-Injected: 1'] }, body: 'should not be sent' }),
  '/throws': () => {
    throw new Error(SECRET);
  },
  '/rejects': async () => {
    await delay(1);
    throw new Error(SECRET);
  },
  '/rejects-value': () => Promise.reject(SECRET),
  '/bad-status': () => ({ status: 1000 }),
  '/no-reply': () => undefined as unknown as Reply,
  '/stream-throws': () => ({
    body: (async function* () {
      yield 'partial ';
      throw new Error(SECRET);
    })(),
  }),
  '/stream-throws-later': () => ({
    body: (async function* () {
      yield 'partial ';
      await delay(50);
      throw new Error(SECRET);
    })(),
  }),
  '/own-date': () => ({ headers: { Date: 'Tue, 01 Jan 2030 00:00:00 GMT' }, body: 'x' }),
  '/status-418': () => ({ status: 418, body: 'teapot' }),
  '/reused-buffer': () => {
    // One buffer refilled between yields, as a read loop into a scratch buffer does.
    const scratch = Buffer.alloc(64 * 1024);
    return {
      body: (function* () {
        for (let i = 0; i < 32; i++) {
          scratch.fill(i);
          yield scratch;
        }
      })(),
    };
  },
  '/hop-by-hop': () => ({
    headers: { 'Transfer-Encoding': 'gzip', 'Keep-Alive': 'timeout=5', Upgrade: 'h2c', 'X-Kept': '1' },
    body: 'framed by the server',
  }),
};

describe('replies', () => {
  let server: ServerHandle;
  let port: number;
  const logs: string[] = [];

  before(() => {
    server = serve((req) => {
      const route = routes[req.PATH_INFO];
      return route ? route(req) : { status: 404, body: 'not found' };
    }, { listen: '127.0.0.1:0', log: (line) => logs.push(line) });
    port = server.addresses[0]!.port!;
  });
  after(() => server.close());

  /** Sends requests on one connection; returns the responses and the connection state. */
  async function get(requests: string[], head: boolean[] = []): Promise<{ res: RawResponse[]; c: RawConnection }> {
    const c = await RawConnection.open(port);
    try {
      await c.write(requests.join(''));
      const res = await c.responses(requests.length, { head });
      return { res, c };
    } finally {
      c.destroy();
    }
  }
  const req = (path: string, method = 'GET', extra = '') => `${method} ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
  const withoutDate = (r: RawResponse) => r.headers.filter(([n]) => n.toLowerCase() !== 'date');

  test('HEAD: no body, the headers of GET including Content-Length', async () => {
    const { res } = await get([req('/text', 'HEAD'), req('/text'), req('/text', 'HEAD'), req('/bytes')], [true, false, true, false]);
    const [h, g, h2, b] = res;
    assert.equal(g!.body.toString(), 'hello, world');
    assert.equal(header(g!, 'content-length'), '12');
    assert.deepEqual(withoutDate(h!), withoutDate(g!));
    assert.equal(h!.status, 200);
    assert.equal(h2!.status, 200);
    // No body bytes leaked: the next response parses right after each HEAD.
    assert.deepEqual([...b!.body], [1, 2, 3, 4]);
  });

  test('HEAD of a streamed reply sends no body bytes', async () => {
    const { res, c } = await get([req('/stream', 'HEAD'), req('/text')], [true, false]);
    assert.equal(res[0]!.status, 200);
    assert.equal(res[1]!.body.toString(), 'hello, world');
    assert.equal(c.data.toString().includes('one '), false);
  });

  for (const path of ['/204', '/204-with-body', '/304', '/304-with-length']) {
    test(`${path}: no body, no Content-Length, no Transfer-Encoding`, async () => {
      const { res, c } = await get([req(path), req('/text')]);
      const r = res[0]!;
      assert.equal(r.status, Number(path.slice(1, 4)));
      assert.equal(header(r, 'content-length'), undefined);
      assert.equal(header(r, 'transfer-encoding'), undefined);
      // The next response follows the blank line directly.
      assert.equal(res[1]!.status, 200);
      assert.equal(res[1]!.body.toString(), 'hello, world');
      const text = c.data.toString('latin1');
      assert.equal(text.indexOf('HTTP/1.1 200'), text.indexOf('\r\n\r\n') + 4);
    });
  }

  test('204 keeps the app\'s other headers', async () => {
    const { res } = await get([req('/204'), req('/304')]);
    assert.equal(header(res[0]!, 'x-why'), 'none');
    assert.equal(header(res[1]!, 'etag'), '"v1"');
  });

  test('a streamed reply without length is chunked for HTTP/1.1', async () => {
    const { res, c } = await get([req('/stream'), req('/sync-stream'), req('/empty-stream')]);
    assert.equal(res[0]!.framing, 'chunked');
    assert.equal(header(res[0]!, 'transfer-encoding'), 'chunked');
    assert.equal(header(res[0]!, 'content-length'), undefined);
    assert.equal(res[0]!.body.toString(), 'one two three');
    assert.equal(res[1]!.framing, 'chunked');
    assert.equal(res[1]!.body.toString(), 'abc');
    assert.equal(res[2]!.body.length, 0);
    assert.equal(c.closed, false);
  });

  test('a streamed reply without length is close-delimited for HTTP/1.0', async () => {
    const c = await RawConnection.open(port);
    try {
      await c.write('GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
      assert.equal(await c.waitClosed(3000), true, 'the server closes to end the body');
      const [r] = await c.responses(1);
      assert.equal(r!.framing, 'close');
      assert.equal(header(r!, 'transfer-encoding'), undefined);
      assert.equal(header(r!, 'content-length'), undefined);
      assert.equal(header(r!, 'connection'), 'close');
      assert.equal(r!.body.toString(), 'one two three');
    } finally {
      c.destroy();
    }
  });

  test('an app-given Content-Length with a streamed body is used, not chunked', async () => {
    const { res, c } = await get([req('/stream-length'), req('/text')]);
    assert.equal(res[0]!.framing, 'length');
    assert.deepEqual(headerValues(res[0]!, 'content-length'), ['13']);
    assert.equal(header(res[0]!, 'transfer-encoding'), undefined);
    assert.equal(res[0]!.body.toString(), 'one two three');
    assert.equal(res[1]!.body.toString(), 'hello, world');
    assert.equal(c.closed, false);
  });

  test('an app-given Content-Length with a streamed body over HTTP/1.0 keeps the connection', async () => {
    const c = await RawConnection.open(port);
    try {
      await c.write('GET /stream-length HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
      const [r] = await c.responses(1);
      assert.equal(header(r!, 'content-length'), '13');
      assert.equal(header(r!, 'connection')?.toLowerCase(), 'keep-alive');
      assert.equal(r!.body.toString(), 'one two three');
    } finally {
      c.destroy();
    }
  });

  test('a whole body with a wrong Content-Length is sent with its real one, and the app bug logged', async () => {
    logs.length = 0;
    const c = await RawConnection.open(port);
    try {
      await c.write(req('/whole-wrong-length') + req('/whole-right-length') + req('/304-with-length'));
      const res = await c.responses(3);
      assert.equal(res[0]!.body.toString(), 'twelve bytes');
      assert.equal(header(res[0]!, 'content-length'), '12');
      assert.equal(res[1]!.body.toString(), 'twelve bytes');
      const mine = logs.filter((l) => /Content-Length/.test(l));
      assert.equal(mine.length, 1, JSON.stringify(logs));
      assert.match(mine[0]!, /GET \/whole-wrong-length: Content-Length 99 but the body is 12 bytes/);
    } finally {
      c.destroy();
    }
  });

  test('a streamed body shorter than its Content-Length: the connection closes after it', async () => {
    logs.length = 0;
    const c = await RawConnection.open(port);
    try {
      await c.write(req('/stream-short'));
      assert.equal(await c.waitClosed(3000), true, 'closed: the client can tell the body is short');
      const text = c.data.toString('latin1');
      assert.match(text, /\r\nContent-Length: 100\r\n/);
      assert.ok(text.endsWith('\r\n\r\nonly 13 bytes'));
      assert.ok(logs.some((l) => /short of its Content-Length/.test(l)), 'logged');
    } finally {
      c.destroy();
    }
  });

  test('a streamed body longer than its Content-Length: cut at the length, connection closed', async () => {
    logs.length = 0;
    const c = await RawConnection.open(port);
    try {
      await c.write(req('/stream-long') + req('/text'));
      assert.equal(await c.waitClosed(3000), true);
      const text = c.data.toString('latin1');
      assert.match(text, /\r\nContent-Length: 5\r\n/);
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      assert.ok(body.length <= 5, `no more than the declared 5 bytes: ${JSON.stringify(body)}`);
      assert.equal((text.match(/HTTP\/1\.1 /g) ?? []).length, 1, 'the pipelined request is not answered on a broken stream');
    } finally {
      c.destroy();
    }
  });

  test('HEAD with an app-given Content-Length and no body states that length', async () => {
    const { res } = await get([req('/head-length', 'HEAD'), req('/text')], [true, false]);
    assert.equal(header(res[0]!, 'content-length'), '1234');
    assert.equal(res[1]!.body.toString(), 'hello, world');
  });

  test('a generator that refills one buffer between yields: each chunk arrives as it was yielded',
    async () => {
      const { res } = await get([req('/reused-buffer')]);
      const body = res[0]!.body;
      assert.equal(body.length, 32 * 64 * 1024);
      const wrong: number[] = [];
      for (let i = 0; i < 32; i++) {
        if (body[i * 65536] !== i || body[i * 65536 + 65535] !== i) wrong.push(i);
      }
      assert.deepEqual(wrong, [], 'chunks whose bytes changed after they were yielded');
    });

  test('two Set-Cookie fields both arrive, as pairs or as an array', async () => {
    const { res } = await get([req('/cookies-pairs'), req('/cookies-array')]);
    for (const r of res) {
      assert.deepEqual(headerValues(r, 'set-cookie'), ['a=1; Path=/', 'b=2; HttpOnly']);
    }
  });

  for (const path of ['/crlf-value', '/lf-value', '/crlf-name', '/crlf-cookie']) {
    test(`an app header with CR/LF is refused (${path}): 500, nothing injected`, async () => {
      logs.length = 0;
      const { res, c } = await get([req(path), req('/text')]);
      assert.equal(res[0]!.status, 500);
      assert.equal(headerValues(res[0]!, 'x-injected').length, 0);
      assert.equal(c.data.toString('latin1').includes('X-Injected'), false);
      assert.equal(c.data.toString('latin1').includes('should not be sent'), false);
      assert.equal(res[1]!.body.toString(), 'hello, world', 'the connection goes on');
      assert.ok(logs.some((l) => l.includes(path)), 'the refusal is logged');
    });
  }

  for (const path of ['/throws', '/rejects', '/rejects-value', '/bad-status', '/no-reply']) {
    test(`an app failure (${path}) is a 500 without details, and the server goes on`, async () => {
      logs.length = 0;
      const { res } = await get([req(path), req('/text')]);
      const r = res[0]!;
      assert.equal(r.status, 500);
      const body = r.body.toString();
      assert.equal(body, 'Internal Server Error\n');
      assert.ok(!body.includes(SECRET) && !/\bat \S+ \(/.test(body), 'no message or stack trace in the body');
      assert.equal(res[1]!.status, 200, 'the same connection still serves');
      assert.ok(logs.some((l) => l.includes(path)), `the failure is logged: ${JSON.stringify(logs)}`);
    });
  }

  test('a stream that throws right after its first chunk, before anything went out: a clean 500', async () => {
    logs.length = 0;
    const c = await RawConnection.open(port);
    try {
      await c.write(req('/stream-throws') + req('/text'));
      const res = await c.responses(2);
      assert.equal(res[0]!.status, 500, 'the queued head and chunk were withdrawn');
      assert.ok(!res[0]!.body.toString().includes('partial'));
      assert.ok(!res[0]!.body.toString().includes(SECRET));
      assert.equal(res[1]!.status, 200, 'the connection goes on');
      assert.ok(logs.some((l) => l.includes('/stream-throws')), 'the failure is logged');
    } finally {
      c.destroy();
    }
  });

  test('a stream that throws after bytes went out: the reply is cut, the server goes on', async () => {
    logs.length = 0;
    const c = await RawConnection.open(port);
    try {
      await c.write(req('/stream-throws-later'));
      assert.equal(await c.waitClosed(3000), true, 'the connection is closed: the chunked body never ends');
      const text = c.data.toString('latin1');
      assert.match(text, /^HTTP\/1\.1 200 /);
      assert.ok(text.endsWith('partial \r\n'), `the chunk sent before the failure arrived: ${JSON.stringify(text)}`);
      assert.ok(!text.includes('0\r\n\r\n'), 'no last-chunk: the client can tell the reply is incomplete');
      assert.ok(!text.includes(SECRET));
      assert.ok(logs.some((l) => l.includes('/stream-throws-later')), 'the failure is logged');
    } finally {
      c.destroy();
    }
    const { res } = await get([req('/text')]);
    assert.equal(res[0]!.status, 200);
  });

  test('Date is present, in IMF-fixdate, and current', async () => {
    const { res } = await get([req('/text'), req('/stream'), req('/204'), req('/nope')]);
    for (const r of res) {
      const dates = headerValues(r, 'date');
      assert.equal(dates.length, 1, `one Date in ${r.status}`);
      assert.match(dates[0]!, /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/);
      assert.ok(Math.abs(Date.parse(dates[0]!) - Date.now()) < 5000);
    }
  });

  test('an app-given Date replaces the server\'s', async () => {
    const { res } = await get([req('/own-date')]);
    assert.deepEqual(headerValues(res[0]!, 'date'), ['Tue, 01 Jan 2030 00:00:00 GMT']);
  });

  test('Date on the server\'s own error replies', async () => {
    const c = await RawConnection.open(port);
    try {
      await c.write('BAD\r\n\r\n');
      const [r] = await c.responses(1);
      assert.equal(r!.status, 400);
      assert.equal(headerValues(r!, 'date').length, 1);
    } finally {
      c.destroy();
    }
  });

  test('status and reason phrase; custom status', async () => {
    const { res } = await get([req('/text'), req('/nope'), req('/status-418')]);
    assert.deepEqual(res.map((r) => [r.status, r.version]), [[200, 'HTTP/1.1'], [404, 'HTTP/1.1'], [418, 'HTTP/1.1']]);
    assert.equal(res[0]!.reason, 'OK');
    assert.equal(res[1]!.reason, 'Not Found');
    assert.ok(res[2]!.reason.length > 0);
    assert.equal(res[2]!.body.toString(), 'teapot');
  });

  test('hop-by-hop and framing headers from the app are dropped; the server frames', async () => {
    const { res } = await get([req('/hop-by-hop'), req('/text')]);
    const r = res[0]!;
    assert.equal(r.framing, 'length');
    assert.equal(header(r, 'transfer-encoding'), undefined);
    assert.equal(header(r, 'keep-alive'), undefined);
    assert.equal(header(r, 'upgrade'), undefined);
    assert.equal(header(r, 'x-kept'), '1');
    assert.equal(r.body.toString(), 'framed by the server');
    assert.equal(res[1]!.body.toString(), 'hello, world');
  });

  test('HTTP/1.0 request gets an HTTP/1.1 status line and Content-Length', async () => {
    const c = await RawConnection.open(port);
    try {
      await c.write('GET /text HTTP/1.0\r\n\r\n');
      const [r] = await c.responses(1);
      assert.equal(r!.version, 'HTTP/1.1');
      assert.equal(header(r!, 'content-length'), '12');
      assert.equal(r!.body.toString(), 'hello, world');
    } finally {
      c.destroy();
    }
  });
});
