// What `npm publish` would ship, installed the way users install it: the
// tarball holds the built JS, the C++ sources and a prebuilt addon, not our
// build output or tests; installing it compiles nothing (node-gyp-build finds
// the prebuild), and `npx tsgi` serves. Also: the loader's error when no addon
// can be loaded names the platform and the fix.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { ROOT, rawRequest, tempDir } from '../helpers/index.js';

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const PLATFORM = `${process.platform}-${process.arch}`;
const work = tempDir('tsgi-pack-');
// What this test added to the repo (prebuilds/), removed again at the end so
// a stale binary never lingers to be packed later.
let createdPrebuilds: string | undefined;

after(() => {
  if (createdPrebuilds) fs.rmSync(createdPrebuilds, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
});

function sh(cmd: string, args: string[], cwd: string, timeoutMs: number, env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20 });
  assert.ok(!r.error, `${cmd} ${args.join(' ')}: ${r.error?.message}`);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

function nodeFiles(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Requires 'tsgi' in a child and reports how it failed. */
function loadError(cwd: string, env: NodeJS.ProcessEnv): { message: string; code: string } {
  const r = spawnSync(process.execPath, ['-e', `
    try { require('tsgi'); console.log(JSON.stringify({ loaded: true })); }
    catch (e) { console.log(JSON.stringify({ message: e.message, code: e.code })); }`],
  { cwd, env, encoding: 'utf8', timeout: 15_000, killSignal: 'SIGKILL' });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { loaded?: boolean; message: string; code: string };
  assert.ok(!got.loaded, 'tsgi loaded although no addon could be');
  return got;
}

function assertLoaderError(e: { message: string; code: string }, opts: { fix: boolean }): void {
  assert.ok(e.message.startsWith('tsgi: cannot load its native addon'), e.message);
  assert.ok(e.message.includes(PLATFORM), `the platform ${PLATFORM} is not named: ${e.message}`);
  if (opts.fix) assert.match(e.message, /npm rebuild tsgi/, 'the message must say how to fix it');
  assert.equal(e.code, 'TSGI_ERR_ADDON_LOAD');
}

test('TSGI_ADDON naming a missing file: requiring tsgi throws the loader error', () => {
  const e = loadError(ROOT, { ...process.env, TSGI_ADDON: '/nonexistent.node' });
  assertLoaderError(e, { fix: false });
  assert.match(e.message, /nonexistent\.node/, 'the reason should name the file tried');
});

let tarball = '';
let packedFiles: string[] = [];

test('a prebuild exists for this platform (npm run prebuild, outside build/)', { timeout: 240_000 }, (t) => {
  const dest = path.join(ROOT, 'prebuilds', PLATFORM);
  if (nodeFiles(dest).length > 0) {
    // Packing a binary older than its sources would ship stale code.
    const built = Math.min(...nodeFiles(dest).map((f) => fs.statSync(path.join(dest, f)).mtimeMs));
    const sources = ['binding.gyp', ...fs.readdirSync(path.join(ROOT, 'native'), { recursive: true, encoding: 'utf8' })
      .map((f) => path.join('native', f))];
    const newer = sources.filter((f) => fs.statSync(path.join(ROOT, f)).mtimeMs > built);
    assert.deepEqual(newer, [], `prebuilds/${PLATFORM} is older than these sources: run "npm run prebuild" again or delete prebuilds/`);
    t.diagnostic(`using the existing prebuilds/${PLATFORM}/${nodeFiles(dest)[0]}`);
    return;
  }
  // prebuildify runs `node-gyp rebuild`, which deletes build/ (our compiled
  // tests, build/Release): build in a copy of the sources instead.
  const stage = path.join(work, 'stage');
  fs.mkdirSync(stage);
  for (const f of ['package.json', 'binding.gyp', 'native']) fs.cpSync(path.join(ROOT, f), path.join(stage, f), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
  sh(NPM, ['run', 'prebuild'], stage, 230_000, { ...process.env, JOBS: 'max' });
  const built = path.join(stage, 'prebuilds', PLATFORM);
  assert.equal(nodeFiles(built).length, 1, `prebuildify made ${nodeFiles(built).join(', ') || 'nothing'} in ${built}`);
  createdPrebuilds = fs.existsSync(path.join(ROOT, 'prebuilds')) ? dest : path.join(ROOT, 'prebuilds');
  fs.cpSync(built, dest, { recursive: true });
});

test('npm pack ships dist/, native/, binding.gyp, prebuilds/, bin/tsgi and nothing of ours', { timeout: 60_000 }, () => {
  assert.ok(fs.existsSync(path.join(ROOT, 'dist', 'index.mjs')), 'dist/ is not built (npm run build:ts)');
  // --ignore-scripts: dist/ is already built (pretest); `prepare` would rebuild it mid-run.
  const r = sh(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', work], ROOT, 60_000);
  const info = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  assert.equal(info.length, 1);
  tarball = path.join(work, path.basename(info[0]!.filename));
  assert.ok(fs.existsSync(tarball), `${tarball} missing`);
  packedFiles = info[0]!.files.map((f) => f.path);
  const has = (p: string) => packedFiles.includes(p);
  const under = (d: string) => packedFiles.filter((f) => f.startsWith(d));
  for (const f of ['package.json', 'binding.gyp', 'bin/tsgi', 'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts',
    'dist/cli/main.js', 'dist/native/load.js', 'native/addon.cc']) assert.ok(has(f), `${f} not in the tarball`);
  assert.ok(under(`prebuilds/${PLATFORM}/`).some((f) => f.endsWith('.node')), `no prebuilds/${PLATFORM}/*.node in the tarball`);
  // Every C++ source the gyp file needs must be there, or a source install fails.
  const gyp = fs.readFileSync(path.join(ROOT, 'binding.gyp'), 'utf8');
  for (const m of gyp.matchAll(/["'](native\/[^"']+\.cc)["']/g)) assert.ok(has(m[1]!), `${m[1]} (binding.gyp) not in the tarball`);
  for (const h of fs.readdirSync(path.join(ROOT, 'native'), { recursive: true, encoding: 'utf8' })) {
    if (h.endsWith('.h')) assert.ok(has(`native/${h.split(path.sep).join('/')}`), `header native/${h} not in the tarball`);
  }
  for (const bad of ['build/', 'build-', 'test/', 'node_modules/', 'src/', '.ci/', 'bench/']) {
    assert.deepEqual(packedFiles.filter((f) => f.startsWith(bad)), [], `${bad} must not be shipped`);
  }
  assert.deepEqual(packedFiles.filter((f) => f.endsWith('.node') && !f.startsWith('prebuilds/')), []);
  assert.deepEqual(packedFiles.filter((f) => f.endsWith('.tgz') || f.endsWith('.o')), []);
});

test('the tarball installs without compiling and `npx tsgi` serves from it', { timeout: 180_000 }, async () => {
  assert.ok(tarball, 'no tarball (the pack step failed)');
  const project = path.join(work, 'consumer');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), '{"name":"consumer","version":"1.0.0","private":true}\n');
  const inst = sh(NPM, ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], project, 150_000);
  const pkgDir = path.join(project, 'node_modules', 'tsgi');
  assert.ok(fs.existsSync(path.join(pkgDir, 'dist', 'index.js')), 'tsgi not installed');
  assert.ok(!fs.existsSync(path.join(pkgDir, 'build')), `the install compiled the addon (build/ exists):\n${inst.stdout}${inst.stderr}`);
  assert.ok(fs.existsSync(path.join(project, 'node_modules', '.bin', 'tsgi')), 'no node_modules/.bin/tsgi');

  // Which binary loads: the prebuild, found by node-gyp-build.
  const which = sh(process.execPath, ['-e', `
    const tsgi = require('tsgi');
    const addons = Object.keys(require.cache).filter((k) => k.endsWith('.node'));
    console.log(JSON.stringify({ addons, version: tsgi.VERSION }));`], project, 15_000);
  const loaded = JSON.parse(which.stdout) as { addons: string[]; version: string };
  assert.equal(loaded.addons.length, 1, `addons loaded: ${loaded.addons.join(', ')}`);
  assert.ok(loaded.addons[0]!.startsWith(path.join(fs.realpathSync(pkgDir), 'prebuilds', PLATFORM) + path.sep),
    `loaded ${loaded.addons[0]}, not the installed prebuild`);

  // The app names the tsgi it runs under and its pid, so the test stops exactly that process.
  fs.writeFileSync(path.join(project, 'app.js'), `
    module.exports = (req) => ({ body: JSON.stringify({ path: req.PATH_INFO, tsgi: require.resolve('tsgi'), pid: process.pid }) });\n`);
  const port = await freePort();
  const child = spawn('npx', ['--no-install', 'tsgi', '--http', `127.0.0.1:${port}`, 'app.js'],
    { cwd: project, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const killGroup = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } };
  try {
    const deadline = Date.now() + 30_000;
    while (!stderr.includes('tsgi: serving') && child.exitCode === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(stderr, new RegExp(`tsgi: serving app\\.js on http://127\\.0\\.0\\.1:${port}`), `tsgi did not start:\n${stderr}`);
    const res = await rawRequest(port, 'GET /packed HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', { timeoutMs: 5_000 });
    const text = res.data.toString('utf8');
    assert.match(text, /^HTTP\/1\.1 200 /);
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { path: string; tsgi: string; pid: number };
    assert.equal(body.path, '/packed');
    assert.ok(body.tsgi.startsWith(fs.realpathSync(pkgDir)), `served by ${body.tsgi}, not the installed package`);
    process.kill(body.pid, 'SIGTERM');
    const timer = setTimeout(killGroup, 10_000);
    const code = await exited;
    clearTimeout(timer);
    assert.equal(code, 0, `npx tsgi exited ${code} after SIGTERM:\n${stderr}`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) killGroup();
  }
});

test('the installed package without a matching binary throws the loader error', () => {
  assert.ok(tarball, 'no tarball (the pack step failed)');
  const project = path.join(work, 'consumer');
  const prebuilds = path.join(project, 'node_modules', 'tsgi', 'prebuilds');
  assert.ok(fs.existsSync(prebuilds), 'no installed package (the install step failed)');
  const aside = prebuilds + '.aside';
  fs.renameSync(prebuilds, aside);
  try {
    assertLoaderError(loadError(project, process.env), { fix: true });
    assertLoaderError(loadError(project, { ...process.env, TSGI_ADDON: '/nonexistent.node' }), { fix: false });
  } finally {
    fs.renameSync(aside, prebuilds);
  }
});
