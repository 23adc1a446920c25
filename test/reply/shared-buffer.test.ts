// A whole body given as a Buffer is sent from the app's memory: slow clients
// of one shared 32 MiB Buffer cost a reference each, not a copy of what
// their socket has not taken yet; and what they finally read is intact.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { serve, type ServerHandle } from 'tsgi';
import { delay, stalledGet } from '../helpers/index.js';

const SIZE = 32 * 1024 * 1024;
const BIG = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i += 4096) BIG.writeUInt32BE(i, i);
const DIGEST = createHash('sha256').update(BIG).digest('hex');

let server: ServerHandle;
let port = 0;
before(() => {
  server = serve(() => ({ body: BIG }), { listen: '127.0.0.1:0', log: () => {} });
  port = server.addresses[0]!.port!;
});
after(() => server.close(1000));

test('four clients that do not read one shared 32 MiB Buffer: no copy each', { timeout: 30_000 }, async () => {
  global.gc?.();
  await delay(100);
  const before = process.memoryUsage().rss;
  const socks = await Promise.all([1, 2, 3, 4].map(() => stalledGet(port)));
  try {
    await delay(500);
    const grew = process.memoryUsage().rss - before;
    // A copy of what each socket did not take would be about 4 x 30 MiB.
    assert.ok(grew < 40 * 1024 * 1024, `RSS grew ${(grew / 1048576).toFixed(1)} MiB`);
    // One of them reads it all now: the bytes are the Buffer's.
    const s = socks[0]!;
    const hash = createHash('sha256');
    let head = true;
    let got = 0;
    let pending = Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => {
      s.on('data', (d: Buffer) => {
        if (head) {
          pending = Buffer.concat([pending, d]);
          const at = pending.indexOf('\r\n\r\n');
          if (at < 0) return;
          head = false;
          d = pending.subarray(at + 4);
        }
        hash.update(d);
        got += d.length;
        if (got >= SIZE) resolve();
      });
      s.once('error', reject);
      s.resume();
    });
    assert.equal(got, SIZE);
    assert.equal(hash.digest('hex'), DIGEST);
  } finally {
    for (const s of socks) s.destroy();
  }
});
