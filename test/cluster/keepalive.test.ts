// Kept upstream connections and idle timeouts: docs/cluster.md's nginx block
// (all three upstream servers one loopback tsgi here) with its keep-alive
// rule — nginx's upstream keepalive_timeout shorter than tsgi's
// --keepalive-timeout — scaled down to 200 ms against 300 ms so the test is
// quick. POSTs, which nginx never retries once sent, go one at a time after
// idle pauses that sweep across both timeouts, over HTTP keep-alive and
// FastCGI keep-conn: not one may fail.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { delay, tempDir } from '../helpers/index.js';
import { copyFastcgiParams, fillSnippet, freePort, startNginx, type Peer } from '../helpers/peers.js';
import { TsgiProcess } from '../helpers/tsgi-process.js';
import { requirePeer } from '../helpers/index.js';
import { CLUSTER_DOC, writeClusterApp } from './hosts.js';

const dir = tempDir('tsgi-keepalive-');
const started: Array<{ stop(): Promise<unknown> }> = [];
after(async () => {
  for (const p of started) await p.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function post(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, timeout: 5_000, headers: { 'content-type': 'text/plain' } }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('no reply within 5 s')));
    req.on('error', reject);
    req.end('x=1');
  });
}

test('POSTs after idle pauses across both timeouts: none lost on a kept connection (HTTP and FastCGI)', async (t) => {
  if (!requirePeer(t, 'nginx', 'nginx-light')) return;
  const [httpPort, uwsgiPort, fcgiPort] = [await freePort(), await freePort(), await freePort()];
  const tsgi = await TsgiProcess.start(['--http', `127.0.0.1:${httpPort}`, '--socket', `127.0.0.1:${uwsgiPort}`,
    '--fastcgi-socket', `127.0.0.1:${fcgiPort}`, '--keepalive-timeout', '0.3', writeClusterApp(dir)], { listeners: 3, cwd: dir });
  started.push(tsgi);
  copyFastcgiParams(dir);
  let port = 0;
  const nginx: Peer = await startNginx(dir, async () => {
    port = await freePort();
    const replace: Record<string, string> = { 'listen 80;': `listen 127.0.0.1:${port};`, 'keepalive_timeout 10s;': 'keepalive_timeout 200ms;' };
    for (const h of ['10.0.0.11', '10.0.0.12', '10.0.0.13']) {
      Object.assign(replace, { [`${h}:8000`]: `127.0.0.1:${httpPort}`, [`${h}:3031`]: `127.0.0.1:${uwsgiPort}`, [`${h}:9000`]: `127.0.0.1:${fcgiPort}` });
    }
    return [{ config: fillSnippet('nginx-cluster', replace, CLUSTER_DOC), port }];
  });
  started.push(nginx);
  let sent = 0;
  const failed: string[] = [];
  // Pauses of 150..450 ms in 15 ms steps: before, across and after both idle timeouts.
  for (let pause = 150; pause <= 450; pause += 15) {
    for (const route of ['/', '/fastcgi/']) {
      await delay(pause);
      sent++;
      const status = await post(`http://127.0.0.1:${port}${route}`).catch((err: Error) => err.message);
      if (status !== 200) failed.push(`${route} after ${pause} ms: ${status}`);
    }
  }
  t.diagnostic(`${sent} POSTs, ${failed.length} failed`);
  assert.deepEqual(failed, [], nginx.log());
});
