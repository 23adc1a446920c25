#!/usr/bin/env node
// npm's install hook. When a prebuilt binary fits this machine and loads,
// there is nothing to do and nothing is printed. Otherwise it says so in one
// line, naming the platform, and hands over to node-gyp-build, which
// compiles from source with node-gyp (python3, make and a C++ compiler):
// without that line, a missing toolchain shows up as "gyp ERR! find Python"
// with no word that a prebuilt binary was looked for first.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

/** The name node-gyp-build's prebuilds/ folders and tags use, e.g. linux-x64-glibc. */
function platformName() {
  const name = `${process.platform}-${process.arch}`;
  if (process.platform !== 'linux') return name;
  // node-gyp-build's own test (LIBC, else /etc/alpine-release).
  return `${name}-${process.env.LIBC || (fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc')}`;
}

/** The most recently modified of these files and the files under these folders. */
function newestSource(...entries) {
  let newest;
  const visit = (p) => {
    let st;
    try {
      st = fs.statSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) visit(path.join(p, e));
    else if (newest === undefined || st.mtimeMs > newest.mtime) newest = { file: p, mtime: st.mtimeMs };
  };
  entries.forEach(visit);
  return newest;
}

/** Why no prebuild (or earlier build) will do, or undefined when one loads. */
function whyCompile() {
  let file;
  try {
    file = require('node-gyp-build').resolve(root);
  } catch {
    return `no prebuilt binary for ${platformName()}`;
  }
  // A checkout's own build, after a pull changed the sources: rebuild it, or
  // the new JavaScript would meet an addon older than itself.
  if (!file.split(path.sep).includes('prebuilds')) {
    const built = fs.statSync(file).mtimeMs;
    const stale = newestSource(path.join(root, 'native'), path.join(root, 'binding.gyp'));
    if (stale !== undefined && stale.mtime > built) {
      return `${path.relative(root, file)} is older than ${path.relative(root, stale.file)}`;
    }
  }
  const r = spawnSync(process.execPath, ['-e', 'require(process.argv[1])', file],
    { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
  if (r.status === 0) return undefined;
  const reason = (r.stderr.split('\n').find((l) => /Error/.test(l)) ?? `exit ${r.status ?? r.signal}`).trim();
  return `the binary for ${platformName()} does not load (${path.relative(root, file)}: ${reason})`;
}

// `npm install --build-from-source` asks for a compile: no check, no line.
if (process.env.npm_config_build_from_source !== 'true') {
  const why = whyCompile();
  if (why === undefined) process.exit(0);
  process.stderr.write(`tsgi: ${why} (node ${process.version}); compiling from source with node-gyp\n`);
}
const r = spawnSync(process.execPath, [require.resolve('node-gyp-build/bin.js')], {
  cwd: root, stdio: 'inherit', env: { ...process.env, npm_config_build_from_source: 'true' },
});
process.exit(r.status ?? 1);
