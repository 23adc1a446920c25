// tsgi/http's 'upgrade' event: a request that may switch protocols, when the
// server has 'upgrade' listeners, takes its connection (a tunnel reply) and
// is emitted as node:http emits it. ws's WebSocketServer({ server }) and
// socket.io's Server(httpServer), unmodified, with their own clients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { Server as IoServer } from 'socket.io';
import { io as ioClient } from 'socket.io-client';
import { createServer, type Server } from 'tsgi/http';
import { RawConnection } from '../helpers/index.js';

function port(server: Server): number {
  return (server.address() as AddressInfo).port;
}

async function closed(server: Server): Promise<void> {
  if (!server.listening) return;
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
}

test('an Upgrade request with no upgrade listener is an ordinary request', async () => {
  const server = createServer((req, res) => res.end(`plain ${req.headers.upgrade}`)).listen(0, '127.0.0.1');
  const c = await RawConnection.open(port(server));
  try {
    await c.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n');
    const [res] = await c.responses(1);
    assert.equal(res!.status, 200);
    assert.equal(res!.body.toString(), 'plain websocket');
  } finally {
    c.destroy();
    await closed(server);
  }
});

test("'upgrade' gets (req, socket, head) as node:http gives them; the listener answers 101 and owns the bytes", async () => {
  const server = createServer((_req, res) => res.end('plain'));
  const seen: Array<Record<string, unknown>> = [];
  server.on('upgrade', (req: IncomingMessage, socket: Duplex & { remoteAddress?: string }, head: Buffer) => {
    seen.push({ method: req.method, url: req.url, upgrade: req.headers.upgrade, version: req.httpVersion,
      same: req.socket === socket, head: head.length, remote: socket.remoteAddress });
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (d: Buffer) => socket.write(d.toString().toUpperCase()));
    socket.on('end', () => socket.end());
  });
  server.listen(0, '127.0.0.1');
  const c = await RawConnection.open(port(server));
  try {
    // The first bytes of the new protocol come with the head.
    await c.write('GET /chat?room=1 HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nhello');
    while (!c.data.toString().endsWith('HELLO')) {
      if (c.closed) assert.fail(`closed: ${c.data.toString()}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.match(c.data.toString(), /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    await c.write(' again');
    while (!c.data.toString().endsWith(' AGAIN')) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(seen, [{ method: 'GET', url: '/chat?room=1', upgrade: 'echo', version: '1.1', same: true, head: 0,
      remote: '127.0.0.1' }]);
    c.socket.end();
    assert.equal(await c.waitClosed(3000), true);
  } finally {
    c.destroy();
    await closed(server);
  }
});

test("an 'upgrade' listener that throws: the connection is closed and the error logged", async () => {
  const lines: string[] = [];
  const server = createServer({ tsgi: { log: (l: string) => lines.push(l) } });
  server.on('upgrade', () => {
    throw new Error('upgrade broke');
  });
  server.listen(0, '127.0.0.1');
  const c = await RawConnection.open(port(server));
  try {
    await c.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n');
    assert.equal(await c.waitClosed(3000), true);
    assert.ok(lines.some((l) => l.includes('upgrade broke')), lines.join('\n'));
  } finally {
    c.destroy();
    await closed(server);
  }
});

test("ws: WebSocketServer({ server }) echoes text, binary and a 4 MiB message to ws's client", async () => {
  const server = createServer();
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    ws.send(`hello ${req.url}`);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  server.listen(0, '127.0.0.1');
  const client = new WebSocket(`ws://127.0.0.1:${port(server)}/room`);
  try {
    const messages: Array<{ data: Buffer; binary: boolean }> = [];
    let wake: (() => void) | undefined;
    client.on('message', (data: Buffer, binary: boolean) => {
      messages.push({ data, binary });
      wake?.();
    });
    const next = async (n: number): Promise<void> => {
      while (messages.length < n) await new Promise<void>((r) => (wake = r));
    };
    await once(client, 'open');
    await next(1);
    assert.equal(messages[0]!.data.toString(), 'hello /room');
    client.send('text one');
    client.send(Buffer.from([0, 1, 2, 255]));
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    client.send(big);
    await next(4);
    assert.deepEqual([messages[1]!.data.toString(), messages[1]!.binary], ['text one', false]);
    assert.deepEqual([[...messages[2]!.data], messages[2]!.binary], [[0, 1, 2, 255], true]);
    assert.equal(messages[3]!.data.length, big.length);
    assert.ok(messages[3]!.data.equals(big));
    client.close(1000, 'bye');
    const [code] = await once(client, 'close') as [number];
    assert.equal(code, 1000);
  } finally {
    client.terminate();
    wss.close();
    await closed(server);
  }
});

test('socket.io: Server(httpServer) and socket.io-client, over WebSocket and over long-polling', async () => {
  const server = createServer();
  const ioServer = new IoServer(server);
  ioServer.on('connection', (socket) => {
    socket.on('echo', (msg: unknown, ack: (reply: unknown) => void) => ack({ echoed: msg, transport: socket.conn.transport.name }));
  });
  server.listen(0, '127.0.0.1');
  try {
    for (const transports of [['websocket'], ['polling']]) {
      const client = ioClient(`http://127.0.0.1:${port(server)}`, { transports, reconnection: false, forceNew: true });
      try {
        await new Promise<void>((resolve, reject) => {
          client.once('connect', resolve);
          client.once('connect_error', reject);
        });
        const reply = await client.timeout(3000).emitWithAck('echo', { n: 1, s: 'é' }) as { echoed: unknown; transport: string };
        assert.deepEqual(reply, { echoed: { n: 1, s: 'é' }, transport: transports[0] });
      } finally {
        client.disconnect();
      }
    }
  } finally {
    ioServer.close();
    await closed(server);
  }
});

test('closeAllConnections() closes upgraded connections too', async () => {
  const server = createServer();
  const wss = new WebSocketServer({ server });
  server.listen(0, '127.0.0.1');
  const client = new WebSocket(`ws://127.0.0.1:${port(server)}/`);
  try {
    await once(client, 'open');
    const count = await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)));
    assert.equal(count, 1);
    const done = once(server, 'close');
    server.close();
    server.closeAllConnections();
    await once(client, 'close');
    await done;
  } finally {
    client.terminate();
    wss.close();
  }
});
