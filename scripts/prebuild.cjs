#!/usr/bin/env node
// `npm run prebuild`: the binaries the npm tarball carries, so that users on
// these platforms install with no compiler:
//
//   prebuilds/linux-x64/tsgi.glibc.node     (g++)
//   prebuilds/linux-arm64/tsgi.glibc.node   (cross: g++-aarch64-linux-gnu)
//
// and beside each, with the same tags, tsgi_loadgen.glibc.node: `tsgi bench`'s
// engine, which the loader takes from the main addon's folder by name
// (src/native/load.ts). prebuildify keeps one binary per build, the first
// .node in build/Release by name (tsgi.node); the loadgen is stripped and
// copied here. The test hooks' addon (tsgi_testing) is not even built: the
// copy of the sources has no test/ (binding.gyp).
//
//   npm run prebuild                  # every architecture above
//   npm run prebuild -- --arch arm64  # only these (repeat --arch)
//   npm run prebuild -- --out DIR     # into DIR/prebuilds/ instead
//
// prebuildify builds with node-gyp from binding.gyp (N-API, so one binary
// serves every Node version), strips it and names it with the libc tag, so
// node-gyp-build never picks a glibc binary on musl (Alpine compiles from
// source). It runs `node-gyp rebuild`, which would delete build/ (the
// development addon and the compiled tests), so it builds in a copy of the
// sources and writes only prebuilds/. Each binary is then checked to need
// nothing newer than glibc 2.28 and no shared libstdc++ (scripts/lib/
// elf-versions.cjs); one that does is deleted and the run fails, as does a
// main addon with a test hook or the load generator in it.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { tooNew, newest } = require('./lib/elf-versions.cjs');

const root = path.join(__dirname, '..');

/** How each architecture is built on a Linux x64 or arm64 machine. */
const TOOLCHAINS = {
  x64: { triple: 'x86_64-linux-gnu', apt: 'g++-x86-64-linux-gnu' },
  arm64: { triple: 'aarch64-linux-gnu', apt: 'g++-aarch64-linux-gnu' },
};

function die(msg) {
  process.stderr.write(`prebuild: ${msg}\n`);
  process.exit(1);
}

function have(program) {
  return spawnSync('sh', ['-c', `command -v "${program}"`], { stdio: 'ignore' }).status === 0;
}

function parseArgs(argv) {
  const arches = [];
  let out = root;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--arch' && argv[i + 1]) arches.push(argv[++i]);
    else if (a.startsWith('--arch=')) arches.push(a.slice('--arch='.length));
    else if (a === '--out' && argv[i + 1]) out = path.resolve(argv[++i]);
    else if (a.startsWith('--out=')) out = path.resolve(a.slice('--out='.length));
    else die(`unknown argument ${a}; usage: npm run prebuild [-- --arch x64|arm64 ...] [--out DIR]`);
  }
  for (const a of arches) if (!(a in TOOLCHAINS)) die(`no toolchain known for --arch ${a} (${Object.keys(TOOLCHAINS).join(', ')})`);
  return { arches: arches.length > 0 ? [...new Set(arches)] : Object.keys(TOOLCHAINS), out };
}

/** Compiler, linker and strip for arch: the native ones, or the cross ones by triple. */
function toolsFor(arch) {
  if (arch === process.arch) return { env: {}, strip: 'strip' };
  const { triple, apt } = TOOLCHAINS[arch];
  for (const tool of ['gcc', 'g++', 'strip']) {
    if (!have(`${triple}-${tool}`)) die(`${triple}-${tool} not found: apt-get install ${apt}`);
  }
  // gyp's make generator compiles with CC/CXX and links with CXX.
  return { env: { CC: `${triple}-gcc`, CXX: `${triple}-g++` }, strip: `${triple}-strip` };
}

/**
 * node-gyp as npm runs it (npm puts its own on PATH for scripts; run
 * directly, this finds the same one), and the headers of the Node running
 * this script when it ships them (include/node: official tarballs and
 * distribution packages do), so no download is needed.
 */
