// What `npm publish` would ship, installed the way users install it: the
// tarball holds the built JS, the C++ sources and the glibc prebuilds for
// linux-x64 and linux-arm64 (npm run prebuild: tsgi and, beside it, the load
// generator tsgi_loadgen), not our build output, tests or the test hooks'
// addon, and stays within its size budget. Installing it on a PATH with
// nothing but node and npm (no compiler, make or python) compiles nothing,
// says nothing about compiling, takes under 20 s, `npx tsgi` serves from it
// and `npx tsgi bench` loads it; the official arm64 Node under qemu loads the
// arm64 prebuilds from the same install and serves. When no prebuild fits, the install says so in one
// line naming the platform before node-gyp runs. The loader's error when no
// addon can be loaded names the platform and the fix.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { ROOT, have, rawRequest, tempDir } from '../helpers/index.js';

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const PLATFORM = `${process.platform}-${process.arch}`;
/** The prebuilds a release ships (scripts/prebuild.cjs); the tarball must carry each. */
const RELEASE_ARCHES = ['x64', 'arm64'];
const PREBUILD_NAME = 'tsgi.glibc.node';
/** `tsgi bench`'s engine, beside each prebuild with the same tags (src/native/load.ts). */
const LOADGEN_NAME = 'tsgi_loadgen.glibc.node';
/**
 * The packed (gzip) tarball: 711 KB with both prebuilds when this was set; 779 KB with their load generators;
 * 927 KB once those carry the WebSocket mode (ws_worker and proto/ws: 25 KB of code in each);
 * 1042 KB with static files in the core (native/static/: about 40 KB of code in each prebuild);
 * 1089 KB with tsgi status/reload/stop/top, the Node runtime stats, --trusted-proxy and bench --compare
 * (about 12 KB of compressed JS, dist/ and its .d.ts and .mjs files), among others' additions;
 * 1102 KB with --app-metrics (dist/stats/app-metrics.js and its .d.ts: about 4 KB compressed);
 * 1104 KB with the memory release after a burst (--release-memory). The budget is 1150 KiB.
 */
const TARBALL_BUDGET = 1150 * 1024;
const INSTALL_BUDGET_MS = 20_000;
const SYSROOT_ARM64 = '/usr/aarch64-linux-gnu';

const work = tempDir('tsgi-pack-');
after(() => fs.rmSync(work, { recursive: true, force: true }));

function sh(cmd: string, args: string[], cwd: string, timeoutMs: number, env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20 });
  assert.ok(!r.error, `${cmd} ${args.join(' ')}: ${r.error?.message}`);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r;
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

/** Cross builds and qemu: required in CI, else the arm64 parts are skipped with what to install. */
function arm64Tools(): string | undefined {
  const missing = [];
  if (!have('aarch64-linux-gnu-g++')) missing.push('g++-aarch64-linux-gnu');
  if (!have('qemu-aarch64')) missing.push('qemu-user');
  if (missing.length === 0) return undefined;
  const msg = `arm64 needs apt-get install ${missing.join(' ')}`;
  if (process.env.CI) throw new Error(`${msg} (required in CI)`);
  return msg;
}
const arm64Missing = process.platform === 'linux' && process.arch === 'x64' ? arm64Tools() : 'an x64 Linux host cross-builds arm64';
const arches = process.platform === 'linux' ? RELEASE_ARCHES.filter((a) => a === process.arch || !arm64Missing) : [process.arch];

/**
 * A PATH of node, npm, npx and sh only, and an environment without the npm_*
 * variables of the npm running these tests: what a machine without a
 * toolchain gives `npm install`. CC/CXX=false make any compile attempt fail.
 */
function bareEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const bin = path.join(work, 'bare-bin');
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(bin);
    fs.symlinkSync(process.execPath, path.join(bin, 'node'));
    // sh: npm runs the install hook with it.
    for (const tool of ['npm', 'npx', 'sh']) {
      const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      assert.ok(found, `${tool} not on PATH`);
      fs.symlinkSync(fs.realpathSync(found), path.join(bin, tool));
    }
  }
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD') env[k] = v;
  return { ...env, PATH: bin, CC: 'false', CXX: 'false', ...extra };
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

