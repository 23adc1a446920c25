// tsgi/http's Server as node:http's: listen() in each of its forms, address(),
// `listening`, the 'listening', 'close' and 'error' events, and close() when
// not running. Each test closes what it opened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createServer, Server } from 'tsgi/http';
import { binding } from 'tsgi/native';
import { tempDir } from '../helpers/index.js';

/** Some containers have no IPv6 loopback: there "every interface" is 0.0.0.0, as with node:http. */
const IPV6 = Object.values(os.networkInterfaces()).some((list) => list?.some((i) => i.family === 'IPv6' && i.internal));

const hello = (_req: unknown, res: { end(s: string): void }): void => res.end('hello');

async function closed(server: Server): Promise<void> {
  if (!server.listening) return;
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; body: string }> {
  const r = await fetch(url, init);
  return { status: r.status, body: await r.text() };
}

test('listen(0) binds an ephemeral port on all interfaces; address() reports it at once', async () => {
  const server = createServer(hello);
  assert.equal(server.listening, false);
  assert.equal(server.address(), null);
  const events: string[] = [];
  server.on('listening', () => events.push('listening'));
  server.listen(0);
  try {
    assert.equal(server.listening, true);
    const addr = server.address();
    assert.ok(addr !== null && typeof addr === 'object');
    assert.deepEqual([addr.address, addr.family], IPV6 ? ['::', 'IPv6'] : ['0.0.0.0', 'IPv4']);
    assert.ok(addr.port > 0);
    assert.deepEqual(events, [], "'listening' comes on a later tick, as node:http's");
    await once(server, 'listening');
    assert.deepEqual(await get(`http://127.0.0.1:${addr.port}/`), { status: 200, body: 'hello' });
    if (IPV6) assert.deepEqual(await get(`http://[::1]:${addr.port}/`), { status: 200, body: 'hello' });
  } finally {
    await closed(server);
  }
});

test('listen(port, host, backlog, cb), listen(port, cb) and listen({ port, host }, cb) call back once listening', async () => {
  for (const args of [[0, '127.0.0.1', 511], [0], [{ port: 0, host: '127.0.0.1' }], ['0', '127.0.0.1']] as unknown[][]) {
    const server = new Server(hello);
    await new Promise<void>((resolve) => (server.listen as (...a: unknown[]) => Server)(...args, resolve));
    try {
      const addr = server.address() as net.AddressInfo;
      const host = args.length > 1 || typeof args[0] === 'object' ? '127.0.0.1' : IPV6 ? '::' : '0.0.0.0';
      assert.equal(addr.address, host, JSON.stringify(args));
      assert.equal(addr.family, host === '::' ? 'IPv6' : 'IPv4');
      assert.deepEqual(await get(`http://127.0.0.1:${addr.port}/`), { status: 200, body: 'hello' });
    } finally {
      await closed(server);
    }
  }
});

test('listen() and listen(cb) take any free port, as node does', async () => {
  const server = createServer(hello);
  await new Promise<void>((resolve) => server.listen(resolve));
  try {
    assert.ok((server.address() as net.AddressInfo).port > 0);
  } finally {
    await closed(server);
  }
});

test('listen({ host: "::1" }) is IPv6 only; "::" is every interface', { skip: IPV6 ? false : 'no IPv6 loopback here' }, async () => {
  const v6 = createServer(hello).listen({ port: 0, host: '::1' });
  const any = createServer(hello).listen({ port: 0, host: '::' });
  try {
    const a6 = v6.address() as net.AddressInfo;
    assert.deepEqual([a6.address, a6.family], ['::1', 'IPv6']);
    assert.deepEqual(await get(`http://[::1]:${a6.port}/`), { status: 200, body: 'hello' });
    const aa = any.address() as net.AddressInfo;
    assert.equal(aa.address, '::');
    assert.deepEqual(await get(`http://127.0.0.1:${aa.port}/`), { status: 200, body: 'hello' });
  } finally {
    await closed(v6);
    await closed(any);
  }
});

