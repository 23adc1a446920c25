// The Linux binaries load on glibc 2.28 (Debian 10, RHEL and Alma 8: the
// oldest glibc Node 18+ runs on): no symbol version newer than GLIBC_2.28
// and no shared libstdc++ (GLIBCXX_/CXXABI_ versions) in build/Release/
// tsgi.node and tsgi_loadgen.node (the two addons that ship) and in every
// glibc prebuild present. scripts/lib/elf-versions.cjs reads them with readelf.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT, have } from '../helpers/index.js';

interface ElfVersions {
  LIMITS: Record<string, string | null>;
  compareVersions(a: string, b: string): number;
  symbolVersions(file: string): { symbol: string; lib: string; version: string }[];
  tooNew(file: string): string[];
  newest(file: string): Record<string, string>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const elf = require(path.join(ROOT, 'scripts', 'lib', 'elf-versions.cjs')) as ElfVersions;

const linux = process.platform === 'linux';
const skip = !linux ? 'ELF binaries are checked on Linux' : !have('readelf') ? 'readelf not found: apt-get install binutils' : false;

function binaries(): string[] {
  const out: string[] = [];
  for (const name of ['tsgi.node', 'tsgi_loadgen.node']) {
    const release = path.join(ROOT, 'build', 'Release', name);
    if (fs.existsSync(release)) out.push(release);
  }
  const prebuilds = path.join(ROOT, 'prebuilds');
  if (fs.existsSync(prebuilds)) {
    for (const dir of fs.readdirSync(prebuilds).filter((d) => d.startsWith('linux-'))) {
      for (const f of fs.readdirSync(path.join(prebuilds, dir))) {
        if (f.endsWith('.node') && !f.includes('.musl.')) out.push(path.join(prebuilds, dir, f));
      }
    }
  }
  return out;
}

test('versions compare as numbers, part by part', () => {
  assert.equal(elf.compareVersions('2.28', '2.28'), 0);
  assert.equal(elf.compareVersions('2.3.2', '2.28'), -1);
  assert.equal(elf.compareVersions('2.33', '2.28'), 1);
  assert.equal(elf.compareVersions('2.2.5', '2.17'), -1);
  assert.equal(elf.compareVersions('3.4.29', '3.4.25'), 1);
});

test('the check sees a shared libstdc++: node itself needs GLIBCXX versions', { skip }, () => {
  const found = elf.tooNew(process.execPath);
  assert.ok(found.some((s) => /@GLIBCXX_3\.4/.test(s)), `no GLIBCXX_ symbol found in ${process.execPath}: ${found.slice(0, 5).join(', ')}`);
  assert.ok(elf.symbolVersions(process.execPath).some((s) => s.lib === 'GLIBC'), 'no GLIBC_ symbol read from node');
});

test('build/Release and the glibc prebuilds need nothing past GLIBC_2.28 and no shared libstdc++', { skip }, (t) => {
  const files = binaries();
  assert.ok(files.length > 0, 'no Linux addon to check: npm run build:native or npm run prebuild');
  for (const file of files) {
    const rel = path.relative(ROOT, file);
    assert.deepEqual(elf.tooNew(file), [], `${rel} would not load on glibc 2.28 (see native/compat/glibc_compat.cc)`);
    const newest = elf.newest(file);
    assert.ok(newest.GLIBC, `${rel}: no GLIBC_ versions read`);
    t.diagnostic(`${rel}: ${fs.statSync(file).size} bytes, ${Object.entries(newest).map(([l, v]) => `${l}_${v}`).join(' ')}`);
  }
});

// permessage-deflate (native/proto/ws/deflate.cc) uses the zlib inside the
// node binary: the addons need no libz, and zlib's symbols stay undefined
// and unversioned, so they add nothing to the versions checked above.
test('the addons link no zlib: its symbols are undefined, unversioned, resolved by node', { skip }, () => {
  const file = path.join(ROOT, 'build', 'Release', 'tsgi_testing.node');
  if (!fs.existsSync(file)) return;
  const dynamic = spawnSync('readelf', ['-d', '--wide', file], { encoding: 'utf8' });
  assert.equal(dynamic.status, 0, dynamic.stderr);
  assert.doesNotMatch(dynamic.stdout, /NEEDED.*libz\./, 'tsgi_testing.node needs a shared libz');
  const syms = spawnSync('readelf', ['--dyn-syms', '--wide', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(syms.status, 0, syms.stderr);
  const zlib = syms.stdout.split('\n').filter((l) => /\s(deflate|inflate)\w*(@\S+)?\s*$/.test(l));
  assert.ok(zlib.some((l) => /\bUND\s+inflateInit2_\s*$/.test(l)), 'inflateInit2_ is not an undefined, unversioned symbol');
  for (const l of zlib) assert.match(l, /\bUND\s+\w+\s*$/, l.trim());
  const node = spawnSync('readelf', ['--dyn-syms', '--wide', process.execPath], { encoding: 'utf8', maxBuffer: 256 << 20 });
  // Defined in node, or imported by it from a shared libz that it loads: either way the process has it.
  assert.match(node.stdout, /\sinflateInit2_(@\S+)?\s*$/m, `${process.execPath} has no inflateInit2_`);
});
