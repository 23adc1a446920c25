// The TSGI WebSocket API (ServerWebSocket, its handlers, topics, the
// server's stats and shutdown) and the `tunnel` reply, each against a real
// serve() on 127.0.0.1: raw sockets (frames.ts) where the bytes matter, the
// `ws` package where a well-behaved client is enough.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import WebSocket from 'ws';
import { serve, type App, type Reply, type Request, type ServeOptions, type ServerHandle, type TunnelSocket,
  type WebSocket as ServerWs, type WebSocketHandlers } from 'tsgi';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { captureLog, deferred, delay, RawConnection, tempDir, until, within } from '../helpers/index.js';
import { ask, uwsgiRequest } from '../helpers/cgi-client.js';
import { BINARY, CLOSE, PING, PONG, TEXT, close, describeFrames, handshake, parseFrames, ping, pong, RawWs,
  serverClose, serverFrame, text, binary } from './frames.js';

/** A server for one test, closed after it. */
function start(t: TestContext, app: App, opts: ServeOptions = {}): { server: ServerHandle; port: number } {
  const server = serve(app, { listen: '127.0.0.1:0', log: () => {}, ...opts });
  t.after(() => server.close(1000));
  return { server, port: server.addresses[0]!.port! };
}

/** A server whose every WebSocket gets `handlers` (and the reply's other fields from `extra`). */
function startWs(t: TestContext, handlers: WebSocketHandlers, opts: ServeOptions = {},
  extra: (req: Request) => Partial<Reply> = () => ({})): { server: ServerHandle; port: number } {
  return start(t, (req) => (req.tsgi.websocket ? { websocket: handlers, ...extra(req) } : { body: 'plain' }), opts);
}

function client(port: number, opts: { protocols?: string[]; maxPayload?: number } = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, opts.protocols ?? [], {
      perMessageDeflate: false, maxPayload: opts.maxPayload ?? 100 * 1024 * 1024,
    });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new Error('closed before a message'));
    ws.once('message', (data, isBinary) => {
      ws.off('close', onClose);
      resolve({ data: data as Buffer, isBinary });
    });
    ws.once('close', onClose);
  });
}

