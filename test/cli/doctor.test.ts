// `tsgi doctor` and `tsgi --version --verbose`: which addon file was loaded
// and how it was found, what it was built with, the platform features the
// core uses; a report (exit 1) also when the addon cannot be loaded.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT, tempDir } from '../helpers/index.js';

const BIN = path.join(ROOT, 'bin', 'tsgi');
const dir = tempDir('tsgi-doctor-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Report {
  tsgi: string;
  node: string;
  platform: string;
  libc: string;
  addon?: { path: string; source: 'env' | 'prebuilt' | 'compiled' };
  error?: string;
  features?: {
    poller: string; accept: string; noSigpipe: string; msgMore: boolean; deferAccept: boolean;
    exclusiveAccept: string; sendfile: string; sealed: string; compiler: string; napiVersion: number; libc: string | null;
    glibcFloor: string | null;
    portable: boolean; sanitizers: boolean;
  };
}

function tsgi(args: string[], env: NodeJS.ProcessEnv = process.env): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function doctor(env: NodeJS.ProcessEnv = process.env): { code: number | null; report: Report } {
  const r = tsgi(['doctor', '--json'], env);
  assert.equal(r.stderr, '');
  return { code: r.code, report: JSON.parse(r.stdout) as Report };
}

/** "2.28" -> 2028, for comparing glibc versions. */
function glibcNumber(text: string): number {
  const m = /glibc (\d+)\.(\d+)/.exec(text);
  assert.ok(m, `no glibc version in "${text}"`);
  return Number(m[1]) * 1000 + Number(m[2]);
}

test('doctor names the loaded addon file and how it was found', () => {
  const { code, report } = doctor();
  assert.equal(code, 0);
  assert.equal(report.error, undefined);
  assert.ok(report.addon, 'no addon in the report');
  assert.ok(path.isAbsolute(report.addon.path) && fs.existsSync(report.addon.path), report.addon.path);
  if (process.env.TSGI_ADDON) {
    assert.equal(report.addon.source, 'env');
    assert.equal(report.addon.path, path.resolve(process.env.TSGI_ADDON));
  } else {
    // In a checkout: node-gyp built build/Release at install; prebuilds/ only if made.
    const expected = report.addon.path.split(path.sep).includes('prebuilds') ? 'prebuilt' : 'compiled';
    assert.equal(report.addon.source, expected);
  }
  assert.equal(report.platform, `${process.platform}-${process.arch}`);
  assert.equal(report.node, process.version);
});

test('doctor reports the platform features this build uses', () => {
  const { report } = doctor();
  const f = report.features;
  assert.ok(f, 'no features in the report');
  assert.equal(typeof f.napiVersion, 'number');
  assert.ok(f.napiVersion >= 8, `N-API ${f.napiVersion}`);
  assert.ok(f.compiler.length > 0);
  if (process.platform === 'linux' && !process.env.TSGI_ADDON) {
    // The default Linux build: every Linux-only path on.
    assert.equal(f.poller, 'epoll');
    assert.match(f.accept, /^accept4/);
    assert.equal(f.noSigpipe, 'MSG_NOSIGNAL');
    assert.equal(f.msgMore, true);
    assert.equal(f.deferAccept, true);
    assert.match(f.sendfile, /^sendfile\(2\)/);
    assert.equal(f.sealed, 'memfd');
    assert.equal(f.portable, false);
    assert.match(f.exclusiveAccept, /^(yes|no)/);
  }
  if (process.platform === 'linux' && report.libc.startsWith('glibc')) {
    // It loaded, so this glibc is at least the build's floor: the pinned one
    // (2.28) for the node-gyp builds, else the headers' own version.
    assert.ok(f.libc, 'a Linux glibc build names its glibc');
    assert.match(f.libc, /^glibc \d+\.\d+$/);
    const floor = f.glibcFloor === null ? f.libc : `glibc ${f.glibcFloor}`;
    assert.ok(glibcNumber(floor) <= glibcNumber(report.libc), `loads on ${floor} and newer, ${report.libc} at run time`);
    if (!process.env.TSGI_ADDON) assert.equal(f.glibcFloor, '2.28', 'the node-gyp build pins its glibc symbols');
  }
});

test('--version --verbose prints the report; --version alone one line', () => {
  const verbose = tsgi(['--version', '--verbose']);
  assert.equal(verbose.code, 0);
  assert.equal(verbose.stderr, '');
  const { report } = doctor();
  const lines = verbose.stdout.split('\n');
  assert.ok(lines.some((l) => /^addon\s/.test(l) && l.includes(report.addon!.path)), verbose.stdout);
  assert.ok(lines.some((l) => /^poller\s/.test(l) && l.includes(report.features!.poller)), verbose.stdout);
  assert.ok(lines.some((l) => /^sendfile\s/.test(l)), verbose.stdout);
  assert.ok(lines.some((l) => /^sealed\s/.test(l) && l.includes(report.features!.sealed)), verbose.stdout);
  const plain = tsgi(['-V']);
  assert.equal(plain.code, 0);
  assert.equal(plain.stdout.split('\n').filter(Boolean).length, 1, plain.stdout);
});

test('TSGI_ADDON loads the named build, and a missing one is reported, not thrown', () => {
  const { report: first } = doctor();
  const copy = path.join(dir, 'copy.node');
  fs.copyFileSync(first.addon!.path, copy);
  const named = doctor({ ...process.env, TSGI_ADDON: copy });
  assert.equal(named.code, 0);
  assert.deepEqual(named.report.addon, { path: copy, source: 'env' });
  assert.equal(named.report.features?.poller, first.features?.poller);

  const missing = path.join(dir, 'no-such.node');
  const r = tsgi(['doctor'], { ...process.env, TSGI_ADDON: missing });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^addon\s+NOT LOADED: tsgi: cannot load the native addon TSGI_ADDON names/m);
  assert.ok(r.stdout.includes(missing), r.stdout);
  assert.match(r.stdout, /^node\s+v\d+/m);
  assert.match(r.stdout, /^platform\s/m);
});

test('doctor refuses an unknown argument with exit 2', () => {
  const r = tsgi(['doctor', '--frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown argument --frobnicate/);
});
