// A Node app's res.write() chunks are sent from its memory: Node's streams
// already assume a written chunk is not changed, so what a slow client's
// socket has not taken stays in the app's Buffer (pinned) instead of being
// copied. Four clients that do not read a 32 MiB Buffer written with
// res.write() cost a reference each; what one finally reads is intact.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import { fromNodeListener, serve, type ServerHandle } from 'tsgi';
import { delay, stalledGet } from '../helpers/index.js';

const SIZE = 32 * 1024 * 1024;
const BIG = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i += 4096) BIG.writeUInt32BE(i, i);
const TAIL = Buffer.from('and the end\n');
const DIGEST = createHash('sha256').update(BIG).update(TAIL).digest('hex');

let server: ServerHandle;
let port = 0;
before(() => {
  server = serve(fromNodeListener((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });  // chunked: a streamed body
    res.write(BIG);
    res.end(TAIL);
  }), { listen: '127.0.0.1:0', log: () => {} });
  port = server.addresses[0]!.port!;
});
after(() => server.close(1000));

/** Reads one chunked reply to its end and returns its body. */
function readChunked(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => {
      parts.push(d);
      if (d.length >= 5 && d.subarray(-5).toString('latin1') === '0\r\n\r\n') {
        const all = Buffer.concat(parts);
        let at = all.indexOf('\r\n\r\n') + 4;
        const body: Buffer[] = [];
        for (;;) {
          const eol = all.indexOf('\r\n', at);
          const n = parseInt(all.toString('latin1', at, eol), 16);
          if (n === 0) break;
          body.push(all.subarray(eol + 2, eol + 2 + n));
          at = eol + 2 + n + 2;
        }
        resolve(Buffer.concat(body));
      }
    });
    s.once('error', reject);
    s.resume();
  });
}

test('four clients that do not read a 32 MiB res.write() chunk: no copy each, and the bytes intact', {
  timeout: 30_000,
}, async () => {
  global.gc?.();
  await delay(100);
  const before = process.memoryUsage().rss;
  const socks = await Promise.all([1, 2, 3, 4].map(() => stalledGet(port)));
  try {
    await delay(500);
    const grew = process.memoryUsage().rss - before;
    // A copy of what each socket did not take would be about 4 x 30 MiB.
    assert.ok(grew < 40 * 1024 * 1024, `RSS grew ${(grew / 1048576).toFixed(1)} MiB`);
    const body = await readChunked(socks[0]!);
    assert.equal(body.length, SIZE + TAIL.length);
    assert.equal(createHash('sha256').update(body).digest('hex'), DIGEST);
  } finally {
    for (const s of socks) s.destroy();
  }
});