function closedWith(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

// ---- handlers and their order ---------------------------------------------------

test('open, message, close: in order, with the client\'s code and reason', async (t) => {
  const seen: string[] = [];
  const done = deferred<void>();
  const { port } = startWs(t, {
    open(ws) { seen.push(`open ${ws.readyState}`); },
    message(ws, data, isBinary) { seen.push(`message ${isBinary ? 'binary' : 'text'} ${String(Buffer.from(data as never))}`); },
    close(ws, code, reason) { seen.push(`close ${code} ${reason} ${ws.readyState}`); done.resolve(); },
  });
  const ws = await client(port);
  ws.send('one');
  ws.send(Buffer.from('two'));
  ws.close(4321, 'see you');
  await within(done.promise, 5000, 'the close handler');
  assert.deepEqual(seen, ['open open', 'message text one', 'message binary two', 'close 4321 see you closed']);
  assert.deepEqual(await closedWith(ws).catch(() => undefined) ?? { code: 4321, reason: 'see you' },
    { code: 4321, reason: 'see you' });
});

test('a text message is a string, a binary one bytes; send() picks the opcode from the type or { binary }', async (t) => {
  const { port } = startWs(t, {
    message(ws, data, isBinary) {
      assert.equal(typeof data === 'string', !isBinary);
      ws.send(data);                                        // same kind back
      ws.send(isBinary ? 'as text' : 'as binary', { binary: !isBinary });
    },
  });
  const raw = await RawWs.open(port);
  try {
    await raw.send(Buffer.concat([text('hé'), binary(Buffer.from([0, 1, 2]))]));
    await raw.waitFrames(4);
    await raw.send(close(1000));
    await raw.expectEnd([
      serverFrame(TEXT, 'hé'), serverFrame(BINARY, 'as binary'), serverFrame(BINARY, Buffer.from([0, 1, 2])),
      serverFrame(TEXT, 'as text'), serverClose(1000),
    ]);
  } finally {
    raw.destroy();
  }
});

test('data, protocol, remoteAddress and remotePort', async (t) => {
  let info: { data: unknown; protocol: string; remoteAddress: string; remotePort: number } | undefined;
  const { port } = startWs(t, {
    open(ws) { info = { data: ws.data, protocol: ws.protocol, remoteAddress: ws.remoteAddress, remotePort: ws.remotePort }; },
  }, {}, (req) => ({ data: { user: req.QUERY_STRING || 'anon' } }));
  const ws = await client(port);
  const localPort = (ws as unknown as { _socket: net.Socket })._socket.localPort;
  await until(() => info !== undefined, 3000, 'open');
  assert.deepEqual(info, { data: { user: 'anon' }, protocol: '', remoteAddress: '127.0.0.1', remotePort: localPort });
  ws.close();
  await closedWith(ws);
});

// ---- the 101 -------------------------------------------------------------------

test('subprotocol: the one chosen is in the 101 and in ws.protocol', async (t) => {
  let protocol = '';
  const { port } = startWs(t, { open(ws) { protocol = ws.protocol; } }, {}, () => ({ protocol: 'superchat' }));
  const ws = await client(port, { protocols: ['chat', 'superchat'] });
  assert.equal(ws.protocol, 'superchat');
  await until(() => protocol === 'superchat', 3000, 'open');
  ws.close();
  await closedWith(ws);
});

test('subprotocol not offered by the client -> 500, the error logged', async (t) => {
  const log = captureLog();
  const { port } = startWs(t, {}, { log: log.log }, () => ({ protocol: 'mqtt' }));
  const conn = await RawConnection.open(port);
  t.after(() => conn.destroy());
  await conn.write(handshake({ extra: ['Sec-WebSocket-Protocol: chat, superchat'] }));
  const [res] = await conn.responses(1);
  assert.equal(res!.status, 500);
  await log.wait(/subprotocol "mqtt" was not offered/);
});

test('extra headers of the reply are in the 101', async (t) => {
  const { port } = startWs(t, {}, {}, () => ({ headers: { 'X-Session': 'abc', 'Set-Cookie': 's=1' } }));
  const raw = await RawWs.open(port);
  try {
    assert.match(raw.head, /\r\nX-Session: abc\r\n/);
    assert.match(raw.head, /\r\nSet-Cookie: s=1\r\n/);
    await raw.send(close(1000));
    await raw.expectEnd([serverClose(1000)]);
  } finally {
    raw.destroy();
  }
});

test('a websocket reply to a plain request -> 500', async (t) => {
  const log = captureLog();
  const { port } = start(t, () => ({ websocket: {} }), { log: log.log });
  const conn = await RawConnection.open(port);
  t.after(() => conn.destroy());
  await conn.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  const [res] = await conn.responses(1);
  assert.equal(res!.status, 500);
  await log.wait(/not a WebSocket handshake/);
});

test('a websocket reply with a status or body -> 500', async (t) => {
  const { port } = start(t, () => ({ websocket: {}, status: 200, body: 'x' }));
  const conn = await RawConnection.open(port);
  t.after(() => conn.destroy());
  await conn.write(handshake());
  const [res] = await conn.responses(1);
  assert.equal(res!.status, 500);
});

// ---- send, backpressure, drain -------------------------------------------------------

test('send() says ok, then backpressure to a client that stops reading; the queue holds what was sent, drain fires when it reads', { timeout: 30_000 }, async (t) => {
  const HIGH = 256 * 1024;
  const CHUNK = Buffer.alloc(60_000, 0x61);  // a 4-byte frame header (16-bit length)
  let sentAfterFull = 0;
  let statuses: string[] = [];
  let queuedAtFull = 0;
  let sock: ServerWs | undefined;
  let drains = 0;
  const { port } = startWs(t, {
    open(ws) { sock = ws; },
    drain(ws) { drains++; assert.ok(ws.bufferedAmount <= HIGH, `bufferedAmount ${ws.bufferedAmount} at drain`); },
  }, { highWaterMark: HIGH });
  const raw = await RawWs.open(port);
  t.after(() => raw.destroy());
  raw.conn.socket.pause();  // the client stops reading: the kernel's buffers fill, then our queue
  await until(() => sock !== undefined, 3000, 'open');
  // Send until the server says backpressure (the kernel's socket buffers
  // take the first megabytes), bounded.
  let total = 0;
  for (let i = 0; i < 2000; i++) {
    const st = sock!.send(CHUNK);
    statuses.push(st);
    total += CHUNK.length;
    if (st === 'backpressure') break;
    if (i % 16 === 15) await delay(1);  // let the loop write what it can
  }
  assert.equal(statuses.at(-1), 'backpressure', `no backpressure after ${total} bytes`);
  assert.ok(statuses.slice(0, -1).every((s) => s === 'ok'));
  queuedAtFull = sock!.bufferedAmount;
  assert.ok(queuedAtFull > HIGH, `bufferedAmount ${queuedAtFull} when send() said backpressure`);
  assert.ok(queuedAtFull <= HIGH + CHUNK.length + 14, `bufferedAmount ${queuedAtFull}: more than one message over the mark`);
  // An app that sends on regardless: the queue grows by exactly what it sent.
  for (let i = 0; i < 4; i++) {
    assert.equal(sock!.send(CHUNK), 'backpressure');
    sentAfterFull += CHUNK.length + 4;  // a 16-bit length header
  }
  await delay(50);
  const queued = sock!.bufferedAmount;
  assert.equal(queued, queuedAtFull + sentAfterFull, 'the queue grew by what was sent, the client reading nothing');
  assert.equal(drains, 0);
  // The client reads again: everything arrives, drain fires once the queue is low.
  const expectBytes = (total + 4 * CHUNK.length) + (statuses.length + 4) * 4;
  raw.conn.socket.resume();
  await raw.conn.waitUntil(() => raw.bytes.length >= expectBytes, 20_000, 'every message');
  await until(() => drains > 0, 5000, 'drain');
  assert.equal(sock!.bufferedAmount, 0);
  const frames = parseFrames(raw.bytes).frames;
  assert.equal(frames.length, statuses.length + 4);
  assert.ok(frames.every((f) => f.opcode === BINARY && f.payload.equals(CHUNK)));
  assert.equal(sock!.send('after'), 'ok');
  await raw.send(close(1000));
  assert.equal(await raw.waitClosed(5000), true);
  assert.equal(sock!.send('late'), 'closed');
  assert.equal(sock!.readyState, 'closed');
});

test('a client that pings and reads nothing: the queue stays bounded, every pong arrives once it reads', { timeout: 30_000 }, async (t) => {
  const HIGH = 256 * 1024;
  let sock: ServerWs | undefined;
  const { port } = startWs(t, { open(ws) { sock = ws; } }, { highWaterMark: HIGH });
  const raw = await RawWs.open(port);
  t.after(() => raw.destroy());
  await until(() => sock !== undefined, 3000, 'open');
  raw.conn.socket.pause();
  const batch = Buffer.concat(Array<Buffer>(1000).fill(ping(Buffer.alloc(125, 0x41))));
  let pings = 0;
  // Until the server stops reading (the kernel's buffers full both ways), bounded.
  for (let i = 0; i < 200; i++) {
    pings += 1000;
    if (raw.conn.socket.write(batch)) continue;
    const drained = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 300);
      raw.conn.socket.once('drain', () => { clearTimeout(timer); resolve(true); });
    });
    if (!drained) break;
  }
  await delay(100);
  const queued = sock!.bufferedAmount;
  assert.ok(queued <= HIGH + 128 * 1024, `${queued} bytes of pongs queued for a client that reads nothing (${pings} pings sent)`);
  raw.conn.socket.resume();
  const pongLen = 2 + 125;
  await raw.conn.waitUntil(() => raw.bytes.length >= pings * pongLen, 25_000, `${pings} pongs`);
  const { frames, rest } = parseFrames(raw.bytes);
  assert.equal(rest.length, 0);
  assert.equal(frames.length, pings);
  assert.ok(frames.every((f) => f.opcode === PONG && f.payload.length === 125 && f.payload[0] === 0x41));
  await raw.send(close(1000));
  assert.equal(await raw.waitClosed(5000), true);
});

