// Official Node binaries, for any platform and architecture, from the npm
// registry's node-<os>-<arch> packages (bin/node in the tarball), kept in
// .cache/node/: the machine's own platform under <version>/bin/node (the
// layout scripts/node-versions.cjs reads), any other under
// <version>-<os>-<arch>/bin/node. `npm pack` fetches the tarball into a
// temporary folder, so npm's own cache and proxy settings apply; nothing
// else is downloaded.
//
//   const { nodeBinary } = require('./lib/fetch-node.cjs');
//   nodeBinary('24', { arch: 'arm64' })  // newest cached 24.x, else the registry's
//   nodeBinary('24.11.1')                // exactly that version, for this machine
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const cache = path.join(root, '.cache', 'node');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const EXACT = /^(\d+)\.(\d+)\.(\d+)$/;

function osName(platform) {
  return platform === 'win32' ? 'win' : platform;
}

function folderOf(version, platform, arch) {
  const own = platform === process.platform && arch === process.arch;
  return path.join(cache, own ? version : `${version}-${osName(platform)}-${arch}`);
}

function binOf(version, platform, arch) {
  return path.join(folderOf(version, platform, arch), 'bin', platform === 'win32' ? 'node.exe' : 'node');
}

function byVersion(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  return pa[0] - pb[0] || pa[1] - pb[1] || pa[2] - pb[2];
}

/** The newest cached version of a major for platform-arch, or undefined. */
function cachedMajor(major, platform, arch) {
  if (!fs.existsSync(cache)) return undefined;
  const suffix = platform === process.platform && arch === process.arch ? '' : `-${osName(platform)}-${arch}`;
  return fs.readdirSync(cache)
    .filter((d) => d.endsWith(suffix))
    .map((d) => d.slice(0, d.length - suffix.length))
    .filter((v) => EXACT.test(v) && v.split('.')[0] === major && fs.existsSync(binOf(v, platform, arch)))
    .sort(byVersion).pop();
}

/** `npm pack node-<os>-<arch>@spec`, its bin/node into the cache; returns the version. */
function fetch(spec, platform, arch, log) {
  const pkg = `node-${osName(platform)}-${arch}`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsgi-node-'));
  try {
    log(`npm pack ${pkg}@${spec}`);
    const r = spawnSync(NPM, ['pack', `${pkg}@${spec}`, '--json', '--pack-destination', tmp],
      { cwd: tmp, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
    if (r.status !== 0) throw new Error(`npm pack ${pkg}@${spec} failed (exit ${r.status ?? r.signal}): ${r.stderr}`);
    const [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')));
    const version = info.version;
    const dest = folderOf(version, platform, arch);
    const member = `package/bin/${platform === 'win32' ? 'node.exe' : 'node'}`;
    fs.rmSync(dest, { recursive: true, force: true });
    fs.mkdirSync(dest, { recursive: true });
    const x = spawnSync('tar', ['-xzf', path.join(tmp, info.filename), '-C', dest, '--strip-components=1', member],
      { encoding: 'utf8' });
    if (x.status !== 0 || !fs.existsSync(binOf(version, platform, arch))) {
      throw new Error(`${info.filename} has no ${member}: ${x.stderr}`);
    }
    return version;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The path of a Node binary: spec is a major ("24", the newest cached, else
 * the registry's newest; with latest, the registry's newest in any case) or
 * an exact version ("24.11.1").
 */
function nodeBinary(spec, { platform = process.platform, arch = process.arch, log = () => {}, latest = false } = {}) {
  spec = String(spec).replace(/^v/, '');
  let version;
  if (EXACT.test(spec)) version = fs.existsSync(binOf(spec, platform, arch)) ? spec : fetch(spec, platform, arch, log);
  else if (/^\d+$/.test(spec)) version = (latest ? undefined : cachedMajor(spec, platform, arch)) ?? fetch(spec, platform, arch, log);
  else throw new Error(`node version "${spec}": a major (24) or an exact version (24.11.1)`);
  return binOf(version, platform, arch);
}

module.exports = { nodeBinary, cache };
