// WebSocket through the web servers in front, configured with docs/deploy.md's
// snippets: nginx's proxy_pass with the upgrade headers and Apache's
// mod_proxy_http with upgrade=websocket, to tsgi's HTTP listener. Messages
// both ways (text, a 1 MiB binary), close codes each way, and a plain
// request through the same location.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import WebSocket from 'ws';
import { serve, type ServerHandle } from 'tsgi';
import { have, requirePeer } from '../helpers/index.js';
import { fillSnippet, freePort, reachableTempDir, startApache, startNginx, type Peer } from '../helpers/peers.js';

let server: ServerHandle | undefined;
let tsgiPort = 0;
const closes: Array<{ code: number; reason: string }> = [];

before(() => {
  server = serve((req) => req.tsgi.websocket
    ? {
      websocket: {
        message(ws, data, isBinary) {
          if (data === 'close please') ws.close(4002, 'as asked');
          else ws.send(data, { binary: isBinary });
        },
        close(_ws, code, reason) { closes.push({ code, reason }); },
      },
    }
    : { body: `plain ${req.REQUEST_URI} via ${req.header('x-forwarded-for') ?? '-'}` },
  { listen: '127.0.0.1:0', log: () => {} });
  tsgiPort = server.addresses[0]!.port!;
});

after(async () => {
  await server?.close(2_000);
});

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function next(ws: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data, binary) => resolve({ data: data as Buffer, binary }));
    ws.once('close', (code) => reject(new Error(`closed ${code}`)));
  });
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), what);
}

function frontTests(front: () => { url: string; peer: Peer | undefined }, program: string, pkg: string): void {
  test('text and 1 MiB binary messages echo both ways', async (t) => {
    if (!requirePeer(t, program, pkg)) return;
    const ws = await open(`${front().url.replace('http', 'ws')}/ws`);
    ws.send('hello through the proxy');
    const a = await next(ws);
    assert.equal(String(a.data), 'hello through the proxy');
    assert.equal(a.binary, false);
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    ws.send(big);
    const b = await next(ws);
    assert.equal(b.binary, true);
    assert.ok(b.data.equals(big), 'the 1 MiB message came back intact');
    const before = closes.length;
    ws.close(4001, 'client done');
    assert.deepEqual(await closed(ws), { code: 4001, reason: 'client done' });
    await until(() => closes.length > before, 'the app heard the close');
    assert.deepEqual(closes.at(-1), { code: 4001, reason: 'client done' });
  });

  test('the app\'s close reaches the client with its code and reason', async (t) => {
    if (!requirePeer(t, program, pkg)) return;
    const ws = await open(`${front().url.replace('http', 'ws')}/ws`);
    const end = closed(ws);
    ws.send('close please');
    assert.deepEqual(await end, { code: 4002, reason: 'as asked' });
  });

  test('a plain request through the same location is served', async (t) => {
    if (!requirePeer(t, program, pkg)) return;
    const res = await fetch(`${front().url}/ws/page?x=1`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^plain \/ws\/page\?x=1 via /);
  });
}

describe('nginx proxy_pass (docs/deploy.md nginx-websocket)', () => {
  let peer: Peer | undefined;
  let dir = '';
  let url = '';
  before(async () => {
    if (!have('nginx')) return;
    dir = reachableTempDir();
    peer = await startNginx(dir, async () => {
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      return [{ port, config: fillSnippet('nginx-websocket', {
        'listen 80;': `listen 127.0.0.1:${port};`, '127.0.0.1:8000': `127.0.0.1:${tsgiPort}`,
      }) }];
    });
  });
  after(async () => {
    await peer?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  frontTests(() => ({ url, peer }), 'nginx', 'nginx-light');
});

describe('Apache mod_proxy_http upgrade=websocket (docs/deploy.md apache-websocket)', () => {
  let peer: Peer | undefined;
  let dir = '';
  let url = '';
  before(async () => {
    if (!have('apache2') && !have('httpd')) return;
    dir = reachableTempDir();
    peer = await startApache(dir, async () => {
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      return [{ port, config: fillSnippet('apache-websocket', {
        '*:80': `*:${port}`, '127.0.0.1:8000': `127.0.0.1:${tsgiPort}`,
      }) }];
    }, { modules: ['proxy_http'] });
  });
  after(async () => {
    await peer?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  frontTests(() => ({ url, peer }), have('httpd') ? 'httpd' : 'apache2', 'apache2');
});