test('send() after close() and after the client left says closed', async (t) => {
  const statuses: string[] = [];
  const gone = deferred<void>();
  const { port } = startWs(t, {
    message(ws) {
      ws.close(1000);
      statuses.push(ws.send('after close'));
    },
    close(ws) { statuses.push(ws.send('after the end')); gone.resolve(); },
  });
  const ws = await client(port);
  ws.send('x');
  await within(gone.promise, 5000, 'close');
  assert.deepEqual(statuses, ['closed', 'closed']);
});

// ---- pause/resume --------------------------------------------------------------------

test('pause() holds messages back until resume(), in order', async (t) => {
  const got: string[] = [];
  let sock: ServerWs | undefined;
  const { port } = startWs(t, {
    open(ws) { sock = ws; ws.pause(); },
    message(ws, data) { got.push(String(data)); },
  });
  const ws = await client(port);
  await until(() => sock !== undefined, 3000, 'open');
  for (let i = 0; i < 5; i++) ws.send(`m${i}`);
  await delay(200);
  assert.deepEqual(got, [], 'nothing reaches a paused socket');
  sock!.resume();
  await until(() => got.length === 5, 3000, 'the messages after resume');
  assert.deepEqual(got, ['m0', 'm1', 'm2', 'm3', 'm4']);
  ws.close();
  await closedWith(ws);
});

// ---- topics ------------------------------------------------------------------------

