// The addon users install exports the server's interface and nothing else:
// the framers' test hooks are in tsgi_testing.node, which only tests load,
// and `tsgi bench`'s engine is in tsgi_loadgen.node, which only a bench loads,
// from the main addon's folder. The public list is the one docs/design.md
// ("Packaging") gives; node-gyp-build must find the main addon, never one of
// the others, in build/Release and in a prebuilds folder alike.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { addonOrigin, binding, companionPath, loadgenBinding } from 'tsgi/native';
import { ROOT, tempDir } from '../helpers/index.js';
import { TESTING_ADDON, hooks } from '../helpers/testing-addon.js';

const HOOKS = ['parseHead', 'decodeChunked', 'parseUwsgi', 'parseScgi', 'fcgiDecode', 'fcgiEncodeStdout',
  'fcgiEndRequest', 'fcgiUnknownType', 'fcgiGetValuesResult', 'wsDecode', 'wsHeader', 'wsFrame', 'wsClose',
  'wsUtf8Prefix', 'wsErrors', 'wsSha1', 'wsAccept', 'wsKeyValid', 'wsVersionValid', 'wsNegotiate', 'wsInflate',
  'wsInflateSplits', 'wsDeflate', 'wsDeflateResults', 'wsDeflateBounds',
  'staticCleanPath', 'staticRange', 'staticPreconditions', 'staticIfRange', 'staticCoding', 'staticParseDate',
  'staticFormatDate', 'staticEtag'];
const LOADGEN = ['benchStart'];

const work = tempDir('tsgi-exports-');
after(() => fs.rmSync(work, { recursive: true, force: true }));

/** The names docs/design.md gives: "`tsgi.node` exports `a`, `b` ... and `z`, nothing else". */
function documentedExports(): string[] {
  const text = fs.readFileSync(path.join(ROOT, 'docs', 'design.md'), 'utf8').replace(/\s+/g, ' ');
  const m = /`tsgi\.node` exports (.*?), nothing else/.exec(text);
  assert.ok(m, 'docs/design.md does not list what tsgi.node exports ("`tsgi.node` exports ..., nothing else")');
  return [...m[1]!.matchAll(/`(\w+)`/g)].map((x) => x[1]!).sort();
}

test('the loaded tsgi.node exports the documented names and nothing else', () => {
  const names = Object.keys(binding).sort();
  const file = path.relative(ROOT, addonOrigin().path);
  assert.deepEqual(names.filter((n) => HOOKS.includes(n) || LOADGEN.includes(n)), [], `${file} carries test hooks or the load generator`);
  assert.deepEqual(names, documentedExports(), `${file} exports other names than docs/design.md lists`);
});

test('tsgi_testing.node has every hook, and none of the public exports', () => {
  const names = Object.keys(hooks).sort();
  assert.deepEqual(names, [...HOOKS].sort(), TESTING_ADDON);
  for (const n of HOOKS) assert.equal(typeof (hooks as unknown as Record<string, unknown>)[n], 'function', n);
});

test('tsgi_loadgen.node, from the main addon\'s folder, exports the bench engine only', () => {
  const main = addonOrigin().path;
  const file = companionPath(main, 'tsgi_loadgen');
  assert.equal(path.dirname(file), path.dirname(main));
  assert.ok(fs.existsSync(file), `${file} missing beside ${main}`);
  const loadgen = loadgenBinding();
  assert.deepEqual(Object.keys(loadgen).sort(), LOADGEN);
  assert.equal(typeof loadgen.benchStart, 'function');
  assert.ok(Object.keys(require.cache).includes(file), `${file} is not the file loaded`);
});

test('the companion of tsgi.<tags>.node has the same folder and tags', () => {
  assert.equal(companionPath('/p/build/Release/tsgi.node', 'tsgi_loadgen'), '/p/build/Release/tsgi_loadgen.node');
  assert.equal(companionPath('/p/prebuilds/linux-x64/tsgi.glibc.node', 'tsgi_loadgen'),
    '/p/prebuilds/linux-x64/tsgi_loadgen.glibc.node');
  assert.equal(companionPath('/p/prebuilds/linux-arm64/tsgi.armv8.glibc.node', 'tsgi_loadgen'),
    '/p/prebuilds/linux-arm64/tsgi_loadgen.armv8.glibc.node');
  // TSGI_ADDON may name any file: the companion is then the plain name beside it.
  assert.equal(companionPath('/tmp/my-build.node', 'tsgi_loadgen'), '/tmp/tsgi_loadgen.node');
});

test('a server process loads tsgi.node only: no test hooks, no load generator', () => {
  const r = spawnSync(process.execPath, ['-e', `
    const { serve } = require('tsgi');
    const s = serve(() => ({ body: 'ok' }), { listen: '127.0.0.1:0', log: () => {} });
    s.close().then(() => console.log(JSON.stringify(Object.keys(require.cache).filter((k) => k.endsWith('.node')))));`],
  { cwd: ROOT, encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [addonOrigin().path]);
});

test('node-gyp-build finds the main addon among the others, in build/Release and in prebuilds/', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const gypBuild = require(require.resolve('node-gyp-build', { paths: [ROOT] })) as { resolve(dir: string): string };
  const pkg = (dir: string) => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"tsgi-exports-probe"}\n');
  };
  // Created in an order other than the names', so neither the directory's
  // order nor creation order could pass for the rule.
  const release = path.join(work, 'release');
  pkg(release);
  fs.mkdirSync(path.join(release, 'build', 'Release'), { recursive: true });
  for (const f of ['tsgi_testing.node', 'tsgi_loadgen.node', 'tsgi.node']) fs.writeFileSync(path.join(release, 'build', 'Release', f), '');
  assert.equal(gypBuild.resolve(release), path.join(release, 'build', 'Release', 'tsgi.node'));

  const prebuilt = path.join(work, 'prebuilt');
  pkg(prebuilt);
  const folder = path.join(prebuilt, 'prebuilds', `${process.platform}-${process.arch}`);
  fs.mkdirSync(folder, { recursive: true });
  // The napi tag fits every runtime and libc; the shipped files carry the libc tag, which ranks the same for both.
  for (const f of ['tsgi_loadgen.napi.node', 'tsgi.napi.node']) fs.writeFileSync(path.join(folder, f), '');
  assert.equal(gypBuild.resolve(prebuilt), path.join(folder, 'tsgi.napi.node'));
});