test('listen(path) serves a unix socket; address() is the path', async () => {
  const dir = tempDir();
  const sock = path.join(dir, 'app.sock');
  const server = createServer(hello);
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  try {
    assert.equal(server.address(), sock);
    const body = await new Promise<string>((resolve, reject) => {
      const c = net.connect(sock, () => c.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      let data = '';
      c.on('data', (d) => (data += d));
      c.on('end', () => resolve(data));
      c.on('error', reject);
    });
    assert.match(body, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nhello$/);
    const other = createServer(hello);
    await new Promise<void>((resolve) => other.listen({ path: path.join(dir, 'b.sock') }, resolve));
    assert.equal(other.address(), path.join(dir, 'b.sock'));
    await closed(other);
  } finally {
    await closed(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('listen({ fd }) serves a socket bound elsewhere', async () => {
  const bound = binding.bindListener({ address: '127.0.0.1:0' });
  const server = createServer(hello);
  await new Promise<void>((resolve) => server.listen({ fd: bound.fd }, resolve));
  try {
    const addr = server.address() as net.AddressInfo;
    assert.equal(addr.port, bound.port);
    assert.deepEqual(await get(`http://127.0.0.1:${bound.port}/`), { status: 200, body: 'hello' });
  } finally {
    await closed(server);
  }
});

test("an address in use is an 'error' event with node's code, errno, syscall and port", async () => {
  const first = createServer(hello).listen(0, '127.0.0.1');
  const port = (first.address() as net.AddressInfo).port;
  try {
    const second = createServer(hello);
    let listened = false;
    second.listen(port, '127.0.0.1', () => (listened = true));
    assert.equal(second.listening, false);
    const [err] = await once(second, 'error') as [NodeJS.ErrnoException & { port: number; address: string }];
    assert.equal(err.code, 'EADDRINUSE');
    assert.equal(err.syscall, 'listen');
    assert.equal(typeof err.errno, 'number');
    assert.ok(err.errno! < 0);
    assert.equal(err.port, port);
    assert.equal(err.address, '127.0.0.1');
    assert.equal(err.message, `listen EADDRINUSE: address already in use 127.0.0.1:${port}`);
    assert.equal(listened, false);
    assert.equal(second.address(), null);
  } finally {
    await closed(first);
  }
});

test('bad arguments throw as node:http throws; a second listen() throws ERR_SERVER_ALREADY_LISTEN', async () => {
  const server = createServer(hello);
  assert.throws(() => server.listen(70000), { code: 'ERR_SOCKET_BAD_PORT', name: 'RangeError' });
  assert.throws(() => server.listen(-1), { code: 'ERR_SOCKET_BAD_PORT' });
  assert.throws(() => server.listen({}), { code: 'ERR_INVALID_ARG_VALUE' });
  server.listen(0, '127.0.0.1');
  try {
    assert.throws(() => server.listen(0), { code: 'ERR_SERVER_ALREADY_LISTEN' });
  } finally {
    await closed(server);
  }
});

test("close() stops accepting, emits 'close' and calls back; when not running the callback gets ERR_SERVER_NOT_RUNNING", async () => {
  const server = createServer(hello).listen(0, '127.0.0.1');
  const port = (server.address() as net.AddressInfo).port;
  const events: string[] = [];
  server.on('close', () => events.push('close'));
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  assert.deepEqual(events, ['close']);
  assert.equal(server.listening, false);
  assert.equal(server.address(), null);
  await assert.rejects(fetch(`http://127.0.0.1:${port}/`));

  const err = await new Promise<Error | undefined>((resolve) => server.close(resolve));
  assert.equal((err as NodeJS.ErrnoException | undefined)?.code, 'ERR_SERVER_NOT_RUNNING');
  assert.deepEqual(events, ['close', 'close'], "node:http emits 'close' here too");

  // And it listens again after a close.
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  assert.equal((await get(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`)).body, 'hello');
  await closed(server);
});

test('close() waits for a request in progress, then closes', async () => {
  let release: (() => void) | undefined;
  const server = createServer((_req, res) => {
    release = () => res.end('late');
  });
  server.listen(0, '127.0.0.1');
  const port = (server.address() as net.AddressInfo).port;
  const reply = get(`http://127.0.0.1:${port}/`);
  while (release === undefined) await new Promise((r) => setTimeout(r, 5));
  let closedAt = 0;
  server.close(() => (closedAt = Date.now()));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(closedAt, 0, "'close' waits for the request");
  release();
  assert.deepEqual(await reply, { status: 200, body: 'late' });
  if (closedAt === 0) await once(server, 'close');
});

test('an AbortSignal given to listen() closes the server', async () => {
  const ac = new AbortController();
  const server = createServer(hello);
  server.listen({ port: 0, host: '127.0.0.1', signal: ac.signal });
  assert.equal(server.listening, true);
  ac.abort();
  await once(server, 'close');
  assert.equal(server.listening, false);
});

test('ref() and unref() return the server; a closed server lets the process exit', () => {
  const server = createServer(hello);
  assert.equal(server.ref(), server);
  assert.equal(server.unref(), server);
});