test('subscribe/publish: ws.publish skips the sender, handle.publish reaches all, unsubscribe stops it', async (t) => {
  const counts: number[] = [];
  const { server, port } = startWs(t, {
    open(ws) { ws.subscribe('room'); },
    message(ws, data) {
      const s = String(data);
      if (s === 'leave') {
        ws.unsubscribe('room');
        assert.equal(ws.isSubscribed('room'), false);
        ws.send('left');
      } else {
        assert.equal(ws.isSubscribed('room'), true);
        counts.push(ws.publish('room', `from peer: ${s}`));
      }
    },
  });
  const [a, b, c] = await Promise.all([client(port), client(port), client(port)]);
  await until(() => server.upgraded!.websockets === 3, 3000, 'three sockets');
  const atB = nextMessage(b), atC = nextMessage(c);
  let aGot = 0;
  a.on('message', () => aGot++);
  a.send('hello');
  assert.equal(String((await atB).data), 'from peer: hello');
  assert.equal(String((await atC).data), 'from peer: hello');
  assert.deepEqual(counts, [2]);
  const all = [nextMessage(a), nextMessage(b), nextMessage(c)];
  assert.equal(server.publish!('room', 'to all'), 3);
  for (const m of await Promise.all(all)) assert.equal(String(m.data), 'to all');
  assert.equal(aGot, 1, 'the sender got only the broadcast');
  const left = nextMessage(c);
  c.send('leave');
  assert.equal(String((await left).data), 'left');
  assert.equal(server.publish!('room', Buffer.from([1, 2, 3])), 2);
  const bin = await nextMessage(a);
  assert.equal(bin.isBinary, true);
  assert.equal(server.publish!('nobody', 'x'), 0);
  for (const ws of [a, b, c]) ws.close();
  await Promise.all([a, b, c].map(closedWith));
  await until(() => server.upgraded!.websockets === 0, 3000, 'all closed');
  assert.equal(server.publish!('room', 'x'), 0, 'closed sockets leave their topics');
});

test('1,000 clients receive one broadcast', { timeout: 60_000 }, async (t) => {
  const N = 1000;
  const { server, port } = startWs(t, { open(ws) { ws.subscribe('all'); } });
  const clients: WebSocket[] = [];
  t.after(() => { for (const ws of clients) ws.terminate(); });
  for (let i = 0; i < N; i += 100) {
    clients.push(...await Promise.all(Array.from({ length: Math.min(100, N - i) }, () => client(port))));
  }
  await until(() => server.upgraded!.websockets === N, 10_000, `${N} sockets`);
  const received = Promise.all(clients.map((ws) => nextMessage(ws)));
  assert.equal(server.publish!('all', 'news for everyone'), N);
  const msgs = await within(received, 30_000, 'every client\'s message');
  assert.ok(msgs.every((m) => String(m.data) === 'news for everyone' && !m.isBinary));
  const closes = clients.map(closedWith);
  for (const ws of clients) ws.close(1000);
  await within(Promise.all(closes), 30_000, 'every close');
  await until(() => server.upgraded!.websockets === 0, 10_000, 'all closed on the server');
});

// ---- errors and closing ----------------------------------------------------------------

test('a handler that throws: close 1011, the error logged', async (t) => {
  const log = captureLog();
  let closeCode = 0;
  const { port } = startWs(t, {
    message() { throw new Error('app bug here'); },
    close(_ws, code) { closeCode = code; },
  }, { log: log.log });
  const raw = await RawWs.open(port);
  try {
    await raw.send(text('boom'));
    await raw.waitFrames(1);
    assert.deepEqual(raw.bytes, serverClose(1011, 'internal error'));
    await raw.send(close(1011));  // the client answers: the server closes
    await raw.expectEnd([serverClose(1011, 'internal error')]);
    await log.wait(/WebSocket handler threw: Error: app bug here/);
    await until(() => closeCode !== 0, 3000, 'close');
    assert.equal(closeCode, 1011);
  } finally {
    raw.destroy();
  }
});

test('a throw in open -> 1011; a throw in close is logged and nothing else happens', async (t) => {
  const log = captureLog();
  const codes: number[] = [];
  const { port } = start(t, (req) => ({
    websocket: req.PATH_INFO === '/open'
      ? { open() { throw new Error('open failed'); }, close(_ws, code) { codes.push(code); } }
      : { close() { throw new Error('close failed'); } },
  }), { log: log.log });
  const a = await RawWs.open(port, { path: '/open' });
  try {
    await a.waitFrames(1);
    assert.ok(a.bytes.equals(serverClose(1011, 'internal error')), describeFrames(a.bytes));
    await a.send(close(1011));
    await a.expectEnd([serverClose(1011, 'internal error')]);
    await log.wait(/WebSocket handler threw: Error: open failed/);
    await until(() => codes.length === 1, 3000, 'close handler');
    assert.deepEqual(codes, [1011]);
  } finally {
    a.destroy();
  }
  const b = await RawWs.open(port, { path: '/close' });
  try {
    await b.send(close(1000));
    await b.expectEnd([serverClose(1000)]);
    await log.wait(/WebSocket handler threw: Error: close failed/);
  } finally {
    b.destroy();
  }
});

test('send() then close() in open: the messages (an empty one too), then the close frame', async (t) => {
  const statuses: string[] = [];
  const { port } = startWs(t, {
    open(ws) {
      statuses.push(ws.send('first'), ws.send(''), ws.send(new Uint8Array([1, 2])));
      ws.close(4000, 'done');
    },
  });
  const raw = await RawWs.open(port);
  try {
    await raw.waitFrames(4);
    await raw.send(close(4000));
    await raw.expectEnd([serverFrame(TEXT, 'first'), serverFrame(TEXT, ''), serverFrame(BINARY, Buffer.from([1, 2])),
      serverClose(4000, 'done')]);
    assert.deepEqual(statuses, ['ok', 'ok', 'ok']);
  } finally {
    raw.destroy();
  }
});

