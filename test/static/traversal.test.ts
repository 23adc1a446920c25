// The traversal corpus: requests that try to leave the static root by
// encodings, double encodings, backslashes, overlong UTF-8, NUL, dot
// segments and symlinks (also swapped in while requests run). None may
// return the secret beside the root; each gets the status its rule gives.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serve, type ServerHandle } from 'tsgi';
import { parseResponses, rawRequest, tempDir } from '../helpers/index.js';

const SECRET = 'TOP-SECRET-4f1c';
const dir = tempDir('tsgi-static-trav-');
const pub = path.join(dir, 'public');
let strict: ServerHandle;
let follow: ServerHandle;

async function get(port: number, target: string): Promise<{ status: number; body: string }> {
  const { data } = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  assert.ok(!data.includes(SECRET), `${target} leaked the secret`);
  const { responses } = parseResponses(data, { closed: true });
  assert.equal(responses.length, 1, `${target}: ${data.toString('latin1')}`);
  return { status: responses[0]!.status, body: responses[0]!.body.toString('latin1') };
}

before(async () => {
  fs.mkdirSync(path.join(pub, 'sub'), { recursive: true });
  fs.mkdirSync(path.join(pub, '.git'));
  fs.writeFileSync(path.join(dir, 'secret.txt'), SECRET);
  fs.writeFileSync(path.join(pub, 'ok.txt'), 'ok');
  fs.writeFileSync(path.join(pub, 'sub', 'inner.txt'), 'inner');
  fs.writeFileSync(path.join(pub, '.git', 'config'), SECRET);
  fs.writeFileSync(path.join(pub, '%2e%2e'), 'a file named %2e%2e');
  fs.symlinkSync('sub/inner.txt', path.join(pub, 'link-in'));
  fs.symlinkSync(path.join(pub, 'ok.txt'), path.join(pub, 'abs-in'));
  fs.symlinkSync('../secret.txt', path.join(pub, 'link-out'));
  fs.symlinkSync('..', path.join(pub, 'dir-out'));
  fs.symlinkSync('/etc/passwd', path.join(pub, 'passwd'));
  const app = () => ({ body: 'app' });
  const opts = (followSymlinks: boolean) => ({
    listen: '127.0.0.1:0', log: () => {},
    static: { map: { '/static': pub }, followSymlinks, cacheValid: 0 },
  });
  strict = await serve(app, opts(false));
  follow = await serve(app, opts(true));
});

after(async () => {
  await strict.close();
  await follow.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

// [target, status]; 'app' where the path resolved outside /static is the app's.
const CORPUS: Array<[string, number | 'app']> = [
  ['/static/ok.txt', 200],
  ['/static/../secret.txt', 'app'],
  ['/static/../../secret.txt', 400],
  ['/static/%2e%2e/%2e%2e/secret.txt', 400],
  ['/static/%2E%2E/%2E%2E/secret.txt', 400],
  ['/static/%2e%2e%2f%2e%2e%2fsecret.txt', 400],
  ['/static/sub/..%2f..%2f..%2fsecret.txt', 400],
  ['/static//..//..//secret.txt', 400],
  ['/static/./././../../secret.txt', 400],
  ['/static/%252e%252e/%252e%252e/secret.txt', 404],
  ['/static/%252e%252e', 200],  // decoded once: the file named "%2e%2e"
  ['/static/..%5c..%5csecret.txt', 400],
  ['/static/%5c..%5c..%5csecret.txt', 400],
  ['/static/%c0%ae%c0%ae/%c0%ae%c0%ae/secret.txt', 404],
  ['/static/%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afsecret.txt', 404],
  ['/static/%e0%80%ae%e0%80%ae/secret.txt', 404],
  ['/static/ok.txt%00.png', 400],
  ['/static/%00', 400],
  ['/static/%', 400],
  ['/static/%zz', 400],
  ['/static/.git/config', 404],
  ['/static/%2egit/config', 404],
  ['/static/sub/../.git/config', 404],
  ['/static/link-in', 200],
  ['/static/abs-in', 200],
  ['/static/link-out', 403],
  ['/static/dir-out/secret.txt', 403],
  ['/static/passwd', 403],
  ['http://x/static/../../secret.txt', 400],
  ['/static/sub/../../../../../../etc/passwd', 400],
];

describe('the traversal corpus, symlinks refused (the default)', () => {
  for (const [target, want] of CORPUS) {
    test(target, async () => {
      const r = await get(strict.addresses[0]!.port!, target);
      if (want === 'app') assert.equal(r.body, 'app');
      else assert.equal(r.status, want);
    });
  }
  test('a raw backslash in the target', async () => {
    const r = await get(strict.addresses[0]!.port!, '/static/..\\..\\secret.txt');
    assert.ok(r.status === 400 || r.status === 404, String(r.status));
  });
});

describe('with followSymlinks, links leaving the root are served; encodings are refused the same', () => {
  test('links', async () => {
    const port = follow.addresses[0]!.port!;
    const { data } = await rawRequest(port, 'GET /static/link-out HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(data.toString(), /^HTTP\/1\.1 200/);
    assert.ok(data.includes(SECRET));
    assert.equal((await get(port, '/static/%2e%2e/%2e%2e/x')).status, 400);
    assert.equal((await get(port, '/static/.git/config')).status, 404);
  });
});

test('a symlink swapped in and out while requests run never leads outside', async () => {
  const port = strict.addresses[0]!.port!;
  // Another process swaps race.txt between a file and a symlink to the
  // secret as fast as it can (rename is atomic), while requests run here.
  const script = `
    const fs = require('fs'), path = require('path');
    const [dir, pub, ms] = process.argv.slice(1);
    const target = path.join(pub, 'race.txt'), safe = path.join(dir, 'race-safe'), evil = path.join(dir, 'race-evil');
    let swaps = 0;
    const end = Date.now() + Number(ms);
    while (Date.now() < end) {
      fs.writeFileSync(safe, 'safe');
      fs.renameSync(safe, target);
      try { fs.unlinkSync(evil); } catch {}
      fs.symlinkSync('../secret.txt', evil);
      fs.renameSync(evil, target);
      swaps++;
    }
    fs.writeFileSync(safe, 'safe');
    fs.renameSync(safe, target);
    process.stdout.write(String(swaps));`;
  const child = spawn(process.execPath, ['-e', script, dir, pub, '1500'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const exited = new Promise((r) => child.on('exit', r));
  const seen = new Map<number, number>();
  let running = true;
  void exited.then(() => { running = false; });
  await new Promise((r) => setTimeout(r, 50));
  while (running) {
    const rs = await Promise.all(Array.from({ length: 8 }, () => get(port, '/static/race.txt')));
    for (const r of rs) {
      seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
      if (r.status === 200) assert.equal(r.body, 'safe');
    }
  }
  await exited;
  assert.ok(Number(out) > 100, `${out} swaps`);
  assert.ok([...seen.keys()].every((s) => s === 200 || s === 403 || s === 404), JSON.stringify([...seen]));
  assert.ok((seen.get(403) ?? 0) > 0 && (seen.get(200) ?? 0) > 0, JSON.stringify([...seen]));
});
