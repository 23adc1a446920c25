#!/usr/bin/env node
// `npm run prebuild`: the binaries the npm tarball carries, so that users on
// these platforms install with no compiler:
//
//   prebuilds/linux-x64/tsgi.glibc.node     (g++)
//   prebuilds/linux-arm64/tsgi.glibc.node   (cross: g++-aarch64-linux-gnu)
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
// elf-versions.cjs); one that does is deleted and the run fails.
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

/** prebuildify in a copy of the sources; returns the binary it wrote under out/prebuilds. */
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
    const name = out === root ? path.relative(root, file) : file;
    if (!fs.existsSync(file)) die(`prebuildify made no ${name}`);
    const bad = tooNew(file);
    if (bad.length > 0) {
      fs.rmSync(file);
      die(`${name} needs symbols newer than glibc 2.28 or a shared libstdc++ ` +
        `(deleted):\n  ${bad.join('\n  ')}`);
    }
    const versions = Object.entries(newest(file)).map(([lib, v]) => `${lib}_${v}`).join(', ');
    process.stderr.write(`prebuild: ${name}: ${fs.statSync(file).size} bytes, ` +
      `newest versions ${versions}, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return file;
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

const { arches, out } = parseArgs(process.argv.slice(2));
for (const arch of arches) build(arch, out);
