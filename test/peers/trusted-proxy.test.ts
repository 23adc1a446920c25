// --trusted-proxy behind a real nginx configured with docs/deploy.md's
// 'nginx-proxy-pass' snippet: the client connects to nginx from 127.0.0.3,
// nginx to tsgi from 127.0.0.1, the one trusted proxy. REMOTE_ADDR, a Node
// app's req.socket.remoteAddress and the access log name 127.0.0.3; an
// address the client wrote into X-Forwarded-For itself is not believed; a
// client connecting directly is never taken at its header's word.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { eventually, requirePeer, tempDir } from '../helpers/index.js';
import { fillSnippet, freePort, startNginx, type Peer } from '../helpers/peers.js';
import { TsgiProcess, runTsgi } from '../helpers/tsgi-process.js';

const dir = tempDir('tsgi-trusted-proxy-');
const LOG = path.join(dir, 'access.log');
const TSGI_APP = path.join(dir, 'app.js');
const NODE_APP = path.join(dir, 'node-app.js');
fs.writeFileSync(TSGI_APP, `
module.exports = (req) => ({ headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ addr: req.REMOTE_ADDR, port: req.REMOTE_PORT, xff: req.header('x-forwarded-for') ?? null }) });
`);
fs.writeFileSync(NODE_APP, `
module.exports = (req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ addr: req.socket.remoteAddress })); };
`);

let tsgi: TsgiProcess | undefined;
let nginx: Peer | undefined;
let tsgiPort = 0;
let nginxPort = 0;

/** GET from a chosen local address (127.0.0.3: a client that is not the proxy). */
function get(port: number, p: string, headers: Record<string, string> = {}): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, localAddress: '127.0.0.3', headers, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; });
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch {
          reject(new Error(`${res.statusCode}: ${body}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

before(async () => {
  tsgiPort = await freePort();
  tsgi = await TsgiProcess.start(['--http', `127.0.0.1:${tsgiPort}`, '--trusted-proxy', '127.0.0.1', '--trusted-proxy', '10.0.0.0/8',
    '--access-log', LOG, '--mount', `/=${TSGI_APP}`, '--mount', `/node=${NODE_APP}`]);
});

after(async () => {
  await nginx?.stop();
  await tsgi?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('behind nginx proxy_pass: the client is the address nginx saw, for the app, a Node app and the access log', async (t) => {
  if (!requirePeer(t, 'nginx', 'nginx-light')) return;
  nginx = await startNginx(dir, async () => {
    nginxPort = await freePort();
    return [{
      port: nginxPort,
      config: fillSnippet('nginx-proxy-pass', { 'listen 80;': `listen 127.0.0.1:${nginxPort};`, '127.0.0.1:8000': `127.0.0.1:${tsgiPort}` }),
    }];
  });
  const plain = await get(nginxPort, '/');
  assert.deepEqual(plain, { addr: '127.0.0.3', port: '', xff: '127.0.0.3' });
  // The client's own claim is kept to the left of what nginx saw, and not believed.
  const spoofed = await get(nginxPort, '/', { 'X-Forwarded-For': '198.51.100.7' });
  assert.deepEqual(spoofed, { addr: '127.0.0.3', port: '', xff: '198.51.100.7, 127.0.0.3' });
  // Two proxies in a row (a trusted load balancer at 10.1.2.3 before nginx): the client is left of both.
  const chained = await get(nginxPort, '/', { 'X-Forwarded-For': '203.0.113.9, 10.1.2.3' });
  assert.equal(chained.addr, '127.0.0.3', 'nginx appends 127.0.0.3, an untrusted hop: the walk stops there');
  assert.deepEqual(await get(nginxPort, '/node'), { addr: '127.0.0.3' });

  // The log is written in batches: wait for the four lines.
  const lines = await eventually(() => {
    const l = fs.readFileSync(LOG, 'utf8').trim().split('\n');
    return l.length >= 4 ? l : undefined;
  }, 5_000, 'four access log lines');
  assert.equal(lines.length, 4);
  for (const l of lines) assert.match(l, /^127\.0\.0\.3 - - \[/);
});

test('a direct client\'s X-Forwarded-For is ignored; a trusted peer\'s is walked hop by hop', async () => {
  // Untrusted peer (127.0.0.3): its header is not believed.
  const direct = await get(tsgiPort, '/', { 'X-Forwarded-For': '198.51.100.7' });
  assert.equal(direct.addr, '127.0.0.3');
  assert.match(direct.port, /^\d+$/);
  // Trusted peer (127.0.0.1): rightmost untrusted hop; trusted hops (10.x) are skipped.
  const res = await new Promise<any>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: tsgiPort, path: '/', agent: false,
      headers: { 'X-Forwarded-For': '192.0.2.1, 203.0.113.9, 10.9.9.9' } }, (r) => {
      let body = '';
      r.setEncoding('utf8').on('data', (c: string) => { body += c; });
      r.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
  assert.equal(res.addr, '203.0.113.9');
  assert.equal(res.port, '');
  const bad = await new Promise<any>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: tsgiPort, path: '/', agent: false, headers: { 'X-Forwarded-For': '203.0.113.9, not-an-ip' } }, (r) => {
      let body = '';
      r.setEncoding('utf8').on('data', (c: string) => { body += c; });
      r.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
  assert.equal(bad.addr, '127.0.0.1', 'a malformed hop stops the walk at the last trusted address');
});

test('a bad --trusted-proxy is a usage error', () => {
  const r = runTsgi(['--http', '127.0.0.1:0', '--trusted-proxy', '10.0.0.0/33', TSGI_APP]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad network "10\.0\.0\.0\/33" in trustedProxies \(--trusted-proxy\)/);
});
