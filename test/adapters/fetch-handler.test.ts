// fromFetch() with plain fetch handlers: a `{ fetch }` object, the Request it
// gets (a global Request in every way a handler can tell), the env and
// context arguments, Response bodies of each kind, the abort signal when the
// client leaves, and what a bad handler gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import { fromFetch, isFetchApp, serve, type FetchEnv, type ServerHandle } from 'tsgi';
import { parseResponses, rawRequest, ROOT, captureLog, deferred, within } from '../helpers/index.js';

async function withFetch(handler: Parameters<typeof fromFetch>[0],
  fn: (port: number, logs: ReturnType<typeof captureLog>) => Promise<void>): Promise<void> {
  const logs = captureLog();
  const server: ServerHandle = serve(fromFetch(handler), { listen: '127.0.0.1:0', log: logs.log });
  try {
    await fn(server.addresses[0]!.port!, logs);
  } finally {
    await server.close(2000);
  }
}

async function get(port: number, head: string, body = ''): Promise<ReturnType<typeof parseResponses>['responses'][0]> {
  const r = await rawRequest(port, head + body);
  const [res] = parseResponses(r.data, { closed: r.closed, head: head.startsWith('HEAD ') }).responses;
  assert.ok(res, `no response in ${JSON.stringify(r.data.toString('latin1'))}`);
  return res;
}

test('isFetchApp: objects and functions with a fetch method', () => {
  assert.equal(isFetchApp({ fetch: () => new Response('x') }), true);
  const fn = Object.assign(() => undefined, { fetch: () => new Response('x') });
  assert.equal(isFetchApp(fn), true);
  assert.equal(isFetchApp({ fetch: 'no' }), false);
  assert.equal(isFetchApp(() => new Response('x')), false);
  assert.equal(isFetchApp(null), false);
  assert.equal(isFetchApp(undefined), false);
});

test('a { fetch } object: its Request looks like a global Request, env.tsgi is the TSGI request', async () => {
  const seen = deferred<Record<string, unknown>>();
  const app = {
    prefix: 'from this',
    async fetch(this: { prefix: string }, request: Request, env: FetchEnv, ctx: { waitUntil(p: Promise<unknown>): void }) {
      ctx.waitUntil(Promise.resolve());
      seen.resolve({
        instance: request instanceof Request,
        method: request.method,
        url: request.url,
        ua: request.headers.get('user-agent'),
        multi: request.headers.get('x-multi'),
        bodyUsed: request.bodyUsed,
        signal: request.signal instanceof AbortSignal,
        aborted: request.signal.aborted,
        cache: request.cache,
        mode: request.mode,
        tsgi: env.tsgi.REQUEST_URI,
        self: this.prefix,
        text: await request.text(),
        usedAfter: request.bodyUsed,
      });
      return new Response('ok', { status: 202, headers: { 'x-one': '1' } });
    },
  };
  await withFetch(app, async (port) => {
    const res = await get(port, 'GET /a/b?c=d HTTP/1.1\r\nHost: example.test:8080\r\nUser-Agent: t/1\r\n' +
      'X-Multi: a\r\nX-Multi: b\r\nConnection: close\r\n\r\n');
    assert.equal(res.status, 202);
    assert.equal(res.body.toString(), 'ok');
    assert.deepEqual(await within(seen.promise, 2000, 'the handler ran'), {
      instance: true, method: 'GET', url: 'http://example.test:8080/a/b?c=d', ua: 't/1', multi: 'a, b',
      bodyUsed: false, signal: true, aborted: false, cache: 'default', mode: 'cors', tsgi: '/a/b?c=d',
      self: 'from this', text: '', usedAfter: false,
    });
  });
});

test('URLs are normalized as new Request() would; a Host that would move the request is a 400', async () => {
  const urls: string[] = [];
  await withFetch((request) => {
    urls.push(request.url);
    return new Response(request.url);
  }, async (port) => {
    const a = await get(port, 'GET /x/../y/%7e?q=1 HTTP/1.1\r\nHost: EXAMPLE.test:80\r\nConnection: close\r\n\r\n');
    assert.equal(a.status, 200);
    assert.equal(a.body.toString(), new Request('http://EXAMPLE.test:80/x/../y/%7e?q=1').url);
    const b = await get(port, 'GET /p HTTP/1.1\r\nHost: evil.test/other\r\nConnection: close\r\n\r\n');
    assert.equal(b.status, 400);
    assert.equal(urls.length, 1, 'the handler never saw the bad request');
  });
});

