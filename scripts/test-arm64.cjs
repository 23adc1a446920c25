#!/usr/bin/env node
// `npm run test:arm64`: the protocol suites (http, uwsgi, scgi, fastcgi) run
// by the official arm64 Node under qemu-user against the arm64 prebuild, so
// the binary the npm tarball ships for linux-arm64 is tested, not only built.
//
//   npm run test:arm64                   # Node 24, the four suites
//   npm run test:arm64 -- --node 22      # another arm64 Node (22.8 or later)
//   npm run test:arm64 -- build-test/scgi
//
// Needs qemu-user (qemu-aarch64) and the arm64 sysroot that
// g++-aarch64-linux-gnu brings (/usr/aarch64-linux-gnu, handed to qemu as
// QEMU_LD_PREFIX). prebuilds/linux-arm64/tsgi.glibc.node is made first when
// missing or older than the sources (scripts/prebuild.cjs), the tests are
// compiled (npm run pretest), and the arm64 Node comes from the npm registry
// into .cache/node/ (scripts/lib/fetch-node.cjs).
//
// The files run in one process (--test-isolation=none): every emulated Node
// start costs seconds. Tests that start Node as a child (process.execPath,
// an arm64 binary) need the kernel to hand arm64 programs to qemu (binfmt_misc,
// as qemu-user-binfmt registers it); without that registration those files
// (NEED_BINFMT below) are left out and the run says so. A run in which no
// test ran fails (scripts/test.cjs).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { runTests, testFiles } = require('./test.cjs');
const { nodeBinary } = require('./lib/fetch-node.cjs');

const root = path.join(__dirname, '..');
const SYSROOT = '/usr/aarch64-linux-gnu';
const ADDON = path.join(root, 'prebuilds', 'linux-arm64', 'tsgi.glibc.node');
const SUITES = ['http', 'uwsgi', 'scgi', 'fastcgi'].map((d) => path.join('build-test', d));
// Files whose tests run `process.execPath` as a child: arm64 programs need binfmt_misc.
const NEED_BINFMT = ['uwsgi/cli.test.js', 'http/node-server-register.test.js', 'http/node-server-ref.test.js']
  .map((f) => path.join('build-test', f));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
// Tests that measure timing, not the binary: under emulation a 1 ms pause
// between two writes does not reliably reach the server as two reads, which
// this test asserts for 90% of its splits (its requests all pass).
const SKIP_UNDER_EMULATION = ['split in two at every byte boundary'];

function die(msg) {
  process.stderr.write(`test:arm64: ${msg}\n`);
  process.exit(1);
}

function say(msg) {
  process.stderr.write(`test:arm64: ${msg}\n`);
}

function have(program) {
  return spawnSync('sh', ['-c', `command -v "${program}"`], { stdio: 'ignore' }).status === 0;
}

function parseArgs(argv) {
  let node = '24';
  const targets = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--node' && argv[i + 1]) node = argv[++i];
    else if (a.startsWith('--node=')) node = a.slice('--node='.length);
    else if (a === '--') continue;
    else if (a.startsWith('-')) die(`unknown option ${a}`);
    else targets.push(a);
  }
  return { node, targets: targets.length > 0 ? targets : SUITES };
}

/** Whether the kernel runs arm64 ELF files through qemu (binfmt_misc). */
function binfmtRegistered() {
  try {
    return fs.readFileSync('/proc/sys/fs/binfmt_misc/qemu-aarch64', 'utf8').startsWith('enabled');
  } catch {
    return false;
  }
}

/** The newest mtime under native/ and of binding.gyp. */
function sourcesMtime() {
  let newest = fs.statSync(path.join(root, 'binding.gyp')).mtimeMs;
  for (const f of fs.readdirSync(path.join(root, 'native'), { recursive: true, encoding: 'utf8' })) {
    newest = Math.max(newest, fs.statSync(path.join(root, 'native', f)).mtimeMs);
  }
  return newest;
}

function ensureAddon() {
  if (fs.existsSync(ADDON) && fs.statSync(ADDON).mtimeMs >= sourcesMtime()) return;
  say(`${path.relative(root, ADDON)} is ${fs.existsSync(ADDON) ? 'older than the sources' : 'missing'}: building it`);
  const r = spawnSync(process.execPath, [path.join(__dirname, 'prebuild.cjs'), '--arch', 'arm64'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) die(`scripts/prebuild.cjs --arch arm64 exited ${r.status ?? r.signal}`);
}

async function main() {
  if (process.platform !== 'linux') die('needs Linux (qemu-user)');
  const { node: spec, targets } = parseArgs(process.argv.slice(2));
  if (process.arch !== 'arm64') {
    if (!have('qemu-aarch64')) die('qemu-aarch64 not found: apt-get install qemu-user');
    if (!fs.existsSync(path.join(SYSROOT, 'lib', 'ld-linux-aarch64.so.1'))) {
      die(`no arm64 sysroot at ${SYSROOT}: apt-get install g++-aarch64-linux-gnu`);
    }
  }
  ensureAddon();
  const built = spawnSync(NPM, ['run', 'pretest'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) die(`npm run pretest exited ${built.status ?? built.signal}`);

  const node = nodeBinary(spec, { platform: 'linux', arch: 'arm64', log: say });
  const binfmt = process.arch === 'arm64' || binfmtRegistered();
  const all = testFiles(targets.map((t) => path.resolve(root, t)));
  const left = binfmt ? [] : all.map((f) => path.relative(root, f)).filter((f) => NEED_BINFMT.includes(f));
  const files = all.filter((f) => !left.includes(path.relative(root, f)));
  if (left.length > 0) say(`binfmt_misc has no qemu-aarch64 entry: left out ${left.join(', ')} (they run Node as a child)`);

  // runTests starts "node --test <files>": here a script that starts the arm64
  // Node under qemu with the files in one process.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsgi-arm64-'));
  try {
    const wrapper = path.join(tmp, 'node-arm64');
    const emulated = process.arch !== 'arm64';
    const skips = emulated ? SKIP_UNDER_EMULATION.map((name) => ` --test-skip-pattern='^${name}$'`).join('') : '';
    // Node 22 (22.8+) names the option experimental; 24 has it plain.
    const major = Number(/(\d+)\.\d+\.\d+/.exec(path.basename(path.dirname(path.dirname(node))))?.[1] ?? 24);
    const isolation = major >= 24 ? '--test-isolation=none' : '--experimental-test-isolation=none';
    fs.writeFileSync(wrapper, `#!/bin/sh\nexec ${emulated ? 'qemu-aarch64 ' : ''}"${node}" ${isolation}${skips} "$@"\n`,
      { mode: 0o755 });
    if (skips) say(`skipped under emulation (timing): ${SKIP_UNDER_EMULATION.join('; ')}`);
    const env = { ...process.env, TSGI_ADDON: ADDON, QEMU_LD_PREFIX: SYSROOT };
    const version = spawnSync(wrapper, ['-p', 'process.version + " " + process.arch'], { env, encoding: 'utf8' });
    if (version.status !== 0) die(`${node} does not start under qemu: ${version.stderr}`);
    say(`${version.stdout.trim()} (${path.relative(root, node)}), TSGI_ADDON=${path.relative(root, ADDON)}, ${files.length} files`);
    const start = Date.now();
    const r = await runTests(files, { node: wrapper, env });
    say(`${r.tests} tests, ${r.code === 0 ? 'passed' : `FAILED (exit ${r.code})`}, ${Math.round((Date.now() - start) / 1000)} s`);
    process.exitCode = r.code;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main();
