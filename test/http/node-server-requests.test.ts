// tsgi/http's Server serving: the 'request' event with node:http's req and
// res, a listener that throws, keep-alive and its timeouts, header limits,
// closeAllConnections(), getConnections(), supertest's way of using a
// server (createServer(app).listen(0), then address().port), and Fastify's
// serverFactory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import { createServer, type Server } from 'tsgi/http';
import { RawConnection } from '../helpers/index.js';

function port(server: Server): number {
  return (server.address() as AddressInfo).port;
}

async function closed(server: Server): Promise<void> {
  if (!server.listening) return;
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
}

function quiet(): { tsgi: { log: (line: string) => void }; lines: string[] } {
  const lines: string[] = [];
  return { tsgi: { log: (line: string) => lines.push(line) }, lines };
}

test("'request' gets node:http's IncomingMessage and ServerResponse, every listener in order", async () => {
  const server = createServer();
  const seen: string[] = [];
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    seen.push(`first ${req.method} ${req.url} ${req.httpVersion} ${String(req instanceof http.IncomingMessage)} ${
      String(res instanceof http.ServerResponse)}`);
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      res.writeHead(201, { 'content-type': 'text/plain', 'x-got': req.headers['x-one'] as string });
      res.end(`got ${body}`);
    });
  });
  server.listen(0, '127.0.0.1');
  try {
    const r = await fetch(`http://127.0.0.1:${port(server)}/p?q=1`, { method: 'POST', body: 'data', headers: { 'x-one': '1' } });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('x-got'), '1');
    assert.equal(await r.text(), 'got data');
    assert.deepEqual(seen, ['first POST /p?q=1 1.1 true true']);
  } finally {
    await closed(server);
  }
});

test('a listener that throws: the client gets a 500, the error is logged, the server goes on', async () => {
  const q = quiet();
  const server = createServer({ tsgi: q.tsgi }, (req, res) => {
    if (req.url === '/throw') throw new Error('listener broke');
    res.end('fine');
  });
  server.listen(0, '127.0.0.1');
  try {
    const r = await fetch(`http://127.0.0.1:${port(server)}/throw`);
    assert.equal(r.status, 500);
    await r.text();
    assert.ok(q.lines.some((l) => l.includes('listener broke') && l.includes('GET /throw')), q.lines.join('\n'));
    assert.equal(await (await fetch(`http://127.0.0.1:${port(server)}/ok`)).text(), 'fine');
  } finally {
    await closed(server);
  }
});