test('a client offering permessage-deflate (ws\'s default) exchanges messages', async (t) => {
  const { port } = startWs(t, { message(ws, d, isBinary) { ws.send(d, { binary: isBinary }); } });
  const ws = await new Promise<WebSocket>((resolve, reject) => {
    const w = new WebSocket(`ws://127.0.0.1:${port}/`);  // offers permessage-deflate by default
    w.once('open', () => resolve(w));
    w.once('error', reject);
  });
  // Accepted or not, as the server is configured; the messages pass either way.
  assert.match(ws.extensions, /^(permessage-deflate(;.*)?)?$/);
  const m = nextMessage(ws);
  ws.send('x'.repeat(10_000));
  assert.equal(String((await m).data), 'x'.repeat(10_000));
  ws.close();
  await closedWith(ws);
});

test('terminate(): the client sees the TCP close without a close frame; close(1006)', async (t) => {
  let code = 0;
  const { port } = startWs(t, {
    message(ws) { ws.send('bye'); ws.terminate(); assert.equal(ws.readyState, 'closed'); },
    close(_ws, c) { code = c; },
  });
  const raw = await RawWs.open(port);
  try {
    await raw.send(text('x'));
    assert.equal(await raw.waitClosed(5000), true);
    assert.equal(raw.frames.every((f) => f.opcode !== CLOSE), true, describeFrames(raw.bytes));
    assert.equal(code, 1006);
  } finally {
    raw.destroy();
  }
});

test('close(4000, "bye"): the close frame, then the server waits for the client\'s answer', async (t) => {
  let closed: [number, string] | undefined;
  let sock: ServerWs | undefined;
  const { port } = startWs(t, {
    message(ws) { sock = ws; ws.close(4000, 'bye'); assert.equal(ws.readyState, 'closing'); },
    close(_ws, code, reason) { closed = [code, reason]; },
  }, { wsCloseTimeout: 10_000 });
  const raw = await RawWs.open(port);
  try {
    await raw.send(text('x'));
    await raw.waitFrames(1);
    assert.ok(raw.bytes.equals(serverClose(4000, 'bye')), describeFrames(raw.bytes));
    await delay(100);
    assert.equal(raw.closed, false, 'the server waits for the client\'s close');
    assert.equal(closed, undefined);
    // Messages after the app's close are dropped; pings are not answered.
    await raw.send(Buffer.concat([text('ignored'), ping('p'), close(4000, 'ok')]));
    await raw.expectEnd([serverClose(4000, 'bye')]);
    await until(() => closed !== undefined, 3000, 'close handler');
    assert.deepEqual(closed, [4000, 'ok']);
    assert.equal(sock!.readyState, 'closed');
  } finally {
    raw.destroy();
  }
});

test('close() rejects codes an app may not send and reasons over 123 bytes', async (t) => {
  const errors: string[] = [];
  const { port } = startWs(t, {
    message(ws) {
      for (const code of [999, 1005, 1006, 1015, 2000, 5000]) {
        try { ws.close(code); } catch (e) { errors.push(`${code} ${(e as Error).name}`); }
      }
      try { ws.close(1000, 'x'.repeat(124)); } catch (e) { errors.push(`long ${(e as Error).name}`); }
      ws.close(1000, 'é'.repeat(61));  // 122 bytes: fine
    },
  });
  const raw = await RawWs.open(port);
  try {
    await raw.send(text('x'));
    await raw.waitFrames(1);
    assert.ok(raw.bytes.equals(serverClose(1000, 'é'.repeat(61))), describeFrames(raw.bytes));
    assert.deepEqual(errors, ['999 RangeError', '1005 RangeError', '1006 RangeError', '1015 RangeError',
      '2000 RangeError', '5000 RangeError', 'long RangeError']);
    await raw.send(close(1000));
    await raw.expectEnd([serverClose(1000, 'é'.repeat(61))]);
  } finally {
    raw.destroy();
  }
});

test('close timeout: a client that never answers the close is cut after wsCloseTimeout', { timeout: 20_000 }, async (t) => {
  let code = 0;
  const { port } = startWs(t, {
    message(ws) { ws.close(4000, 'bye'); },
    close(_ws, c) { code = c; },
  }, { wsCloseTimeout: 300 });
  const raw = await RawWs.open(port);
  try {
    await raw.send(text('x'));
    const t0 = Date.now();
    await raw.expectEnd([serverClose(4000, 'bye')], 'the close, then the cut', 10_000);
    assert.ok(Date.now() - t0 >= 250, 'not before the timeout');
    await until(() => code !== 0, 3000, 'close handler');
    assert.equal(code, 1006);
  } finally {
    raw.destroy();
  }
});

