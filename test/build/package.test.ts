// package.json is what users get: its version is the one tsgi reports, its
// exports resolve for TypeScript, ESM and CommonJS, and both module systems
// get one working serve() (the ESM entry re-exports the CommonJS build).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { VERSION } from 'tsgi';
import { ROOT, tempDir } from '../helpers/index.js';

interface PackageJson {
  name: string;
  version: string;
  main: string;
  types: string;
  bin: Record<string, string>;
  files: string[];
  exports: Record<string, string | Record<string, string>>;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
}

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as PackageJson;

// A consumer project whose node_modules/tsgi is a symlink to this repo, as
// `npm link` makes it; children run there resolve 'tsgi' like a user would.
const consumer = tempDir('tsgi-consumer-');
fs.mkdirSync(path.join(consumer, 'node_modules'));
fs.symlinkSync(ROOT, path.join(consumer, 'node_modules', 'tsgi'), 'dir');
fs.writeFileSync(path.join(consumer, 'package.json'), '{"name":"consumer","private":true}\n');
after(() => fs.rmSync(consumer, { recursive: true, force: true }));

/** Runs node in the consumer dir, bounded; the child prints one result line. */
function runNode(args: string[], timeoutMs = 15_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, args, { cwd: consumer, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Serves one request on an ephemeral port, fetches it, closes, and lets the
// process exit by itself: a server that kept the loop alive after close()
// would show up here as a timeout.
const SERVE_AND_FETCH = `
  const s = serve((req) => ({ headers: { 'x-kind': KIND }, body: KIND + ' ' + req.REQUEST_METHOD + ' ' + req.PATH_INFO }),
    { listen: '127.0.0.1:0', log: () => {} });
  const port = s.addresses[0].port;
  fetch('http://127.0.0.1:' + port + '/hello?x=1').then(async (r) => {
    const line = JSON.stringify({ status: r.status, kind: r.headers.get('x-kind'), body: await r.text() });
    await s.close();
    console.log(line);
  }, (err) => { console.error(err); process.exit(3); });
`;

test('package.json version equals VERSION exported by tsgi', () => {
  assert.equal(pkg.name, 'tsgi');
  assert.match(pkg.version, /^\d+\.\d+\.\d+(-[\w.]+)?$/);
  assert.equal(VERSION, pkg.version);
});

test('exports "." has types, import and require, types first, each file present', () => {
  assert.equal(typeof pkg.exports['.'], 'object', 'exports["."] must be a conditions object');
  const dot = pkg.exports['.'] as Record<string, string>;
  assert.deepEqual(Object.keys(dot).slice(0, 1), ['types'], 'TypeScript reads "types" only when it comes first');
  for (const cond of ['types', 'import', 'require']) {
    const target: string | undefined = dot[cond];
    assert.equal(typeof target, 'string', `exports["."].${cond} missing`);
    assert.ok(fs.existsSync(path.join(ROOT, target!)), `exports["."].${cond} -> ${target} does not exist (npm run build:ts)`);
  }
  assert.equal(path.normalize(dot.require!), path.normalize(pkg.main), '"main" and exports.require differ');
  assert.equal(path.normalize(dot.types!), path.normalize(pkg.types), '"types" and exports.types differ');
  assert.equal(pkg.exports['./package.json'], './package.json');
});

test('exports "./native" resolves to the addon loader, with types', () => {
  assert.equal(typeof pkg.exports['./native'], 'object');
  const native = pkg.exports['./native'] as Record<string, string>;
  assert.deepEqual(Object.keys(native).slice(0, 1), ['types']);
  for (const target of Object.values(native)) assert.ok(fs.existsSync(path.join(ROOT, target)), `${target} missing`);
});

test('exports "./http" and "./register" have types, import and require, each file present', () => {
  for (const name of ['./http', './register']) {
    const entry = pkg.exports[name] as Record<string, string>;
    assert.equal(typeof entry, 'object', `exports["${name}"] must be a conditions object`);
    assert.deepEqual(Object.keys(entry), ['types', 'import', 'require']);
    for (const target of Object.values(entry)) assert.ok(fs.existsSync(path.join(ROOT, target)), `${target} missing (npm run build:ts)`);
  }
});

test('tsgi/http is one module for ESM and CommonJS, and serves', () => {
  const r = runNode(['--input-type=module', '-e', `
    import { createServer, Server } from 'tsgi/http';
    import { createRequire } from 'node:module';
    const cjs = createRequire(process.cwd() + '/')('tsgi/http');
    const server = createServer((req, res) => res.end('esm ' + req.url)).listen(0, '127.0.0.1', async () => {
      const r = await fetch('http://127.0.0.1:' + server.address().port + '/h');
      const body = await r.text();
      server.close(() => console.log(JSON.stringify({ body, same: cjs.Server === Server && server instanceof cjs.Server })));
    });`]);
  assert.equal(r.status, 0, `child failed:\n${r.stderr}`);
  assert.deepEqual(JSON.parse(r.stdout), { body: 'esm /h', same: true });
});

test('bin/tsgi is an executable node script and the files whitelist exists', () => {
  const bin = path.join(ROOT, pkg.bin.tsgi!);
  assert.match(fs.readFileSync(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  assert.ok((fs.statSync(bin).mode & 0o111) !== 0, `${pkg.bin.tsgi} is not executable`);
  for (const f of pkg.files) {
    if (f === 'prebuilds/') continue; // made by `npm run prebuild` before publishing
    assert.ok(fs.existsSync(path.join(ROOT, f)), `"files" lists ${f}, which does not exist`);
  }
  // node-gyp-build, behind one line saying when no prebuilt binary fits (scripts/install.cjs).
  assert.equal(pkg.scripts.install, 'node scripts/install.cjs');
  assert.ok(pkg.files.includes('scripts/install.cjs'), 'the install script must be shipped');
  assert.ok(pkg.dependencies['node-gyp-build'], 'node-gyp-build must be a dependency: the install script runs it');
  assert.ok(pkg.dependencies['node-addon-api'], 'node-addon-api must be a dependency: a source build needs it');
});

test('no script runs by accident as another one\'s pre/post hook', () => {
  // npm runs "preX" before and "postX" after "npm run X": a script named
  // "prebuild" next to one named "build" would run prebuildify on every build.
  const intended = new Set(['pretest']);
  const hooks = Object.keys(pkg.scripts).filter((name) => {
    const m = /^(pre|post)(.+)$/.exec(name);
    return m !== null && m[2]! in pkg.scripts && !intended.has(name);
  });
  assert.deepEqual(hooks, [], 'rename these scripts, or list them as intended hooks here');
});

test('no source file is git-ignored (an unanchored "build/" would hide test/build/)', (t) => {
  if (spawnSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() !== 'true') {
    t.skip('not a git checkout');
    return;
  }
  const sources: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|cc|h|cjs|mjs|js|json|gyp)$/.test(e.name)) sources.push(p);
    }
  };
  for (const d of ['src', 'native', 'test', 'scripts', 'bin']) if (fs.existsSync(path.join(ROOT, d))) walk(d);
  const r = spawnSync('git', ['check-ignore', '--no-index', '--stdin'], { cwd: ROOT, input: sources.join('\n'), encoding: 'utf8' });
  const ignored = r.stdout.split('\n').filter((l) => l !== '');
  assert.deepEqual(ignored, [], 'these would never be committed: anchor the .gitignore patterns (e.g. /build/)');
});

