// The symbol versions a Linux binary needs from glibc and libstdc++, read
// from its dynamic symbol table with readelf (binutils: it reads an ELF
// file of any architecture), and the newest ones a prebuilt binary may need
// to load on glibc 2.28. Used by scripts/prebuild.cjs and the build tests.
'use strict';
const { spawnSync } = require('node:child_process');

/**
 * The oldest glibc the prebuilds load on: 2.28 (Debian 10, RHEL and Alma
 * 8; Ubuntu 20.04 has 2.31), the one Node 18+ needs. libstdc++ is linked in, so none of its versions
 * may appear at all; were it shared, GCC 8's (GLIBCXX_3.4.25, CXXABI_1.3.11)
 * would be the limit.
 */
const LIMITS = { GLIBC: '2.28', GLIBCXX: null, CXXABI: null };

/** -1, 0 or 1 as dotted version a is older than, equal to, newer than b. */
function compareVersions(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** [{ symbol, lib: 'GLIBC' | 'GLIBCXX' | 'CXXABI' | 'GCC' ..., version }] of the file's dynamic symbols. */
function symbolVersions(file) {
  const r = spawnSync('readelf', ['--dyn-syms', '--wide', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`readelf: ${r.error.message} (apt-get install binutils)`);
  if (r.status !== 0) throw new Error(`readelf --dyn-syms ${file} exited ${r.status}: ${r.stderr.trim()}`);
  const out = [];
  for (const line of r.stdout.split('\n')) {
    const m = /\s(\S+?)@@?([A-Z]+)_([\d.]+)(?:\s|$)/.exec(line);
    if (m) out.push({ symbol: m[1], lib: m[2], version: m[3] });
  }
  return out;
}

/** The symbols whose version is past LIMITS, as "name@LIB_version" strings. */
function tooNew(file) {
  return symbolVersions(file)
    .filter(({ lib, version }) => lib in LIMITS &&
      (LIMITS[lib] === null || compareVersions(version, LIMITS[lib]) > 0))
    .map(({ symbol, lib, version }) => `${symbol}@${lib}_${version}`);
}

/** The newest version per library, e.g. { GLIBC: '2.28', GCC: '4.2.0' }. */
function newest(file) {
  const top = {};
  for (const { lib, version } of symbolVersions(file)) {
    if (!(lib in top) || compareVersions(version, top[lib]) > 0) top[lib] = version;
  }
  return top;
}

module.exports = { LIMITS, compareVersions, symbolVersions, tooNew, newest };