test('idle: the client is pinged; one that answers stays, one that never does is closed', { timeout: 30_000 }, async (t) => {
  const { server, port } = startWs(t, {}, { wsIdleTimeout: 400 });
  const good = await client(port);
  let pings = 0;
  good.on('ping', () => pings++);  // ws answers with a pong by itself
  const raw = await RawWs.open(port);
  try {
    // The raw client is pinged, answers nothing, and is closed.
    await raw.waitFrames(1, 10_000);
    assert.ok(raw.bytes.equals(serverFrame(PING)), describeFrames(raw.bytes));
    await raw.expectEnd([serverFrame(PING)], 'a ping, then the cut', 15_000);
    // The well-behaved one was pinged too and is still open.
    await until(() => pings >= 1, 10_000, 'a ping at the ws client');
    assert.equal(good.readyState, WebSocket.OPEN);
    const echoed = nextMessage(good);
    assert.equal(server.publish!('none', 'x'), 0);
    good.close();
    await closedWith(good);
    void echoed.catch(() => {});
  } finally {
    raw.destroy();
  }
});

test('idle: a raw client that answers the ping with a pong stays open', { timeout: 30_000 }, async (t) => {
  const { port } = startWs(t, { message(ws, d) { ws.send(d); } }, { wsIdleTimeout: 400 });
  const raw = await RawWs.open(port);
  try {
    await raw.waitFrames(1, 10_000);
    await raw.send(pong());
    await raw.waitFrames(2, 10_000);  // pinged again after another idle period: it was not cut
    assert.deepEqual(raw.frames.map((f) => f.opcode), [PING, PING]);
    await raw.send(Buffer.concat([text('still here'), close(1000)]));
    await raw.expectEnd([serverFrame(PING), serverFrame(PING), serverFrame(TEXT, 'still here'), serverClose(1000)]);
  } finally {
    raw.destroy();
  }
});

test('handle.close() with open sockets: 1001 to each (in the wait\'s last part), resolves once they answer', { timeout: 20_000 }, async (t) => {
  const codes: number[] = [];
  const server = serve((req) => ({ websocket: { close(_ws, code) { codes.push(code); } } }),
    { listen: '127.0.0.1:0', log: () => {} });
  const port = server.addresses[0]!.port!;
  const clients = await Promise.all([client(port), client(port)]);
  const raw = await RawWs.open(port);
  try {
    await until(() => server.upgraded!.websockets === 3, 3000, 'three sockets');
    const seen = clients.map(closedWith);
    const t0 = Date.now();
    const closing = server.close(1500);
    // The raw client answers the 1001 by hand.
    await raw.waitFrames(1);
    assert.ok(raw.bytes.equals(serverClose(1001, 'server shutting down')), describeFrames(raw.bytes));
    await raw.send(close(1001));
    for (const s of await Promise.all(seen)) assert.deepEqual(s, { code: 1001, reason: 'server shutting down' });
    await within(closing, 5000, 'close()');
    assert.ok(Date.now() - t0 < 1500 + 1000, `close(1500) took ${Date.now() - t0} ms`);
    assert.equal(await raw.waitClosed(1000), true);
    assert.equal(codes.length, 3);
    assert.equal(server.upgraded!.websockets, 0);
  } finally {
    raw.destroy();
  }
});

test('handle.close() resolves within its timeout when a client never answers the 1001', { timeout: 20_000 }, async () => {
  let code = 0;
  const server = serve(() => ({ websocket: { close(_ws, c) { code = c; } } }), { listen: '127.0.0.1:0', log: () => {} });
  const raw = await RawWs.open(server.addresses[0]!.port!);
  try {
    const t0 = Date.now();
    await within(server.close(500), 5000, 'close(500)');
    const took = Date.now() - t0;
    assert.ok(took >= 400, `close(500) resolved after ${took} ms`);
    assert.equal(await raw.waitClosed(2000), true);
    assert.ok(raw.bytes.equals(serverClose(1001, 'server shutting down')), describeFrames(raw.bytes));
    assert.equal(code, 1006);
  } finally {
    raw.destroy();
  }
});

test('an abrupt client disconnect: close(1006)', async (t) => {
  const got = deferred<[number, string]>();
  const { port } = startWs(t, { close(_ws, code, reason) { got.resolve([code, reason]); } });
  const raw = await RawWs.open(port);
  await raw.send(text('x').subarray(0, 4));  // mid-frame
  raw.conn.socket.resetAndDestroy();
  assert.deepEqual(await within(got.promise, 5000, 'close'), [1006, '']);
});

test('a client FIN without a close frame: close(1006)', async (t) => {
  const got = deferred<number>();
  const { port } = startWs(t, { close(_ws, code) { got.resolve(code); } });
  const raw = await RawWs.open(port);
  raw.conn.socket.end();
  assert.equal(await within(got.promise, 5000, 'close'), 1006);
  raw.destroy();
});

// ---- large messages and stats ------------------------------------------------------------

