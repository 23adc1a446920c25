// What static files cost and survive: a 3 GiB sparse file read near its end,
// 10,000 requests over 1,000 files with the open-file cache bounded (the
// process's descriptors stay bounded), and a file truncated or replaced
// while it is sent (the connection ends; nothing hangs or leaks).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { serve, type ServerHandle } from 'tsgi';
import { header, parseResponses, rawRequest, tempDir } from '../helpers/index.js';

const dir = tempDir('tsgi-static-res-');
const pub = path.join(dir, 'public');
let server: ServerHandle;
let port = 0;
const GiB = 1024 ** 3;

before(async () => {
  fs.mkdirSync(path.join(pub, 'many'), { recursive: true });
  for (let i = 0; i < 1000; i++) fs.writeFileSync(path.join(pub, 'many', `f${i}.txt`), `file ${i}\n`.repeat(1 + (i % 7) * 500));
  server = await serve(() => ({ body: 'app' }), {
    listen: '127.0.0.1:0', log: () => {},
    static: { map: { '/static': pub }, cacheEntries: 100 },
  });
  port = server.addresses[0]!.port!;
});

after(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const openFds = () => fs.readdirSync('/proc/self/fd').length;

test('a 3 GiB sparse file: ranges near the end, and its length', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const file = path.join(pub, 'sparse.bin');
  const size = 3 * GiB + 12345;
  const fd = fs.openSync(file, 'w');
  fs.ftruncateSync(fd, size);
  fs.writeSync(fd, Buffer.from('THE-END'), 0, 7, size - 7);
  fs.writeSync(fd, Buffer.from('MIDDLE'), 0, 6, 2 * GiB + 1);
  fs.closeSync(fd);
  const ask = async (range: string) => {
    const { data } = await rawRequest(port, `GET /static/sparse.bin HTTP/1.1\r\nHost: x\r\nRange: ${range}\r\nConnection: close\r\n\r\n`,
      { timeoutMs: 5000 });
    return parseResponses(data, { closed: true }).responses[0]!;
  };
  const end = await ask('bytes=-7');
  assert.equal(end.status, 206);
  assert.equal(header(end, 'content-range'), `bytes ${size - 7}-${size - 1}/${size}`);
  assert.equal(end.body.toString(), 'THE-END');
  const mid = await ask(`bytes=${2 * GiB + 1}-${2 * GiB + 6}`);
  assert.equal(mid.body.toString(), 'MIDDLE');
  const two = await ask(`bytes=0-3,${size - 3}-`);
  assert.equal(two.status, 206);
  assert.ok(two.body.includes('END'));
  assert.equal((await ask(`bytes=${size}-`)).status, 416);
  const { data } = await rawRequest(port, 'HEAD /static/sparse.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const head = parseResponses(data, { head: true, closed: true }).responses[0]!;
  assert.equal(header(head, 'content-length'), String(size));
  fs.unlinkSync(file);
});

test('10,000 requests over 1,000 files: descriptors stay bounded by the cache', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const before = openFds();
  let maxSeen = before;
  let served = 0;
  const client = async (worker: number) => {
    for (let k = 0; k < 1250; k++) {
      const i = (worker * 7919 + k * 104729) % 1000;
      const { data } = await rawRequest(port, `GET /static/many/f${i}.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      const r = parseResponses(data, { closed: true }).responses[0]!;
      assert.equal(r.status, 200);
      assert.ok(r.body.toString().startsWith(`file ${i}\n`));
      served++;
      if (k % 50 === 0) maxSeen = Math.max(maxSeen, openFds());
    }
  };
  await Promise.all(Array.from({ length: 8 }, (_, w) => client(w)));
  assert.equal(served, 10000);
  // The cache holds at most 100 files (big ones keep their descriptor), and
  // each of the 8 clients has its two socket ends open at a time.
  assert.ok(maxSeen - before <= 100 + 8 * 2 + 10, `descriptors grew from ${before} to ${maxSeen}`);
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(openFds() - before <= 100 + 4, `after: ${openFds()} (before ${before})`);
});

/** Starts a download of `target` and reads only its head, leaving the rest in the socket. */
async function startSlowRead(target: string): Promise<{ sock: net.Socket; body: () => Promise<{ got: number; ended: boolean }> }> {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', r));
  sock.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  sock.pause();
  return {
    sock,
    body: () => new Promise((resolve) => {
      let got = 0;
      const timer = setTimeout(() => { sock.destroy(); resolve({ got, ended: false }); }, 5000);
      sock.on('data', (c: Buffer) => { got += c.length; });
      sock.on('close', () => { clearTimeout(timer); resolve({ got, ended: true }); });
      sock.resume();
    }),
  };
}

test('a file truncated while it is sent: the connection is closed, not left hanging', async () => {
  const file = path.join(pub, 'shrinks.bin');
  const size = 64 * 1024 * 1024;
  fs.writeFileSync(file, Buffer.alloc(size, 1));
  const before = openFds();
  const { body } = await startSlowRead('/static/shrinks.bin');
  await new Promise((r) => setTimeout(r, 50));
  fs.truncateSync(file, 1024);
  const { got, ended } = await body();
  assert.ok(ended, 'the server closed the connection');
  assert.ok(got < size, `got ${got} bytes`);
  fs.unlinkSync(file);
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(openFds() <= before + 1, `descriptors: ${openFds()} after, ${before} before`);
});

test('a file replaced (renamed over) while it is sent: the old bytes, whole', async () => {
  const file = path.join(pub, 'replaced.bin');
  const size = 32 * 1024 * 1024;
  fs.writeFileSync(file, Buffer.alloc(size, 7));
  const { body } = await startSlowRead('/static/replaced.bin');
  await new Promise((r) => setTimeout(r, 50));
  fs.writeFileSync(file + '.new', 'new');
  fs.renameSync(file + '.new', file);
  const { got } = await body();
  assert.ok(got > size, `got ${got} of ${size} bytes and the head`);
  // The next request sees the new file once the cache checks it (1 s).
  await new Promise((r) => setTimeout(r, 1100));
  const { data } = await rawRequest(port, 'GET /static/replaced.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(parseResponses(data, { closed: true }).responses[0]!.body.toString(), 'new');
});
