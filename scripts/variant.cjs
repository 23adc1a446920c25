#!/usr/bin/env node
// Builds a variant of the addon that Linux CI can run although it stands for
// another platform, and optionally runs compiled tests against it:
//
//   kqueue    build-kqueue/: poller_kqueue.cc (the macOS/BSD backend) over
//             libkqueue, a user-space kqueue on epoll, built from source
//             (LIBKQUEUE_SRC, default ../shared/vendor/libkqueue beside the repo).
//   portable  build-portable/: TSGI_FORCE_PORTABLE, every Linux-only socket and
//             sendfile path replaced by the plain POSIX one a macOS build takes
//             (native/net/platform.h); the epoll poller stays.
//
//   node scripts/variant.cjs kqueue                          # build only
//   node scripts/variant.cjs portable 'build-test/http/*.test.js' build-test/uwsgi
//
// Tests are files, folders or globs (* and ** are expanded here: Node 20's
// --test takes no globs, later ones take no folders). They run through
// scripts/test.cjs with TSGI_ADDON naming the variant's tsgi.node (and
// TSGI_TESTING_ADDON its test hooks' addon, tsgi bench finding its
// tsgi_loadgen.node beside it); the run
// fails if any test fails or if none ran. Needs cmake, a C/C++ compiler, nm.
'use strict';
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { root, tools, capture, buildAddon, testingAddon, smokeScript } = require('./lib/cmake-build.cjs');
const { runTests } = require('./test.cjs');

const t = tools('variant');
const [variant, ...patterns] = process.argv.slice(2);

const variants = {
  kqueue: {
    defines() {
      const src = path.resolve(root, process.env.LIBKQUEUE_SRC || path.join('..', 'shared', 'vendor', 'libkqueue'));
      if (!fs.existsSync(path.join(src, 'CMakeLists.txt'))) {
        t.die(`no libkqueue source at ${src}: set LIBKQUEUE_SRC to a libkqueue checkout`);
      }
      return ['TSGI_POLLER=kqueue', `LIBKQUEUE_SRC=${src}`];
    },
    // The kqueue poller and libkqueue's kevent() must be inside the addon.
    check(symbols) {
      const defined = (name) => symbols.some((s) => s.name === name && s.type !== 'U');
      if (!defined('kevent') || !defined('tsgi_libkqueue_epoll_fd')) return 'kevent / the libkqueue hook are not in it';
      return undefined;
    },
    // What `tsgi doctor` reads from the addon must say so too.
    features: (f) => (f.poller === 'kqueue (libkqueue)' ? undefined : `doctor reports poller "${f.poller}"`),
  },
  portable: {
    defines: () => ['TSGI_FORCE_PORTABLE=ON'],
    // None of the Linux-only calls may be imported.
    check(symbols) {
      const linuxOnly = /^(accept4|sendfile|sendfile64|memfd_create)(@|$)/;
      const found = symbols.filter((s) => s.type === 'U' && linuxOnly.test(s.name)).map((s) => s.name);
      return found.length > 0 ? `it still imports ${found.join(', ')}` : undefined;
    },
    features: (f) => (f.portable && !f.msgMore && !f.deferAccept && f.sendfile === 'pread + write' && f.sealed === 'file' &&
      f.accept.startsWith('accept +')
      ? undefined : `doctor reports ${JSON.stringify(f)}`),
  },
};

const v = variants[variant];
if (!v) t.die(`usage: node scripts/variant.cjs <${Object.keys(variants).join('|')}> [test files, folders or globs...]`);
if (process.platform !== 'linux') t.die('these variants are for Linux CI (macOS builds the real ones)');

const seconds = (since) => ((Date.now() - since) / 1000).toFixed(1);

// -- build ----------------------------------------------------------------------

const built = Date.now();
const out = path.join(root, `build-${variant}`);
const addon = buildAddon(t, out, ['CMAKE_BUILD_TYPE=Release', ...v.defines()]);
const nm = capture('nm', [addon]);
if (nm === undefined) t.die('nm failed on the addon (binutils)');
const symbols = nm.split('\n').map((l) => l.trim().split(/\s+/)).map((f) => ({ type: f.length > 2 ? f[1] : f[0], name: f[f.length - 1] }));
const wrong = v.check(symbols);
if (wrong) t.die(`${path.relative(root, addon)} is not the ${variant} build: ${wrong}`);
process.stderr.write(`variant: built ${path.relative(root, addon)} in ${seconds(built)} s\n`);
if (patterns.length === 0) process.exit(0);

// -- tests ----------------------------------------------------------------------

/** A file, a folder (its *.test.js, recursively) or a glob with * and ** segments. */
function expand(pattern) {
  const abs = path.resolve(root, pattern);
  if (!/[*?]/.test(pattern)) {
    if (!fs.existsSync(abs)) t.die(`${pattern}: no such file or folder (run npm run pretest?)`);
    return [abs];  // a folder: scripts/test.cjs takes its *.test.js
  }
  const parts = abs.split(path.sep);
  const firstWild = parts.findIndex((p) => /[*?]/.test(p));
  const base = parts.slice(0, firstWild).join(path.sep) || path.sep;
  const segment = (s) => new RegExp('^' + s.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$');
  const rest = parts.slice(firstWild);
  const found = [];
  const walk = (dir, i) => {
    if (i === rest.length) return;
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = path.join(dir, e.name);
      if (rest[i] === '**') {
        if (e.isDirectory()) walk(p, i);  // ** takes this folder too
        continue;
      }
      if (!segment(rest[i]).test(e.name)) continue;
      if (i === rest.length - 1) {
        if (e.isFile()) found.push(p);
      } else if (e.isDirectory()) {
        walk(p, i + 1);
      }
    }
    if (rest[i] === '**') walk(dir, i + 1);  // ** matching no folder
  };
  walk(base, 0);
  if (found.length === 0) t.die(`${pattern}: matches no file (run npm run pretest?)`);
  return found;
}

t.must(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'pretest']);
const files = [...new Set(patterns.flatMap(expand))];
const env = { ...process.env, TSGI_ADDON: addon, TSGI_TESTING_ADDON: testingAddon(out) };

// First prove that this addon is the one loaded, and that it serves.
const smoke = smokeScript(addon, variant);
// `tsgi doctor` names this file and this variant's platform paths.
const doctor = spawnSync(process.execPath, [path.join(root, 'bin', 'tsgi'), 'doctor', '--json'], { env, encoding: 'utf8' });
if (doctor.status !== 0) t.die(`tsgi doctor failed on ${path.relative(root, addon)}: ${doctor.stdout}${doctor.stderr}`);
const report = JSON.parse(doctor.stdout);
if (report.addon.path !== addon || report.addon.source !== 'env') t.die(`tsgi doctor names ${JSON.stringify(report.addon)}`);
const badFeatures = v.features(report.features);
if (badFeatures) t.die(`${path.relative(root, addon)} is not the ${variant} build: ${badFeatures}`);
const smokeCode = t.run(process.execPath, ['-e', smoke], { env, timeout: 60_000 }, `smoke test: serve() on ${path.relative(root, addon)}`);
if (smokeCode !== 0) t.die(`the smoke test failed (exit ${smokeCode})`);

const ran = Date.now();
process.stderr.write(`variant: ${files.length} test files with TSGI_ADDON=${path.relative(root, addon)}\n`);
runTests(files, { env }).then(({ code, tests }) => {
  const summary = `${tests} tests in ${seconds(ran)} s against build-${variant}`;
  if (code !== 0) t.die(`the tests failed (exit ${code}): ${summary}`);
  process.stderr.write(`variant: ${summary}, all passed\n`);
});