test('the Request body: clone(), then text() on both; bodyUsed; reading twice is refused', async () => {
  await withFetch(async (request) => {
    const copy = request.clone();
    const [a, b] = await Promise.all([request.text(), copy.text()]);
    const again = await request.text().then(() => 'read twice', (e: Error) => e.name);
    return Response.json({ a, b, used: request.bodyUsed, again });
  }, async (port) => {
    const res = await get(port, 'POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n', 'hello');
    assert.deepEqual(JSON.parse(res.body.toString()), { a: 'hello', b: 'hello', used: true, again: 'TypeError' });
  });
});

test('formData() of a urlencoded body, through the real Request', async () => {
  await withFetch(async (request) => {
    const form = await request.formData();
    return Response.json({ a: form.get('a'), b: form.getAll('b') });
  }, async (port) => {
    const body = 'a=1&b=2&b=3';
    const res = await get(port, 'POST /f HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`, body);
    assert.deepEqual(JSON.parse(res.body.toString()), { a: '1', b: ['2', '3'] });
  });
});

test('Response bodies: string and bytes go out whole, a stream chunked, null empty', async () => {
  await withFetch((request) => {
    const p = new URL(request.url).pathname;
    if (p === '/string') return new Response('héllo', { headers: { 'content-type': 'text/plain; charset=utf-8' } });
    if (p === '/bytes') return new Response(new Uint8Array([0, 1, 2, 255]));
    if (p === '/json') return Response.json({ ok: true });
    if (p === '/null') return new Response(null, { status: 204 });
    if (p === '/redirect') return Response.redirect('http://x/elsewhere', 301);
    const enc = new TextEncoder();
    let n = 0;
    return new Response(new ReadableStream<Uint8Array>({
      pull(c) {
        if (n === 3) c.close();
        else c.enqueue(enc.encode(`part${n++};`));
      },
    }));
  }, async (port) => {
    const str = await get(port, 'GET /string HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(str.body.toString(), 'héllo');
    assert.equal(str.framing, 'length');
    const bytes = await get(port, 'GET /bytes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.deepEqual([...bytes.body], [0, 1, 2, 255]);
    const json = await get(port, 'GET /json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.deepEqual(JSON.parse(json.body.toString()), { ok: true });
    const none = await get(port, 'GET /null HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(none.status, 204);
    assert.equal(none.body.length, 0);
    const redirect = await get(port, 'GET /redirect HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(redirect.status, 301);
    assert.deepEqual(redirect.headers.filter(([n]) => n.toLowerCase() === 'location').map(([, v]) => v), ['http://x/elsewhere']);
    const streamed = await get(port, 'GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(streamed.body.toString(), 'part0;part1;part2;');
    assert.equal(streamed.framing, 'chunked');
  });
});

test('a body that ends at once goes out whole; a stream still being made sends what it has before its end', async () => {
  const enc = new TextEncoder();
  const clientGotFirst = deferred<void>();
  await withFetch((request) => {
    const p = new URL(request.url).pathname;
    if (p === '/empty') return new Response('');
    if (p === '/one') return new Response(new ReadableStream({ start(c) { c.enqueue(enc.encode('one')); c.close(); } }));
    if (p === '/two') {
      return new Response(new ReadableStream({ start(c) { c.enqueue(enc.encode('a')); c.enqueue(enc.encode('b')); c.close(); } }));
    }
    // Its end waits for the client to have the first chunk: read-ahead that
    // held the reply back until the end would never finish.
    let n = 0;
    return new Response(new ReadableStream({
      start(c) { c.enqueue(enc.encode('first;')); },
      async pull(c) {
        if (n++ === 0) return;
        await clientGotFirst.promise;
        c.enqueue(enc.encode('second;'));
        c.close();
      },
    }));
  }, async (port) => {
    const empty = await get(port, 'GET /empty HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(empty.body.length, 0);
    assert.equal(empty.framing, 'length');
    const one = await get(port, 'GET /one HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(one.body.toString(), 'one');
    assert.equal(one.framing, 'length');
    const two = await get(port, 'GET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(two.body.toString(), 'ab');

    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const ended = new Promise<void>((resolve, reject) => { sock.on('end', resolve); sock.on('error', reject); });
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      if (Buffer.concat(chunks).includes('first;')) clientGotFirst.resolve();
    });
    sock.write('GET /wait HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await within(clientGotFirst.promise, 2000, 'the first chunk before the end of the stream');
    await within(ended, 2000, 'the end of the reply');
    const [res] = parseResponses(Buffer.concat(chunks), { closed: true, head: false }).responses;
    assert.equal(res?.body.toString(), 'first;second;');
    assert.equal(res?.framing, 'chunked');
  });
});

test('the fast path for string and bytes bodies is on with this Node, and off it is still correct', async () => {
  // Public stream reads only: the body ends within a few microtask turns on
  // every Node from 20 on (undici 6 and 7); the test above checks the framing.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { fetchFastBody } = require(path.join(ROOT, 'dist/adapters/fetch.js')) as { fetchFastBody(): Promise<boolean> };
  assert.equal(await fetchFastBody(), true, `undici ${process.versions.undici}: the fast path should work`);
  // A body already read is never taken from the source.
  await withFetch(async () => {
    const res = new Response('consumed');
    await res.body!.getReader().read();
    return res;
  }, async (port, logs) => {
    const r = await get(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    // A locked body cannot be read: the handler's fault, a 500.
    assert.equal(r.status, 500);
    await logs.wait(/app error on GET \/: TypeError/);
  });
});

test('request.signal aborts when the client goes away', async () => {
  const aborted = deferred<unknown>();
  const started = deferred<void>();
  await withFetch((request) => {
    started.resolve();
    return new Promise<Response>((resolve) => {
      request.signal.addEventListener('abort', () => {
        aborted.resolve(request.signal.reason);
        resolve(new Response('too late'));
      });
    });
  }, async (port) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => {});
    sock.write('GET /wait HTTP/1.1\r\nHost: x\r\n\r\n');
    await within(started.promise, 2000, 'the handler started');
    sock.destroy();
    const reason = await within(aborted.promise, 2000, 'request.signal fired');
    assert.ok(reason instanceof Error, String(reason));
  });
});

test('a streamed Response is cancelled when the client goes away', async () => {
  const cancelled = deferred<void>();
  const firstSent = deferred<void>();
  await withFetch(() => {
    let n = 0;
    return new Response(new ReadableStream<Uint8Array>({
      async pull(c) {
        if (n++ === 1) firstSent.resolve();
        await new Promise((r) => setTimeout(r, 10));
        c.enqueue(new Uint8Array(1024));
      },
      cancel() { cancelled.resolve(); },
    }));
  }, async (port) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => {});
    sock.write('GET /forever HTTP/1.1\r\nHost: x\r\n\r\n');
    await within(firstSent.promise, 2000, 'the stream started');
    sock.destroy();
    await within(cancelled.promise, 3000, 'the stream was cancelled');
  });
});

test('a handler that throws, or returns no Response, gets a 500 and a log line', async () => {
  await withFetch((request) => {
    if (request.url.endsWith('/throw')) throw new Error('handler failed');
    return 'not a response' as unknown as Response;
  }, async (port, logs) => {
    const a = await get(port, 'GET /throw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(a.status, 500);
    assert.doesNotMatch(a.body.toString(), /handler failed/);
    await logs.wait(/app error on GET \/throw: Error: handler failed/);
    const b = await get(port, 'GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(b.status, 500);
    await logs.wait(/app error on GET \/other: .*not a Response/);
  });
});

test('fromFetch() refuses what is not a handler', () => {
  assert.throws(() => fromFetch({} as unknown as Parameters<typeof fromFetch>[0]), { code: 'TSGI_ERR_APP_KIND' });
});