test('a 16 MiB message each way', { timeout: 60_000 }, async (t) => {
  const SIZE = 16 * 1024 * 1024;
  const big = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
  let inHash = '';
  let inLen = 0;
  const { port } = startWs(t, {
    message(ws, data) {
      inLen = (data as Uint8Array).byteLength;
      inHash = sha(data as Uint8Array);
      ws.send(big);
    },
  });
  const ws = await client(port);
  const back = nextMessage(ws);
  ws.send(big);
  const m = await within(back, 50_000, 'the 16 MiB echo');
  assert.equal(inLen, SIZE);
  assert.equal(inHash, sha(big));
  assert.equal(m.data.length, SIZE);
  assert.ok(m.isBinary);
  assert.equal(sha(m.data), sha(big));
  ws.close();
  await closedWith(ws);
});

test('a message over wsMaxMessage: 1009, and the app hears it', async (t) => {
  let code = 0;
  const { port } = startWs(t, { close(_ws, c) { code = c; } }, { wsMaxMessage: 1000 });
  const ws = await client(port);
  const closed = closedWith(ws);
  ws.send(Buffer.alloc(1001));
  assert.equal((await closed).code, 1009);
  await until(() => code === 1009, 3000, 'close 1009 at the app');
});

test('handle.upgraded counts sockets, messages and bytes each way', async (t) => {
  const { server, port } = startWs(t, { message(ws, data) { ws.send(data); ws.send('+1'); } });
  assert.deepEqual({ ...server.upgraded }, { websockets: 0, tunnels: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 });
  const [a, b] = await Promise.all([client(port), client(port)]);
  await until(() => server.upgraded!.websockets === 2, 3000, 'two sockets');
  for (const [ws, msg] of [[a, 'hello'], [b, Buffer.alloc(1000)]] as const) {
    const got = new Promise<void>((resolve) => {
      let n = 0;
      ws.on('message', () => { if (++n === 2) resolve(); });
    });
    ws.send(msg);
    await got;
  }
  assert.deepEqual({ ...server.upgraded }, {
    websockets: 2, tunnels: 0, messagesIn: 2, messagesOut: 4, bytesIn: 1005, bytesOut: 1005 + 4,
  });
  a.close();
  b.close();
  await Promise.all([closedWith(a), closedWith(b)]);
  await until(() => server.upgraded!.websockets === 0, 3000, 'none open');
});

// ---- other listeners ---------------------------------------------------------------

test('over a unix socket: the same echo and close; remoteAddress is empty', async (t) => {
  const dir = tempDir();
  const path = join(dir, 'ws.sock');
  let addr: string | undefined;
  const server = serve((req) => ({ websocket: {
    open(ws) { addr = ws.remoteAddress; },
    message(ws, d, isBinary) { ws.send(d, { binary: isBinary }); },
  } }), { listen: path, log: () => {} });
  t.after(async () => {
    await server.close(1000);
    rmSync(dir, { recursive: true, force: true });
  });
  const raw = await RawWs.open(path);
  try {
    await raw.send(Buffer.concat([text('over unix'), binary(Buffer.alloc(70_000, 7)), close(1000)]));
    await raw.expectEnd([serverFrame(TEXT, 'over unix'), serverFrame(BINARY, Buffer.alloc(70_000, 7)), serverClose(1000)]);
    assert.equal(addr, '');
  } finally {
    raw.destroy();
  }
});

test('a uwsgi request cannot switch: a websocket or tunnel reply is a 500', async (t) => {
  const server = serve((req) => (req.PATH_INFO === '/ws' ? { websocket: {} } : { tunnel() {} }),
    { listen: 'uwsgi://127.0.0.1:0', log: () => {} });
  t.after(() => server.close(1000));
  for (const uri of ['/ws', '/tunnel']) {
    const extra: Array<[string, string]> = [['HTTP_UPGRADE', 'websocket'], ['HTTP_CONNECTION', 'Upgrade'],
      ['HTTP_SEC_WEBSOCKET_KEY', 'dGhlIHNhbXBsZSBub25jZQ=='], ['HTTP_SEC_WEBSOCKET_VERSION', '13']];
    const reply = await ask(server.addresses[0]!.port!, 'uwsgi', uwsgiRequest(uri, { extra }));
    assert.equal(reply.status, 500, uri);
  }
});

// ---- tunnels ------------------------------------------------------------------------

/** A server whose Upgrade requests become tunnels handed to `take`. */
function startTunnel(t: TestContext, take: (s: TunnelSocket) => void): { server: ServerHandle; port: number } {
  return start(t, (req) => (req.tsgi.upgrade ? { tunnel: take } : { body: 'plain' }));
}

async function openTunnel(port: number): Promise<RawConnection> {
  const conn = await RawConnection.open(port);
  await conn.write('GET /t HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n');
  return conn;
}