/** The loader's error: for TSGI_ADDON, naming that file; else naming the platform and the fix. */
function assertLoaderError(e: { message: string; code: string }, opts: { env?: string }): void {
  if (opts.env !== undefined) {
    assert.ok(e.message.startsWith(`tsgi: cannot load the native addon TSGI_ADDON names (${opts.env})`), e.message);
  } else {
    assert.ok(e.message.startsWith('tsgi: cannot load its native addon'), e.message);
    assert.ok(e.message.includes(PLATFORM), `the platform ${PLATFORM} is not named: ${e.message}`);
    assert.match(e.message, /npm rebuild tsgi/, 'the message must say how to fix it');
  }
  assert.equal(e.code, 'TSGI_ERR_ADDON_LOAD');
}

/** Starts `cmd args` serving app.js on a free port; resolves once it says so. */
async function startServer(cmd: string, args: (port: number) => string[], cwd: string, env: NodeJS.ProcessEnv,
  startMs: number): Promise<{ port: number; child: ChildProcess; stderr: () => string; exited: Promise<number | null>; kill: () => void }> {
  const port = await freePort();
  const child = spawn(cmd, args(port), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const kill = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } };
  const deadline = Date.now() + startMs;
  while (!stderr.includes('tsgi: serving') && child.exitCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  if (!new RegExp(`tsgi: serving app\\.js on http://127\\.0\\.0\\.1:${port}`).test(stderr)) {
    kill();
    assert.fail(`tsgi did not start:\n${stderr}`);
  }
  return { port, child, stderr: () => stderr, exited, kill };
}

/** One request to the app below; its JSON body. */
async function askApp(port: number, reqPath: string): Promise<{ path: string; tsgi: string; pid: number; arch: string; addons: string[] }> {
  const res = await rawRequest(port, `GET ${reqPath} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`, { timeoutMs: 10_000 });
  const text = res.data.toString('utf8');
  assert.match(text, /^HTTP\/1\.1 200 /, text);
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { path: string; tsgi: string; pid: number; arch: string; addons: string[] };
}

const APP = `
module.exports = (req) => ({ body: JSON.stringify({
  path: req.PATH_INFO, tsgi: require.resolve('tsgi'), pid: process.pid, arch: process.arch,
  addons: Object.keys(require.cache).filter((k) => k.endsWith('.node')),
}) });\n`;

test('TSGI_ADDON naming a missing file: requiring tsgi throws the loader error', () => {
  assertLoaderError(loadError(ROOT, { ...process.env, TSGI_ADDON: '/nonexistent.node' }), { env: '/nonexistent.node' });
});

let tarball = '';
let packedFiles: string[] = [];
/** Where npm pack runs: the repo when its prebuilds are all fresh, else a copy of what it would pack. */
let packDir = ROOT;

const prebuildFile = (dir: string, arch: string) => path.join(dir, 'prebuilds', `${process.platform}-${arch}`,
  process.platform === 'linux' ? PREBUILD_NAME : 'tsgi.node');
const loadgenFile = (dir: string, arch: string) => path.join(dir, 'prebuilds', `${process.platform}-${arch}`,
  process.platform === 'linux' ? LOADGEN_NAME : 'tsgi_loadgen.node');