test('keep-alive: several requests over one connection', async () => {
  const ports = new Set<number | undefined>();
  const server = createServer((req, res) => {
    ports.add(req.socket.remotePort);
    res.end(req.url);
  }).listen(0, '127.0.0.1');
  const c = await RawConnection.open(port(server));
  try {
    for (let i = 0; i < 3; i++) await c.write(`GET /n${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const res = await c.responses(3);
    assert.deepEqual(res.map((r) => r.body.toString()), ['/n0', '/n1', '/n2']);
    assert.equal(c.closed, false);
    assert.equal(ports.size, 1);
  } finally {
    c.destroy();
    await closed(server);
  }
});

test('keepAliveTimeout and headersTimeout set before listen() apply', async () => {
  const server = createServer((_req, res) => res.end('x'));
  server.keepAliveTimeout = 150;
  server.headersTimeout = 150;
  server.listen(0, '127.0.0.1');
  try {
    const idle = await RawConnection.open(port(server));
    await idle.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await idle.responses(1);
    const t0 = Date.now();
    assert.equal(await idle.waitClosed(3000), true, 'an idle keep-alive connection is closed');
    assert.ok(Date.now() - t0 < 2000);
    idle.destroy();

    const slow = await RawConnection.open(port(server));
    await slow.write('GET / HTTP/1.1\r\nHost: x\r\n');
    assert.equal(await slow.waitClosed(3000), true, 'a head that does not come in time ends the connection');
    slow.destroy();
  } finally {
    await closed(server);
  }
});

test('maxHeadersCount: more header fields are refused with 431', async () => {
  const server = createServer((_req, res) => res.end('x'));
  server.maxHeadersCount = 5;
  server.listen(0, '127.0.0.1');
  const c = await RawConnection.open(port(server));
  try {
    const fields = Array.from({ length: 8 }, (_, i) => `X-F${i}: ${i}\r\n`).join('');
    await c.write(`GET / HTTP/1.1\r\nHost: x\r\n${fields}\r\n`);
    const [res] = await c.responses(1);
    assert.equal(res!.status, 431);
  } finally {
    c.destroy();
    await closed(server);
  }
});

test('closeAllConnections() ends replies in progress, so close() completes', async () => {
  const server = createServer(quiet(), (_req, res) => {
    res.write('started');
  }).listen(0, '127.0.0.1');
  const c = await RawConnection.open(port(server));
  try {
    await c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    while (!c.data.includes('started')) await new Promise((r) => setTimeout(r, 5));
    const count = await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)));
    assert.equal(count, 1);
    const done = once(server, 'close');
    server.close();
    server.closeAllConnections();
    await done;
    assert.equal(await c.waitClosed(3000), true);
  } finally {
    c.destroy();
  }
});

test('setTimeout() sets `timeout` and returns the server; the properties have node:http\'s defaults', async () => {
  const server = createServer();
  assert.deepEqual([server.timeout, server.keepAliveTimeout, server.headersTimeout, server.requestTimeout,
    server.maxHeadersCount, server.maxConnections], [0, 5000, 60000, 300000, null, undefined]);
  const cb = (): void => {};
  assert.equal(server.setTimeout(1234, cb), server);
  assert.equal(server.timeout, 1234);
  assert.equal(server.setTimeout(cb), server, 'the callback-only form');
  assert.equal(server.timeout, 1234);
  assert.equal(server.listenerCount('timeout'), 2);
  const withOptions = createServer({ keepAliveTimeout: 1000, headersTimeout: 2000, requestTimeout: 3000 });
  assert.deepEqual([withOptions.keepAliveTimeout, withOptions.headersTimeout, withOptions.requestTimeout], [1000, 2000, 3000]);
});

test('maxConnections: a connection beyond it waits while the others are busy', async () => {
  let release: (() => void) | undefined;
  const server = createServer((req, res) => {
    if (req.url === '/hold') release = () => res.end('held');
    else res.end('x');
  });
  server.maxConnections = 1;
  server.listen(0, '127.0.0.1');
  const a = await RawConnection.open(port(server));
  const b = await RawConnection.open(port(server));
  try {
    await a.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    while (release === undefined) await new Promise((r) => setTimeout(r, 5));
    await b.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(b.received, 0, 'the second connection is not served while the first is busy');
    release();
    await a.responses(1);
    a.destroy();
    const [res] = await b.responses(1, { timeoutMs: 3000 });
    assert.equal(res!.status, 200);
  } finally {
    a.destroy();
    b.destroy();
    await closed(server);
  }
});

test('supertest: createServer(app) and an Express app it listens itself', async () => {
  const app = express();
  app.use(express.json());
  app.post('/echo', (req, res) => {
    res.json({ got: req.body as unknown, ip: req.ip });
  });
  const server = createServer(app);
  const r = await request(server).post('/echo').send({ a: 1 }).expect(200);
  assert.deepEqual((r.body as { got: unknown }).got, { a: 1 });
  assert.equal(server.listening, false, 'supertest closed the server it listened');
  const listening = createServer(app).listen(0);
  try {
    const again = await request(listening).post('/echo').send({ b: 2 }).expect('content-type', /json/);
    assert.deepEqual((again.body as { got: unknown }).got, { b: 2 });
  } finally {
    await closed(listening);
  }
});

test('Fastify with serverFactory: createServer(handler), then fastify.listen() and close()', async () => {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ serverFactory: (handler) => createServer(handler) });
  app.get('/f/:x', async (req) => ({ x: (req.params as { x: string }).x, socket: req.raw.socket.constructor.name }));
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const r = await fetch(`${address}/f/1`);
    assert.deepEqual(await r.json(), { x: '1', socket: 'Exchange' });
  } finally {
    await app.close();
  }
});
