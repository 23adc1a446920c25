// Large WebSocket messages given as strings: encoded once into a block of the
// addon's, written from there, and what the socket did not take kept there
// (pinned) for each client, published ones shared by every subscriber. Raw
// clients that read nothing for a while, then slowly, get every byte, and
// messages of the scratch's size keep their own bytes behind a full socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type ServerHandle } from 'tsgi';
import { delay, until } from '../helpers/index.js';
import { RawWs, TEXT, text } from './frames.js';

const BIG = 'aé€😀\ud800'.repeat(350_000);        // 4.5 MB of UTF-8, one lone surrogate each 13 bytes
const NEWS = 'news: ' + '😀'.repeat(500_000);   // 2 MB, published to every client
const SCRATCH = ['€'.repeat(16384), 'é'.repeat(16384), 'x'.repeat(16384)];  // 16,384 UTF-16 units each

test('large string messages, sent and published, reach clients that read slowly intact', { timeout: 60_000 }, async () => {
  let server: ServerHandle | undefined;
  server = serve((req) => (req.tsgi.websocket ? {
    websocket: {
      open(ws) { ws.subscribe('all'); },
      message(ws) {
        ws.send(BIG);
        for (const s of SCRATCH) ws.send(s);
      },
    },
  } : { body: 'plain' }), { listen: '127.0.0.1:0', log: () => {} });
  const port = server.addresses[0]!.port!;
  const clients: RawWs[] = [];
  try {
    for (let i = 0; i < 3; i++) clients.push(await RawWs.open(port));
    await until(() => server!.upgraded!.websockets === 3, 5000, 'three sockets');
    for (const c of clients) {
      c.conn.socket.pause();
      await c.send(text('go'));
    }
    await delay(300);
    assert.equal(server.publish!('all', NEWS), 3);
    await delay(100);
    for (const c of clients) {
      c.conn.socket.on('data', () => {
        c.conn.socket.pause();
        setTimeout(() => c.conn.socket.resume(), 1);
      });
      c.conn.socket.resume();
    }
    const want = [BIG, ...SCRATCH, NEWS].map((s) => Buffer.from(s, 'utf8'));
    for (const c of clients) {
      await c.conn.waitUntil(() => c.frames.length >= want.length || c.closed, 30_000, 'five messages');
      const frames = c.frames;
      assert.equal(frames.length, want.length);
      for (let i = 0; i < want.length; i++) {
        assert.equal(frames[i]!.opcode, TEXT);
        assert.equal(frames[i]!.payload.length, want[i]!.length, `message ${i}`);
        assert.ok(frames[i]!.payload.equals(want[i]!), `message ${i}: the bytes differ`);
      }
    }
  } finally {
    for (const c of clients) c.conn.destroy();
    await server.close(1000);
  }
});