test('the release prebuilds: the repo\'s when all are newer than the sources, else made for this test', { timeout: 400_000 }, (t) => {
  if (arm64Missing) t.diagnostic(`linux-arm64 left out: ${arm64Missing}`);
  const sources = ['binding.gyp', ...fs.readdirSync(path.join(ROOT, 'native'), { recursive: true, encoding: 'utf8' })
    .map((f) => path.join('native', f))];
  const sourcesMtime = Math.max(...sources.map((f) => fs.statSync(path.join(ROOT, f)).mtimeMs));
  const fresh = (a: string) => [prebuildFile(ROOT, a), loadgenFile(ROOT, a)]
    .every((f) => fs.existsSync(f) && fs.statSync(f).mtimeMs >= sourcesMtime);
  if (!arches.every(fresh)) {
    // Built into a folder of this test's and packed from a copy of the
    // package (the files npm pack would take from the repo, its prebuilds/
    // left out): the repo's prebuilds/ is never written or deleted, so
    // runs at the same time in one checkout cannot take each other's.
    const stage = path.join(work, 'package');
    const listed = sh(NPM, ['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT, 60_000);
    const [info] = JSON.parse(listed.stdout.slice(listed.stdout.indexOf('['))) as { files: { path: string }[] }[];
    for (const { path: f } of info!.files) {
      if (!f.startsWith('prebuilds/')) fs.cpSync(path.join(ROOT, f), path.join(stage, f), { preserveTimestamps: true });
    }
    if (process.platform !== 'linux') fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
    const args = process.platform === 'linux'
      ? [path.join(ROOT, 'scripts', 'prebuild.cjs'), ...arches.flatMap((a) => ['--arch', a]), '--out', stage]
      : [require.resolve('prebuildify/bin.js', { paths: [ROOT] }), '--napi', '--strip', '--out', stage];
    const started = Date.now();
    sh(process.execPath, args, process.platform === 'linux' ? ROOT : stage, 390_000, { ...process.env, JOBS: 'max' });
    t.diagnostic(`built ${arches.join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s (the repo's prebuilds/ ` +
      `lacks some or has some older than the sources)`);
    packDir = stage;
  }
  for (const a of arches) {
    for (const file of [prebuildFile(packDir, a), loadgenFile(packDir, a)]) {
      assert.ok(fs.existsSync(file), `${file} was not made`);
      t.diagnostic(`${path.relative(packDir, file)}: ${fs.statSync(file).size} bytes`);
    }
  }
});

test('npm pack ships dist/, native/, binding.gyp, the prebuilds, bin/tsgi and nothing of ours, within budget', { timeout: 60_000 }, (t) => {
  assert.ok(fs.existsSync(path.join(ROOT, 'dist', 'index.mjs')), 'dist/ is not built (npm run build:ts)');
  // --ignore-scripts: dist/ is already built (pretest); `prepare` would rebuild it mid-run.
  const r = sh(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', work], packDir, 60_000);
  const info = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as
    { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[];
  assert.equal(info.length, 1);
  tarball = path.join(work, path.basename(info[0]!.filename));
  assert.ok(fs.existsSync(tarball), `${tarball} missing`);
  packedFiles = info[0]!.files.map((f) => f.path);
  const has = (p: string) => packedFiles.includes(p);
  for (const f of ['package.json', 'binding.gyp', 'bin/tsgi', 'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts',
    'dist/cli/main.js', 'dist/native/load.js', 'native/addon.cc', 'scripts/install.cjs']) assert.ok(has(f), `${f} not in the tarball`);
  for (const a of arches) {
    for (const file of [prebuildFile('', a), loadgenFile('', a)]) {
      const p = file.split(path.sep).join('/');
      assert.ok(has(p), `${p} not in the tarball`);
    }
  }
  // Two binaries per platform: the addon and the load generator; never the test hooks' addon.
  assert.deepEqual(packedFiles.filter((f) => f.endsWith('.node')).sort(),
    arches.flatMap((a) => [prebuildFile('', a), loadgenFile('', a)]).map((f) => f.split(path.sep).join('/')).sort());
  assert.deepEqual(packedFiles.filter((f) => f.includes('tsgi_testing')), [], 'the test hooks\' addon must not be shipped');
  // Every C++ source the gyp file needs must be there, or a source install fails.
  const gyp = fs.readFileSync(path.join(ROOT, 'binding.gyp'), 'utf8');
  for (const m of gyp.matchAll(/["'](native\/[^"']+\.cc)["']/g)) assert.ok(has(m[1]!), `${m[1]} (binding.gyp) not in the tarball`);
  for (const h of fs.readdirSync(path.join(ROOT, 'native'), { recursive: true, encoding: 'utf8' })) {
    if (h.endsWith('.h')) assert.ok(has(`native/${h.split(path.sep).join('/')}`), `header native/${h} not in the tarball`);
  }
  for (const bad of ['build/', 'build-', 'test/', 'node_modules/', 'src/', '.ci/', '.cache/', 'bench/', 'docs/']) {
    assert.deepEqual(packedFiles.filter((f) => f.startsWith(bad)), [], `${bad} must not be shipped`);
  }
  assert.deepEqual(packedFiles.filter((f) => f.startsWith('scripts/') && f !== 'scripts/install.cjs'), [],
    'only the install hook of scripts/ is needed by users');
  assert.deepEqual(packedFiles.filter((f) => f.endsWith('.node') && !f.startsWith('prebuilds/')), []);
  assert.deepEqual(packedFiles.filter((f) => f.endsWith('.tgz') || f.endsWith('.o')), []);
  const { size, unpackedSize } = info[0]!;
  t.diagnostic(`tarball ${size} bytes (${unpackedSize} unpacked, ${packedFiles.length} files); budget ${TARBALL_BUDGET}`);
  assert.ok(size <= TARBALL_BUDGET, `the tarball is ${size} bytes, over its budget of ${TARBALL_BUDGET}: what grew?`);
});

const project = path.join(work, 'consumer');

test('with no compiler, make or python, the tarball installs in under 20 s without compiling, and `npx tsgi` serves', { timeout: 180_000 }, async (t) => {
  assert.ok(tarball, 'no tarball (the pack step failed)');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), '{"name":"consumer","version":"1.0.0","private":true}\n');
  const env = bareEnv();
  const started = Date.now();
  // --foreground-scripts: the install hook's output is shown, so a line it should not print would be seen.
  const inst = sh('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts'],
    project, 150_000, env);
  const ms = Date.now() - started;
  t.diagnostic(`npm install took ${ms} ms`);
  const output = inst.stdout + inst.stderr;
  const pkgDir = path.join(project, 'node_modules', 'tsgi');
  assert.ok(fs.existsSync(path.join(pkgDir, 'dist', 'index.js')), 'tsgi not installed');
  assert.ok(!fs.existsSync(path.join(pkgDir, 'build')), `the install compiled the addon (build/ exists):\n${output}`);
  assert.doesNotMatch(output, /compiling from source|gyp (info|ERR!)/, `the install tried to compile:\n${output}`);
  assert.ok(fs.existsSync(path.join(project, 'node_modules', '.bin', 'tsgi')), 'no node_modules/.bin/tsgi');
  assert.ok(ms < INSTALL_BUDGET_MS, `npm install took ${ms} ms (budget ${INSTALL_BUDGET_MS} ms)`);

  fs.writeFileSync(path.join(project, 'app.js'), APP);
  const server = await startServer('npx', (port) => ['--no-install', 'tsgi', '--http', `127.0.0.1:${port}`, 'app.js'], project, env, 30_000);
  try {
    const body = await askApp(server.port, '/packed');
    assert.equal(body.path, '/packed');
    assert.ok(body.tsgi.startsWith(fs.realpathSync(pkgDir)), `served by ${body.tsgi}, not the installed package`);
    // Which binary loaded: the prebuild, found by node-gyp-build.
    const expected = path.join(fs.realpathSync(pkgDir), 'prebuilds', PLATFORM,
      process.platform === 'linux' ? PREBUILD_NAME : 'tsgi.node');
    assert.deepEqual(body.addons, [expected]);
    // tsgi bench loads the load generator of the same install, beside the addon.
    const run = sh('npx', ['--no-install', 'tsgi', 'bench', '--json', '-n', '50', '-c', '2', `127.0.0.1:${server.port}`, '/bench'],
      project, 60_000, env);
    const result = JSON.parse(run.stdout) as { requests: number; errors: { total: number } };
    assert.equal(result.requests, 50, run.stdout);
    assert.equal(result.errors.total, 0, run.stdout);
    const loaded = sh(process.execPath, ['-e', `require('tsgi/native').loadgenBinding();
      console.log(JSON.stringify(Object.keys(require.cache).filter((k) => k.endsWith('.node'))))`], project, 30_000, env);
    assert.deepEqual(JSON.parse(loaded.stdout), [expected, path.join(path.dirname(expected),
      process.platform === 'linux' ? LOADGEN_NAME : 'tsgi_loadgen.node')]);
    // The subpath entries resolve from the install too: tsgi/http serves, tsgi/register replaces createServer.
    const entries = sh(process.execPath, ['--import', 'tsgi/register', '--input-type=module', '-e', `
      import { createServer as nodeCreate } from 'node:http';
      import { createServer, Server } from 'tsgi/http';
      const s = nodeCreate((req, res) => res.end('packed ' + req.url)).listen(0, '127.0.0.1', async () => {
        const body = await (await fetch('http://127.0.0.1:' + s.address().port + '/e')).text();
        s.close(() => console.log(JSON.stringify({ body, ours: s instanceof Server, direct: typeof createServer })));
      });`], project, 30_000, env);
    assert.deepEqual(JSON.parse(entries.stdout), { body: 'packed /e', ours: true, direct: 'function' });
    process.kill(body.pid, 'SIGTERM');
    const timer = setTimeout(server.kill, 10_000);
    const code = await server.exited;
    clearTimeout(timer);
    assert.equal(code, 0, `npx tsgi exited ${code} after SIGTERM:\n${server.stderr()}`);
  } finally {
    if (server.child.exitCode === null && server.child.signalCode === null) server.kill();
  }
});

test('the official arm64 Node under qemu loads the arm64 prebuilds of the install and serves', {
  timeout: 240_000, skip: arm64Missing,
}, async (t) => {
  assert.ok(fs.existsSync(path.join(project, 'node_modules', 'tsgi')), 'no installed package (the install step failed)');
  assert.ok(fs.existsSync(path.join(SYSROOT_ARM64, 'lib', 'ld-linux-aarch64.so.1')),
    `no arm64 sysroot at ${SYSROOT_ARM64} (apt-get install g++-aarch64-linux-gnu)`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { nodeBinary } = require(path.join(ROOT, 'scripts', 'lib', 'fetch-node.cjs')) as
    { nodeBinary(spec: string, o: { platform: string; arch: string; log: (m: string) => void }): string };
  const node = nodeBinary('24', { platform: 'linux', arch: 'arm64', log: (m) => t.diagnostic(m) });
  const env = bareEnv({ QEMU_LD_PREFIX: SYSROOT_ARM64 });
  const qemu = spawnSync('sh', ['-c', 'command -v qemu-aarch64'], { encoding: 'utf8' }).stdout.trim();
  const started = Date.now();
  const server = await startServer(qemu, (port) => [node, path.join('node_modules', 'tsgi', 'bin', 'tsgi'),
    '--http', `127.0.0.1:${port}`, 'app.js'], project, env, 120_000);
  try {
    const body = await askApp(server.port, '/arm64');
    t.diagnostic(`arm64 Node started and answered in ${Date.now() - started} ms`);
    assert.equal(body.arch, 'arm64');
    assert.equal(body.path, '/arm64');
    const pkgDir = fs.realpathSync(path.join(project, 'node_modules', 'tsgi'));
    assert.deepEqual(body.addons, [path.join(pkgDir, 'prebuilds', 'linux-arm64', PREBUILD_NAME)]);
    // The arm64 load generator loads too (tsgi bench's engine; its threads need the glibc shim).
    const loaded = sh(qemu, [node, '-e', `const n = require('tsgi/native'); n.loadgenBinding();
      console.log(JSON.stringify(Object.keys(require.cache).filter((k) => k.endsWith('.node'))))`], project, 120_000, env);
    assert.deepEqual(JSON.parse(loaded.stdout), [PREBUILD_NAME, LOADGEN_NAME].map((f) => path.join(pkgDir, 'prebuilds', 'linux-arm64', f)));
    process.kill(body.pid, 'SIGTERM');
    const timer = setTimeout(server.kill, 20_000);
    const code = await server.exited;
    clearTimeout(timer);
    assert.equal(code, 0, `tsgi under qemu exited ${code} after SIGTERM:\n${server.stderr()}`);
  } finally {
    if (server.child.exitCode === null && server.child.signalCode === null) server.kill();
  }
});

test('when no prebuild fits (musl here), the install says so in one line before node-gyp, which fails without python', {
  timeout: 120_000, skip: process.platform !== 'linux' ? 'the libc tag is Linux-only' : false,
}, (t) => {
  const pkgDir = path.join(project, 'node_modules', 'tsgi');
  assert.ok(fs.existsSync(pkgDir), 'no installed package (the install step failed)');
  // node-gyp-build's LIBC override: it then looks for *.musl.node, as on Alpine.
  const r = spawnSync('npm', ['rebuild', 'tsgi', '--foreground-scripts'], {
    cwd: project, env: bareEnv({ LIBC: 'musl' }), encoding: 'utf8', timeout: 110_000, killSignal: 'SIGKILL',
  });
  const output = r.stdout + r.stderr;
  assert.notEqual(r.status, 0, `npm rebuild succeeded without a compiler:\n${output}`);
  const lines = output.split('\n').filter((l) => l.startsWith('tsgi: '));
  t.diagnostic(lines.join(' | '));
  assert.deepEqual(lines, [`tsgi: no prebuilt binary for ${PLATFORM}-musl (node ${process.version}); compiling from source with node-gyp`],
    output);
  assert.ok(output.indexOf(lines[0]!) < output.search(/gyp (info|ERR!)/), `the line must come before node-gyp's:\n${output}`);
  assert.match(output, /gyp ERR! find Python/, `node-gyp should have stopped for want of python:\n${output}`);
  fs.rmSync(path.join(pkgDir, 'build'), { recursive: true, force: true });
});

test('the installed package without a matching binary throws the loader error', () => {
  assert.ok(tarball, 'no tarball (the pack step failed)');
  const prebuilds = path.join(project, 'node_modules', 'tsgi', 'prebuilds');
  assert.ok(fs.existsSync(prebuilds), 'no installed package (the install step failed)');
  const aside = prebuilds + '.aside';
  fs.renameSync(prebuilds, aside);
  try {
    assertLoaderError(loadError(project, process.env), {});
    assertLoaderError(loadError(project, { ...process.env, TSGI_ADDON: '/nonexistent.node' }), { env: '/nonexistent.node' });
  } finally {
    fs.renameSync(aside, prebuilds);
  }
});