test('a CommonJS consumer gets a working serve()', () => {
  const r = runNode(['-e', `const { serve } = require('tsgi'); const KIND = 'cjs';\n${SERVE_AND_FETCH}`]);
  assert.equal(r.status, 0, `child failed:\n${r.stderr}`);
  assert.deepEqual(JSON.parse(r.stdout), { status: 200, kind: 'cjs', body: 'cjs GET /hello' });
});

test('an ESM consumer gets a working serve()', () => {
  const r = runNode(['--input-type=module', '-e', `import { serve } from 'tsgi'; const KIND = 'esm';\n${SERVE_AND_FETCH}`]);
  assert.equal(r.status, 0, `child failed:\n${r.stderr}`);
  assert.deepEqual(JSON.parse(r.stdout), { status: 200, kind: 'esm', body: 'esm GET /hello' });
});

test('ESM and CommonJS share one module instance (no dual-package hazard)', () => {
  const r = runNode(['--input-type=module', '-e', `
    import * as esm from 'tsgi';
    import def from 'tsgi';
    import { binding } from 'tsgi/native';
    import { createRequire } from 'node:module';
    const require = createRequire(process.cwd() + '/');
    const cjs = require('tsgi');
    console.log(JSON.stringify({
      serve: esm.serve === cjs.serve, def: def === cjs, error: esm.TsgiError === cjs.TsgiError,
      names: Object.keys(esm).filter((n) => n !== 'default').sort(),
      cjsNames: Object.keys(cjs).filter((n) => n !== '__esModule').sort(),
      binding: binding === require('tsgi/native').binding && typeof binding.Server === 'function',
    }));`]);
  assert.equal(r.status, 0, `child failed:\n${r.stderr}`);
  const got = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(got.serve, true);
  assert.equal(got.def, true);
  assert.equal(got.error, true);
  assert.equal(got.binding, true);
  assert.deepEqual(got.names, got.cjsNames, 'the ESM entry must re-export every CommonJS export');
});

test('TypeScript declarations exist for the ESM entry too', () => {
  const dmts = path.join(ROOT, 'dist', 'index.d.mts');
  assert.ok(fs.existsSync(dmts), 'dist/index.d.mts missing');
  assert.match(fs.readFileSync(path.join(ROOT, 'dist', 'index.d.ts'), 'utf8'), /\bserve\b/);
});
