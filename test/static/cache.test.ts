// The open-file cache keeps failed lookups apart from files: a flood of
// requests for missing paths, under a static prefix or through
// --check-static for the app's own routes, never pushes a hot file out.
// Seen from outside: with a long validity interval a cached file is served
// from its open descriptor even after its name is removed, so a file still
// served after the flood and an unlink is a file that stayed cached.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serve, type ServerHandle } from 'tsgi';
import { httpGet, tempDir } from '../helpers/index.js';

const dir = tempDir('tsgi-static-cache-');
const pub = path.join(dir, 'public');
const root = path.join(dir, 'root');
let server: ServerHandle;
let port = 0;

before(async () => {
  fs.mkdirSync(pub, { recursive: true });
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(pub, 'hot.txt'), 'hot');
  fs.writeFileSync(path.join(root, 'robots.txt'), 'robots');
  server = await serve((req) => ({ body: `app ${req.PATH_INFO}` }), {
    listen: '127.0.0.1:0', log: () => {},
    static: { map: { '/static': pub }, check: [root], cacheEntries: 8, cacheValid: 60_000 },
  });
  port = server.addresses[0]!.port!;
});

after(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const openFds = () => fs.readdirSync('/proc/self/fd').length;

test('misses do not evict a hot file, and stay bounded', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  assert.equal((await httpGet(port, '/static/hot.txt')).body, 'hot');
  assert.equal((await httpGet(port, '/robots.txt')).body, 'robots');
  const fds = openFds();
  // Ten times the cache's size in distinct missing paths, both ways.
  for (let i = 0; i < 40; i++) assert.equal((await httpGet(port, `/static/none-${i}.txt`)).status, 404);
  for (let i = 0; i < 40; i++) assert.equal((await httpGet(port, `/api/users/${i}`)).body, `app /api/users/${i}`);
  fs.unlinkSync(path.join(pub, 'hot.txt'));
  fs.unlinkSync(path.join(root, 'robots.txt'));
  const hot = await httpGet(port, '/static/hot.txt');
  assert.equal(hot.status, 200, 'the hot file was evicted by the misses');
  assert.equal(hot.body, 'hot');
  assert.equal((await httpGet(port, '/robots.txt')).body, 'robots');
  assert.ok(openFds() <= fds + 2, `descriptors ${fds} -> ${openFds()}`);
});

test('eight files fill the cache: a ninth evicts the least recent, as before', async () => {
  for (let i = 0; i < 9; i++) fs.writeFileSync(path.join(pub, `f${i}.txt`), `f${i}`);
  for (let i = 0; i < 9; i++) assert.equal((await httpGet(port, `/static/f${i}.txt`)).body, `f${i}`);
  for (let i = 0; i < 9; i++) fs.unlinkSync(path.join(pub, `f${i}.txt`));
  // f0 was pushed out by f8 (the hot file before it too); f1..f8 are still open.
  assert.equal((await httpGet(port, '/static/f0.txt')).status, 404);
  assert.equal((await httpGet(port, '/static/f8.txt')).body, 'f8');
});