function nodeGypSetup() {
  const env = {};
  if (!process.env.npm_config_nodedir) {
    const prefix = path.resolve(path.dirname(process.execPath), '..');
    if (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) env.npm_config_nodedir = prefix;
  }
  let nodeGyp = process.env.npm_config_node_gyp;
  if (!nodeGyp) {
    const npm = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim();
    const bundled = npm && path.join(path.dirname(fs.realpathSync(npm)), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (!bundled || !fs.existsSync(bundled)) die('node-gyp not found (it comes with npm)');
    nodeGyp = bundled;
  }
  return { env, nodeGyp };
}

/** The exports each prebuilt binary must name, and names it must not (found in its bytes: it may be another arch). */
const EXPORTS = {
  tsgi: { has: ['listeningSocket', 'sdNotify'], not: ['benchStart', 'parseHead', 'parseUwsgi', 'fcgiDecode'] },
  tsgi_loadgen: { has: ['benchStart'], not: ['listeningSocket', 'parseHead'] },
};

/** Deletes the binary and fails unless it is the addon `name` and loads on glibc 2.28. */
function check(file, name, label) {
  const bytes = fs.readFileSync(file);
  const wrong = [...EXPORTS[name].has.filter((x) => !bytes.includes(x)).map((x) => `no ${x}`),
    ...EXPORTS[name].not.filter((x) => bytes.includes(x)).map((x) => `has ${x}`)];
  if (wrong.length > 0) {
    fs.rmSync(file);
    die(`${label} is not the ${name} addon (deleted): ${wrong.join(', ')}`);
  }
  const bad = tooNew(file);
  if (bad.length > 0) {
    fs.rmSync(file);
    die(`${label} needs symbols newer than glibc 2.28 or a shared libstdc++ ` +
      `(deleted):\n  ${bad.join('\n  ')}`);
  }
  const versions = Object.entries(newest(file)).map(([lib, v]) => `${lib}_${v}`).join(', ');
  process.stderr.write(`prebuild: ${label}: ${fs.statSync(file).size} bytes, newest versions ${versions}\n`);
}

/** prebuildify in a copy of the sources; returns the binaries it wrote under out/prebuilds. */
function build(arch, out) {
  if (process.platform !== 'linux') die(`prebuilds are made on Linux; this is ${process.platform}`);
  const { env, strip } = toolsFor(arch);
  const gyp = nodeGypSetup();
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), `tsgi-prebuild-${arch}-`));
  try {
    for (const f of ['package.json', 'binding.gyp', 'native']) {
      fs.cpSync(path.join(root, f), path.join(stage, f), { recursive: true });
    }
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
    const dest = path.join(out, 'prebuilds', `linux-${arch}`);
    fs.rmSync(dest, { recursive: true, force: true });
    // --target: the running Node's headers (N-API: the binary serves every Node version).
    const args = [require.resolve('prebuildify/bin.js'), '--napi', '--strip', '--tag-libc',
      '--target', `node@${process.versions.node}`, '--arch', arch, '--strip-bin', strip,
      '--node-gyp', gyp.nodeGyp, '--out', out];
    const started = Date.now();
    const r = spawnSync(process.execPath, args, {
      cwd: stage, stdio: 'inherit', env: { ...process.env, ...gyp.env, ...env, JOBS: process.env.JOBS ?? 'max' },
    });
    if (r.error) die(`prebuildify: ${r.error.message}`);
    if (r.status !== 0) die(`prebuildify --arch ${arch} exited ${r.status ?? r.signal}`);
    const file = path.join(dest, 'tsgi.glibc.node');
    const label = (f) => (out === root ? path.relative(root, f) : f);
    if (!fs.existsSync(file)) die(`prebuildify made no ${label(file)}`);
    // The load generator, built beside tsgi.node: stripped as prebuildify strips, named with the same tags.
    const loadgen = path.join(dest, 'tsgi_loadgen.glibc.node');
    const built = path.join(stage, 'build', 'Release', 'tsgi_loadgen.node');
    if (!fs.existsSync(built)) die(`node-gyp made no ${path.relative(stage, built)}`);
    const stripped = spawnSync(strip, ['--strip-all', '-o', loadgen, built], { stdio: 'inherit' });
    if (stripped.error || stripped.status !== 0) die(`${strip} ${built}: ${stripped.error?.message ?? `exit ${stripped.status}`}`);
    check(file, 'tsgi', label(file));
    check(loadgen, 'tsgi_loadgen', label(loadgen));
    process.stderr.write(`prebuild: linux-${arch} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return [file, loadgen];
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

const { arches, out } = parseArgs(process.argv.slice(2));
for (const arch of arches) build(arch, out);
