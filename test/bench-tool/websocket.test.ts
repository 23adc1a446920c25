// `tsgi bench -p ws` against the `ws` package: echo (text, binary, pipelined,
// larger messages), subscribe mode through bench/servers/ws-node.mjs, and
// servers that get the handshake wrong or close. Every server is a child
// process on a free loopback port, stopped by its PID; every run is bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT } from '../helpers/index.js';
import { bench, rawServer, result, stopChild, type BenchJson } from './helpers.js';

type WsJson = BenchJson & { ws: { mode: string; message_size: number; binary: boolean; published?: number } };

/** Starts `node args` in the repository (so `ws` resolves); resolves with its port once it prints "ready PORT". */
function startNode(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => { void stopChild(child); reject(new Error(`no "ready" in 10 s:\n${out}`)); }, 10_000);
    const onData = (d: Buffer): void => {
      out += d;
      const m = /ready (\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ child, port: Number(m[1]) }); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => { out += d; });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}:\n${out}`)); });
  });
}

/** A `ws` server on a free port whose behaviour `script` sets: it gets `wss` and prints "ready PORT". */
function wsServer(script: string): Promise<{ child: ChildProcess; port: number }> {
  const code = `import { WebSocketServer } from 'ws';
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
${script}
wss.on('listening', () => process.stdout.write('ready ' + wss.address().port + '\\n'));
process.on('SIGTERM', () => process.exit(0));`;
  return startNode(['--input-type=module', '-e', code]);
}

async function withServer(start: Promise<{ child: ChildProcess; port: number }>, body: (port: number) => Promise<void>): Promise<void> {
  const { child, port } = await start;
  try {
    await body(port);
  } finally {
    await stopChild(child);
  }
}

const ws = (r: BenchJson): WsJson => r as WsJson;

test('echo against the ws package: text, binary, pipelined and 4 KiB messages all count', async () => {
  await withServer(startNode([path.join('bench', 'servers', 'ws-node.mjs')], { PORT: '0' }), async (port) => {
    const text = ws(result(await bench(['-p', 'ws', '-c', '8', '-d', '1s', `127.0.0.1:${port}`])));
    assert.equal(text.errors.total, 0, JSON.stringify(text.errors));
    assert.ok(text.requests > 100, `${text.requests}`);
    assert.equal(text.connects, 8);
    assert.deepEqual([text.protocol, text.ws.mode, text.ws.message_size, text.ws.binary], ['ws', 'echo', 32, false]);
    assert.ok(text.latency_us.count === text.requests && text.latency_us.p50 > 0);
    const binary = ws(result(await bench(['-c', '4', '--pipeline', '8', '-n', '2000', '--ws-binary', `ws://127.0.0.1:${port}/`])));
    assert.equal(binary.requests, 2000, JSON.stringify(binary.errors));
    assert.equal(binary.ws.binary, true);
    const big = ws(result(await bench(['-p', 'ws', '-c', '4', '-n', '500', '--ws-message-size', '4096', `127.0.0.1:${port}`])));
    assert.equal(big.requests, 500, JSON.stringify(big.errors));
    assert.ok(big.bytes_in >= 500 * 4096);
  });
});

test('subscribe mode: one publisher, every subscriber gets every message', async () => {
  await withServer(startNode([path.join('bench', 'servers', 'ws-node.mjs')], { PORT: '0' }), async (port) => {
    const r = ws(result(await bench(['-p', 'ws', '--ws-mode', 'subscribe', '-c', '20', '--pipeline', '4', '-d', '1s', `127.0.0.1:${port}`])));
    assert.equal(r.errors.total, 0, JSON.stringify(r.errors));
    const published = r.ws.published ?? 0;
    assert.ok(published > 10, `${published}`);
    assert.equal(r.connects, 21);  // the subscribers and the publisher
    // Deliveries of messages published in the window; at its end up to
    // `pipeline` messages are still on their way.
    assert.ok(r.requests <= published * 20 && r.requests >= (published - 4) * 20, `${r.requests} of ${published} x 20`);
    const open = ws(result(await bench(['-p', 'ws', '--ws-mode', 'subscribe', '-c', '5', '--rate', '200', '-d', '1s', `127.0.0.1:${port}`])));
    assert.equal(open.errors.total, 0, JSON.stringify(open.errors));
    assert.ok(Math.abs((open.ws.published ?? 0) - 200) <= 20, `${open.ws.published}`);
  });
});

test('a wrong Sec-WebSocket-Accept, or no 101 at all: handshake errors, nothing counts', async () => {
  const badAccept = `wss.on('headers', (h) => {
  const i = h.findIndex((l) => /^sec-websocket-accept:/i.test(l));
  h[i] = 'Sec-WebSocket-Accept: ' + 'A'.repeat(27) + '=';
});
wss.on('connection', (s) => s.on('message', (d, b) => s.send(d, { binary: b })));`;
  await withServer(wsServer(badAccept), async (port) => {
    const r = result(await bench(['-p', 'ws', '-c', '2', '-d', '500ms', `127.0.0.1:${port}`]));
    assert.equal(r.requests, 0);
    assert.ok(r.errors.handshake! > 0, JSON.stringify(r.errors));
    assert.equal(r.errors.total, r.errors.handshake, JSON.stringify(r.errors));
  });
  const plain = await rawServer('HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n');
  try {
    const r = result(await bench(['-p', 'ws', '-c', '2', '-d', '500ms', `127.0.0.1:${plain.port}`]));
    assert.equal(r.requests, 0);
    assert.ok(r.errors.handshake! > 0 && r.errors.total === r.errors.handshake, JSON.stringify(r.errors));
  } finally {
    await plain.stop();
  }
});

test('a server that closes: a close frame, or the connection dropped, counts as closed', async () => {
  await withServer(wsServer(`wss.on('connection', (s) => s.on('message', () => s.close(1001, 'going away')));`), async (port) => {
    const r = result(await bench(['-p', 'ws', '-c', '2', '-d', '500ms', `127.0.0.1:${port}`]));
    assert.equal(r.requests, 0);
    assert.ok(r.errors.closed! > 0 && r.errors.total === r.errors.closed, JSON.stringify(r.errors));
    assert.ok(r.connects > 2);  // each closed connection was replaced
  });
  await withServer(wsServer(`wss.on('connection', (s) => s.on('message', () => s.terminate()));`), async (port) => {
    const r = result(await bench(['-p', 'ws', '-c', '2', '-d', '500ms', `127.0.0.1:${port}`]));
    assert.equal(r.requests, 0);
    assert.ok(r.errors.closed! > 0 && r.errors.total === r.errors.closed, JSON.stringify(r.errors));
  });
});

test('ws options are checked before any load', async () => {
  for (const args of [['--ws-binary', '127.0.0.1:1'], ['-p', 'ws', '--ws-mode', 'fanout', '127.0.0.1:1'],
    ['-p', 'ws', '--rate', '10', '127.0.0.1:1'], ['-p', 'ws', '--ws-mode', 'subscribe', '-t', '2', '127.0.0.1:1']]) {
    const r = await bench(args, { timeoutMs: 10_000 });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
});
