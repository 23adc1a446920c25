// ws on tsgi/http under the loads a real app sees: a broadcast to 1,000
// clients, 16 MiB messages, a client that stops reading (bufferedAmount
// tells the app, and the server's memory stays bounded when it listens),
// clients that vanish, and a server closed with sockets open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { createServer, type Server } from 'tsgi/http';
import { delay } from '../helpers/index.js';

function port(server: Server): number {
  return (server.address() as AddressInfo).port;
}

async function start(onConnection: (ws: WebSocket, wss: WebSocketServer) => void):
  Promise<{ server: Server; wss: WebSocketServer; url: string }> {
  const server = createServer();
  const wss = new WebSocketServer({ server: server as unknown as NetServer as never });
  wss.on('connection', (ws) => onConnection(ws, wss));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, wss, url: `ws://127.0.0.1:${port(server)}/` };
}

async function stop(server: Server, wss: WebSocketServer): Promise<void> {
  for (const c of wss.clients) c.terminate();
  wss.close();
  if (server.listening) await new Promise<void>((r) => server.close(() => r()));
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

test('a broadcast reaches 1,000 clients', { timeout: 60_000 }, async () => {
  const { server, wss, url } = await start((ws, all) => {
    ws.on('message', (m) => {
      for (const c of all.clients) c.send(`news: ${m}`);
    });
  });
  const clients: WebSocket[] = [];
  try {
    for (let i = 0; i < 1000; i += 100) {
      clients.push(...await Promise.all(Array.from({ length: 100 }, () => open(url))));
    }
    let got = 0;
    const all = new Promise<void>((resolve) => {
      for (const c of clients) {
        c.once('message', (d) => {
          assert.equal(String(d), 'news: go');
          if (++got === clients.length) resolve();
        });
      }
    });
    clients[0]!.send('go');
    await all;
    assert.equal(got, 1000);
  } finally {
    for (const c of clients) c.terminate();
    await stop(server, wss);
  }
});

test('16 MiB messages each way', { timeout: 60_000 }, async () => {
  const { server, wss, url } = await start((ws) => ws.on('message', (d, binary) => ws.send(d, { binary })));
  const client = await open(url);
  try {
    const big = Buffer.alloc(16 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
    client.send(big);
    const [echo] = await once(client, 'message') as [Buffer];
    assert.equal(echo.length, big.length);
    assert.ok(echo.equals(big));
  } finally {
    client.terminate();
    await stop(server, wss);
  }
});

test('a client that stops reading: bufferedAmount grows, an app that heeds it keeps memory bounded', { timeout: 60_000 },
  async () => {
    const CHUNK = Buffer.alloc(64 * 1024, 1);
    const LIMIT = 1024 * 1024;
    let sent = 0;
    let peak = 0;
    let paused = false;
    const { server, wss, url } = await start((ws) => {
      const pump = (): void => {
        // The app's side of backpressure: stop while 1 MiB waits.
        while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount < LIMIT && sent < 2000) {
          ws.send(CHUNK);
          sent++;
        }
        peak = Math.max(peak, ws.bufferedAmount);
        if (ws.bufferedAmount >= LIMIT) paused = true;
        if (ws.readyState === WebSocket.OPEN && sent < 2000) setTimeout(pump, 20);
      };
      pump();
    });
    // A raw client: the handshake, then not one byte read.
    const raw = net.connect(port(server), '127.0.0.1');
    await once(raw, 'connect');
    raw.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    raw.pause();
    try {
      const before = process.memoryUsage().rss;
      await delay(1500);
      assert.ok(paused, 'bufferedAmount reached the app\'s limit: the client is slow');
      assert.ok(sent < 2000, `the app stopped sending (${sent} of 2000 chunks)`);
      assert.ok(peak >= LIMIT && peak < LIMIT + 2 * CHUNK.length, `bufferedAmount peaked at ${peak}`);
      const grew = process.memoryUsage().rss - before;
      assert.ok(grew < 64 * 1024 * 1024, `RSS grew ${(grew / 1048576).toFixed(1)} MiB`);
      // Reading again drains it, and the app goes on.
      const at = sent;
      raw.resume();
      for (let i = 0; i < 200 && sent === at; i++) await delay(20);
      assert.ok(sent > at, 'sending resumed once the client read');
    } finally {
      raw.destroy();
      await stop(server, wss);
    }
  });

test('clients that vanish: the server sees 1006 and goes on serving', { timeout: 30_000 }, async () => {
  const codes: number[] = [];
  const { server, wss, url } = await start((ws) => {
    ws.on('close', (code) => codes.push(code));
    ws.on('message', (d) => ws.send(d));
  });
  try {
    const gone = await Promise.all(Array.from({ length: 20 }, () => open(url)));
    for (const c of gone) (c as unknown as { _socket: net.Socket })._socket.destroy();
    for (let i = 0; i < 200 && codes.length < 20; i++) await delay(10);
    assert.equal(codes.length, 20);
    assert.ok(codes.every((c) => c === 1006), `codes ${codes.join(',')}`);
    const fresh = await open(url);
    fresh.send('still here');
    const [m] = await once(fresh, 'message') as [Buffer];
    assert.equal(String(m), 'still here');
    fresh.close();
  } finally {
    await stop(server, wss);
  }
});

test('closing the server with sockets open: each client gets a close frame, within a bounded wait', { timeout: 30_000 },
  async () => {
    const { server, wss, url } = await start(() => {});
    const clients = await Promise.all(Array.from({ length: 10 }, () => open(url)));
    const codes = clients.map((c) => once(c, 'close').then(([code]) => code as number));
    const started = Date.now();
    // What an app does on shutdown: tell its sockets, then close the server.
    for (const c of wss.clients) c.close(1001, 'going away');
    await new Promise<void>((r) => server.close(() => r()));
    const got = await Promise.all(codes);
    assert.deepEqual(got, new Array(10).fill(1001));
    assert.ok(Date.now() - started < 10_000);
    wss.close();
  });
