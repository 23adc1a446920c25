// Large string replies leave no memory behind: each is encoded into a block
// of its own that lives while the output queue references it (a client that
// has not read it all), and no buffer stays at the size of the largest
// string sent. Batches of 1 MiB and 4 MiB string replies, read at once,
// streamed, and abandoned by clients that never read them: after the first
// batch, the server's resident size stays put.
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import { writeFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { delay, httpGet, tempDir } from '../helpers/index.js';
import { rss, RSS_NOT_MEASURABLE as NOT_MEASURABLE } from '../helpers/memory.js';
import { TsgiProcess } from '../helpers/tsgi-process.js';

const dir = tempDir('tsgi-memory-');
const APP = path.join(dir, 'strings-app.js');
writeFileSync(APP, `
const unit = 'aé€😀\\ud800';
const big = (bytes) => unit.repeat(Math.floor(bytes / 13));
const M1 = big(1 << 20), M4 = big(4 << 20);
module.exports = (req) => {
  if (req.PATH_INFO === '/1m') return { body: M1 };
  if (req.PATH_INFO === '/4m') return { body: M4 };
  if (req.PATH_INFO === '/stream') return { body: (function* () { for (let i = 0; i < 4; i++) yield M1; })() };
  if (req.PATH_INFO === '/fresh') return { body: 'é'.repeat(300000) + Math.random() };
  return { body: 'ok' };
};
`);

const started: TsgiProcess[] = [];
after(async () => {
  for (const p of started) await p.stop();
});

const MB = 1024 * 1024;

/** A client that asks for `p` and reads nothing, then leaves after `ms`. */
function abandon(port: number, p: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.pause();
      s.write(`GET ${p} HTTP/1.1\r\nHost: t\r\n\r\n`);
      setTimeout(() => { s.destroy(); resolve(); }, ms);
    });
    s.once('error', reject);
  });
}

async function batch(port: number): Promise<void> {
  const waiting = [abandon(port, '/4m', 300), abandon(port, '/4m', 300), abandon(port, '/stream', 300), abandon(port, '/1m', 300)];
  for (let i = 0; i < 6; i++) {
    await Promise.all(['/1m', '/4m', '/stream', '/fresh'].map(async (p) => {
      const r = await httpGet(port, p, { timeoutMs: 20_000 });
      assert.equal(r.status, 200, p);
    }));
  }
  await Promise.all(waiting);
}

test('the resident size stays put over batches of large string replies', { skip: NOT_MEASURABLE, timeout: 120_000 }, async () => {
  const p = await TsgiProcess.start(['--http', '127.0.0.1:0', '--release-memory', '0', APP]);
  started.push(p);
  assert.equal((await httpGet(p.port, '/')).body, 'ok');
  const pid = p.child.pid!;
  await batch(p.port);
  await batch(p.port);
  await delay(300);
  const first = rss(pid);
  const sizes: number[] = [];
  for (let i = 0; i < 5; i++) {
    await batch(p.port);
    await delay(300);
    sizes.push(rss(pid));
  }
  const grew = sizes[sizes.length - 1]! - first;
  // Each batch sends about 130 MB of replies (20 MB to clients that never
  // read them): a leak of any of them would be tens of MB a batch.
  assert.ok(grew < 24 * MB, `after two batches ${(first / MB).toFixed(1)} MB, then ${sizes.map((s) => (s / MB).toFixed(1)).join(', ')} MB`);
});