test('tunnel: bytes both ways, unchanged, and the app writes its own 101', async (t) => {
  const got: Buffer[] = [];
  const { server, port } = startTunnel(t, (s) => {
    s.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n');
    s.on('data', (d: Buffer) => { got.push(d); s.write(Buffer.concat([Buffer.from('<'), d, Buffer.from('>')])); });
  });
  const conn = await openTunnel(port);
  t.after(() => conn.destroy());
  await conn.waitUntil(() => conn.data.includes('\r\n\r\n'), 3000, 'the 101');
  const start0 = conn.received;
  await conn.write(Buffer.from([0, 1, 2, 255]));
  await conn.waitUntil(() => conn.received >= start0 + 6, 3000, 'the echo');
  assert.deepEqual([...conn.data.subarray(start0)], [0x3c, 0, 1, 2, 255, 0x3e]);
  assert.equal(server.upgraded!.tunnels, 1);
  assert.deepEqual(Buffer.concat(got), Buffer.from([0, 1, 2, 255]));
  conn.socket.end();
  assert.equal(await conn.waitClosed(3000), true);
  await until(() => server.upgraded!.tunnels === 0, 3000, 'forgotten');
});

test('tunnel: the app\'s end() half-closes: the client reads our FIN, still sends, and its FIN ends it', async (t) => {
  const events: string[] = [];
  const { server, port } = startTunnel(t, (s) => {
    s.write('hello');
    s.end();
    s.on('data', (d: Buffer) => events.push(`data ${d}`));
    s.on('end', () => events.push('end'));
    s.on('close', () => events.push('close'));
  });
  const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  t.after(() => sock.destroy());
  let got = '';
  let serverEnded = false;
  let closed = false;
  sock.on('data', (d) => { got += d; });
  sock.on('end', () => { serverEnded = true; });
  sock.on('close', () => { closed = true; });
  sock.write('GET /t HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n');
  await until(() => serverEnded, 3000, 'the server\'s FIN');
  assert.equal(got, 'hello');
  sock.write('after your end');
  await until(() => events.length > 0, 3000, 'the client\'s bytes at the app');
  assert.deepEqual(events, ['data after your end']);
  sock.end();
  await until(() => events.includes('close') && closed, 3000, 'both closed');
  assert.deepEqual(events, ['data after your end', 'end', 'close']);
  await until(() => server.upgraded!.tunnels === 0, 3000, 'forgotten');
});

test('tunnel: bytes sent with the request reach the tunnel first', async (t) => {
  const got = deferred<string>();
  const { port } = startTunnel(t, (s) => { s.once('data', (d: Buffer) => got.resolve(String(d))); });
  const conn = await RawConnection.open(port);
  t.after(() => conn.destroy());
  await conn.write('GET /t HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\nearly bytes');
  assert.equal(await within(got.promise, 3000, 'the early bytes'), 'early bytes');
  conn.destroy();
});

test('tunnel: client FIN -> \'end\' then \'close\' (allowHalfOpen false)', async (t) => {
  const events: string[] = [];
  const { port } = startTunnel(t, (s) => {
    s.on('data', (d: Buffer) => events.push(`data ${d}`));
    s.on('end', () => events.push('end'));
    s.on('close', () => events.push('close'));
  });
  const conn = await openTunnel(port);
  t.after(() => conn.destroy());
  await conn.write('abc');
  conn.socket.end();
  await until(() => events.includes('close'), 3000, 'close');
  assert.deepEqual(events, ['data abc', 'end', 'close']);
  assert.equal(await conn.waitClosed(3000), true);
});

test('tunnel: destroy() cuts the connection', async (t) => {
  let sock: TunnelSocket | undefined;
  const closed = deferred<void>();
  const { server, port } = startTunnel(t, (s) => {
    sock = s;
    s.on('close', () => closed.resolve());
  });
  const conn = await openTunnel(port);
  t.after(() => conn.destroy());
  await until(() => sock !== undefined, 3000, 'the tunnel');
  sock!.destroy();
  await within(closed.promise, 3000, '\'close\'');
  assert.equal(await conn.waitClosed(3000), true);
  assert.equal(conn.received, 0);
  await until(() => server.upgraded!.tunnels === 0, 3000, 'forgotten');
});

test('tunnel: 4 MiB echoed through pipe(), with backpressure both ways', { timeout: 30_000 }, async (t) => {
  const SIZE = 4 * 1024 * 1024;
  const big = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i++) big[i] = (i * 7 + (i >> 12)) & 0xff;
  const { server, port } = startTunnel(t, (s) => { s.pipe(s); });
  const conn = await openTunnel(port);
  t.after(() => conn.destroy());
  for (let i = 0; i < SIZE; i += 256 * 1024) await conn.write(big.subarray(i, i + 256 * 1024));
  conn.socket.end();
  assert.equal(await conn.waitClosed(20_000), true);
  assert.equal(conn.received, SIZE);
  assert.equal(sha(conn.data), sha(big));
  await until(() => server.upgraded!.tunnels === 0, 3000, 'forgotten');
});
