// Memory back to the system once a burst is over (--release-memory,
// src/server/memory-release.ts). A burst here is one request whose app fills
// 48 MiB of 64 KiB Buffers (the size of a request body, below glibc's mmap
// threshold, so the C heap keeps their pages when they are freed) and makes
// a young generation's worth of small objects. After it the process is idle:
// with the release on, its resident size comes back to within 1.2× of what
// it was before the burst; with it off, it stays up.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { writeFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { serve } from 'tsgi';
import { ROOT, delay, httpGet, tempDir } from '../helpers/index.js';
import { rss, RSS_NOT_MEASURABLE as NOT_MEASURABLE } from '../helpers/memory.js';
import { TsgiProcess, runTsgi } from '../helpers/tsgi-process.js';

const { MemoryRelease } = require(path.join(ROOT, 'dist/server/memory-release.js')) as {
  MemoryRelease: new (idleMs: number, onRelease?: (r: { before: number; after: number }) => void) => { count: number; stop(): void };
};

const dir = tempDir('tsgi-memory-');
const APP = path.join(dir, 'burst-app.js');
writeFileSync(APP, `
module.exports = (req) => {
  if (req.PATH_INFO === '/burst') {
    const bodies = [];
    for (let i = 0; i < 768; i++) bodies.push(Buffer.allocUnsafeSlow(65536).fill(i & 0xff));
    let objects = 0;
    for (let i = 0; i < 300000; i++) objects += [i, { i, s: 'x' + i }].length;
    return { headers: { 'content-type': 'text/plain' }, body: String(bodies.length + objects) };
  }
  return { headers: { 'content-type': 'text/plain' }, body: 'ok' };
};
`);

const started: TsgiProcess[] = [];
after(async () => {
  for (const p of started) await p.stop();
});

const MB = 1024 * 1024;
const mb = (n: number): string => `${(n / MB).toFixed(1)} MB`;

/** Starts tsgi with `flags`, warms it up, lets it settle; returns it with its idle size. */
async function idleServer(flags: string[]): Promise<{ p: TsgiProcess; idle: number }> {
  const p = await TsgiProcess.start(['--http', '127.0.0.1:0', ...flags, APP]);
  started.push(p);
  for (let i = 0; i < 50; i++) assert.equal((await httpGet(p.port, '/')).body, 'ok');
  await delay(1500);
  return { p, idle: rss(p.child.pid!) };
}

async function burst(p: TsgiProcess, idle: number): Promise<number> {
  for (let i = 0; i < 2; i++) assert.equal((await httpGet(p.port, '/burst', { timeoutMs: 20_000 })).status, 200);
  const peak = rss(p.child.pid!);
  assert.ok(peak - idle >= 40 * MB, `the burst should grow the process by 40 MB or more: ${mb(idle)} -> ${mb(peak)}`);
  return peak;
}

test('after a burst, an idle process returns to within 1.2x its idle size', { skip: NOT_MEASURABLE }, async () => {
  const { p, idle } = await idleServer(['--release-memory', '1']);
  const peak = await burst(p, idle);
  const end = Date.now() + 8000;
  let now = rss(p.child.pid!);
  while (now > idle * 1.2 && Date.now() < end) {
    await delay(200);
    now = rss(p.child.pid!);
  }
  assert.ok(now <= idle * 1.2, `idle ${mb(idle)}, after the burst ${mb(peak)}, 8 s later still ${mb(now)}`);
  // And it goes on serving.
  assert.equal((await httpGet(p.port, '/')).body, 'ok');
});

test('with --release-memory 0 the memory a burst took stays taken', { skip: NOT_MEASURABLE }, async () => {
  const { p, idle } = await idleServer(['--release-memory', '0']);
  await burst(p, idle);
  await delay(2500);
  const now = rss(p.child.pid!);
  assert.ok(now - idle >= 30 * MB, `without the release the process should stay up: idle ${mb(idle)}, now ${mb(now)}`);
});

test('a release happens once per growth, not at every idle period', { skip: NOT_MEASURABLE }, async () => {
  const releases: Array<{ before: number; after: number }> = [];
  const r = new MemoryRelease(150, (x) => releases.push(x));
  try {
    let kept: Buffer[] | undefined = [];
    for (let i = 0; i < 640; i++) kept.push(Buffer.allocUnsafeSlow(65536).fill(1));
    kept = undefined;
    const end = Date.now() + 5000;
    while (releases.length === 0 && Date.now() < end) await delay(50);
    assert.equal(releases.length, 1, 'no release within 5 s of a 40 MiB burst');
    assert.ok(releases[0]!.after < releases[0]!.before, JSON.stringify(releases[0]));
    await delay(800);  // five idle periods more, nothing grown
    assert.equal(releases.length, 1, `released again with nothing to release: ${JSON.stringify(releases)}`);
    assert.equal(r.count, 1);
  } finally {
    r.stop();
  }
});

test('serve() refuses a releaseMemory that is not milliseconds >= 0', () => {
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => serve(() => ({ body: '' }), { listen: '127.0.0.1:0', releaseMemory: bad }),
      (err: Error & { code?: string }) => err.code === 'TSGI_ERR_CONFIG' && /releaseMemory/.test(err.message));
  }
});

test('--release-memory takes seconds and is in --help', () => {
  const bad = runTsgi(['--release-memory', 'soon', APP]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--release-memory needs seconds, not "soon"/);
  assert.match(runTsgi(['--help']).stdout, /--release-memory SECONDS/);
});
