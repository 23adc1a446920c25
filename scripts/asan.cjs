#!/usr/bin/env node
// `npm run test:asan`: builds the addon with AddressSanitizer + UBSan into
// build-asan/ (never build/Release, which would shadow the normal build and
// the prebuilds), then runs the HTTP tests against it. Fails if any test fails
// or any sanitizer report appears, from any process the tests start.
//
//   npm run test:asan                       # build-test/http/
//   npm run test:asan -- build-test/proto/  # other compiled tests
//
// Needs cmake, clang++ and its ASan runtime (Debian: clang libclang-rt-14-dev).
// Plain cmake, not cmake-js: cmake-js would download node headers; the local
// ones (beside the node binary, or npm's nodedir) are enough.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { root, tools, capture, buildAddon, testingAddon, smokeScript } = require('./lib/cmake-build.cjs');

const out = path.join(root, 'build-asan');
const reports = path.join(out, 'reports');
const cxx = process.env.TSGI_ASAN_CXX || 'clang++';

const t = tools('asan');
const { die, run, must } = t;

// -- tools and headers --------------------------------------------------------

if (process.platform !== 'linux') die('only Linux is supported (LD_PRELOAD of the ASan runtime)');
if (capture(cxx, ['--version']) === undefined) die(`${cxx} not found: apt-get install clang libclang-rt-14-dev`);

const rtArch = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i386' }[process.arch] || process.arch;
const runtime = capture(cxx, [`-print-file-name=libclang_rt.asan-${rtArch}.so`]);
if (!runtime || !path.isAbsolute(runtime) || !fs.existsSync(runtime)) {
  die(`the ASan runtime libclang_rt.asan-${rtArch}.so was not found by ${cxx}: apt-get install libclang-rt-14-dev`);
}

// -- build ----------------------------------------------------------------------

const addon = buildAddon(t, out, ['TSGI_SANITIZE=ON', `CMAKE_CXX_COMPILER=${cxx}`]);
for (const file of [addon, testingAddon(out), path.join(out, 'tsgi_loadgen.node')]) {
  if (!fs.readFileSync(file).includes('__asan_report_')) die(`${path.relative(root, file)} is not instrumented`);
}

// -- run ------------------------------------------------------------------------

must(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'pretest']);

// Programs that deadlock with the ASan runtime preloaded (glibc 2.36 +
// compiler-rt 14: setlocale at start-up) run through shims that drop it; the
// tests' other peers and every node process keep it.
const shims = path.join(out, 'shims');
fs.mkdirSync(shims, { recursive: true });
for (const prog of ['curl', 'wget']) {
  const real = capture('sh', ['-c', `command -v ${prog}`]);
  const shim = path.join(shims, prog);
  if (!real) {
    fs.rmSync(shim, { force: true });
    continue;
  }
  fs.writeFileSync(shim, `#!/bin/sh\nunset LD_PRELOAD\nexec ${real} "$@"\n`, { mode: 0o755 });
}

fs.rmSync(reports, { recursive: true, force: true });
fs.mkdirSync(reports, { recursive: true });
const env = {
  ...process.env,
  TSGI_ADDON: addon,
  // The framer tests (build-test/proto) run the instrumented hooks too.
  TSGI_TESTING_ADDON: testingAddon(out),
  // For tests whose measure ASan distorts: it replaces malloc process-wide and
  // keeps freed memory in quarantine, so RSS bounds do not hold under it.
  TSGI_ASAN: '1',
  LD_PRELOAD: [runtime, process.env.LD_PRELOAD].filter(Boolean).join(':'),
  // Node itself leaks at exit by design; reports go to files so that those of
  // servers started by the tests, whose stderr nobody reads, are seen too.
  ASAN_OPTIONS: `detect_leaks=0:abort_on_error=1:log_path=${path.join(reports, 'report')}`,
  UBSAN_OPTIONS: `print_stacktrace=1:halt_on_error=1:log_path=${path.join(reports, 'report')}`,
  PATH: `${shims}${path.delimiter}${process.env.PATH}`,
};

// First prove the instrumented addon loads and serves at all.
const smoke = smokeScript(addon, 'ASan');
const smokeCode = run(process.execPath, ['-e', smoke], { env, timeout: 60_000 }, 'smoke test: serve() on the instrumented addon');

// Folders or test files; scripts/test.cjs expands folders (Node 22 and 24
// run none given to `node --test`) and fails a run in which no test ran.
const targets = process.argv.slice(2);
if (targets.length === 0) targets.push(path.join('build-test', 'http'));
const testCode = smokeCode === 0
  ? run(process.execPath, [path.join(__dirname, 'test.cjs'), ...targets], { env, timeout: 30 * 60_000 },
    `node scripts/test.cjs ${targets.join(' ')}`)
  : smokeCode;

const found = fs.readdirSync(reports);
for (const f of found) {
  process.stderr.write(`\nasan: ---- ${path.join(path.relative(root, reports), f)} ----\n`);
  process.stderr.write(fs.readFileSync(path.join(reports, f), 'utf8'));
}
if (found.length > 0) die(`${found.length} sanitizer report(s) above`);
if (testCode !== 0) die(`the tests failed (exit ${testCode}) under ASan + UBSan`);
process.stderr.write('asan: no sanitizer reports; all tests passed\n');
