// toNodeListener() moves big bodies both ways with backpressure: a 10 MiB
// upload read as a stream arrives whole; a big streamed reply to a slow
// client is pulled only as fast as the client takes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { toNodeListener, type App } from 'tsgi';
import { delay, captureLog } from '../helpers/index.js';

async function withNode(app: App, fn: (port: number) => Promise<void>): Promise<string[]> {
  const logs = captureLog();
  const server = http.createServer(toNodeListener(app, { log: logs.log }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  return logs.lines;
}

test('a 10 MiB upload read with for await arrives whole', async () => {
  const data = randomBytes(10 * 1024 * 1024);
  const sha = createHash('sha256').update(data).digest('hex');
  const lines = await withNode(async (req) => {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of req.body) {
      hash.update(chunk);
      size += chunk.byteLength;
    }
    return { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ size, sha: hash.digest('hex') }) };
  }, async (port) => {
    const res = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path: '/up', agent: false }, (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => { body += c; });
        r.on('end', () => resolve(body));
      });
      req.on('error', reject);
      for (let at = 0; at < data.length; at += 64 * 1024) req.write(data.subarray(at, at + 64 * 1024));
      req.end();
    });
    assert.deepEqual(JSON.parse(res), { size: data.length, sha });
  });
  assert.deepEqual(lines, []);
});

test('a streamed reply waits for a slow client (drain), and arrives whole', async () => {
  const CHUNK = 64 * 1024;
  const COUNT = 256;  // 16 MiB
  let pulled = 0;
  let pulledWhilePaused = 0;
  let paused = false;
  await withNode(() => ({
    body: (function* () {
      for (let i = 0; i < COUNT; i++) {
        pulled++;
        if (paused) pulledWhilePaused++;
        yield Buffer.alloc(CHUNK, i & 255);
      }
    })(),
  }), async (port) => {
    await new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        let received = 0;
        let ok = true;
        res.on('data', (c: Buffer) => {
          for (let k = 0; k < c.length; k += 4096) {
            if (c[k] !== (Math.floor((received + k) / CHUNK) & 255)) ok = false;
          }
          received += c.length;
        });
        // Stop reading for a while: the producer must stop too.
        res.pause();
        paused = true;
        void delay(300).then(() => {
          assert.ok(pulled < COUNT / 2, `the producer ran ahead of a paused client: ${pulled} of ${COUNT} chunks`);
          paused = false;
          res.resume();
        });
        res.on('end', () => {
          try {
            assert.equal(received, CHUNK * COUNT);
            assert.ok(ok, 'the bytes came in order');
            resolve();
          } catch (err) {
            reject(err);
          }
        });
      }).on('error', reject);
    });
  });
  assert.equal(pulled, COUNT);
  assert.ok(pulledWhilePaused < COUNT / 2, String(pulledWhilePaused));
});
