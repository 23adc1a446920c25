// Out-of-tree CMake builds of the addon (build-asan/, build-kqueue/,
// build-portable/): plain cmake with the local node headers, never cmake-js
// (which would download them) and never build/Release (which would shadow the
// normal build and the prebuilds). Used by scripts/variant.cjs.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');

/** Helpers that print and exit under one prefix ("variant: ..."). */
function tools(prefix) {
  function die(msg) {
    process.stderr.write(`${prefix}: ${msg}\n`);
    process.exit(1);
  }
  function run(cmd, args, opts = {}, label = `${cmd} ${args.join(' ')}`) {
    process.stderr.write(`${prefix}: ${label}\n`);
    const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
    if (r.error) die(`${cmd}: ${r.error.message}`);
    return r.status === null ? 128 + (os.constants.signals[r.signal] || 0) : r.status;
  }
  function must(cmd, args, opts) {
    const code = run(cmd, args, opts);
    if (code !== 0) die(`${cmd} exited ${code}`);
  }
  return { die, run, must, capture };
}

function capture(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** The folder holding node_api.h: beside the node binary, or npm's nodedir. */
function nodeInclude() {
  const candidates = [
    path.join(path.dirname(process.execPath), '..', 'include', 'node'),
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, 'include', 'node'),
  ];
  const npmDir = capture(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['config', 'get', 'nodedir']);
  if (npmDir && npmDir !== 'undefined' && npmDir !== 'null') candidates.push(path.join(npmDir, 'include', 'node'));
  return candidates.filter(Boolean).map((d) => path.resolve(d)).find((d) => fs.existsSync(path.join(d, 'node_api.h')));
}

/**
 * Configures and builds the addons into `out` with the given -D options, under
 * nice (the build shares the machine with the tests and other work): tsgi.node,
 * and beside it tsgi_loadgen.node (which `tsgi bench` loads from the main
 * addon's folder) and tsgi_testing.node (the test hooks, for
 * TSGI_TESTING_ADDON: see testingAddon). Returns the path of the tsgi.node.
 */
function buildAddon(t, out, defines) {
  if (capture('cmake', ['--version']) === undefined) t.die('cmake not found: apt-get install cmake');
  const include = nodeInclude();
  if (!include) t.die('node_api.h not found beside node or in npm\'s nodedir; install the node headers (e.g. the nodejs-dev package)');
  const nice = process.platform !== 'win32' && capture('sh', ['-c', 'command -v nice']) ? ['nice'] : [];
  const jobs = String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
  const wrap = (args) => (nice.length ? ['nice', ['cmake', ...args]] : ['cmake', args]);
  t.must(...wrap(['-S', root, '-B', out, `-DCMAKE_JS_INC=${include}`, ...defines.map((d) => `-D${d}`)]));
  t.must(...wrap(['--build', out, '--parallel', jobs]));
  for (const name of ['tsgi.node', 'tsgi_loadgen.node', 'tsgi_testing.node']) {
    if (!fs.existsSync(path.join(out, name))) t.die(`the build made no ${path.relative(root, path.join(out, name))}`);
  }
  return path.join(out, 'tsgi.node');
}

/** The test hooks' addon a buildAddon(out) made, for TSGI_TESTING_ADDON. */
function testingAddon(out) {
  return path.join(out, 'tsgi_testing.node');
}

/**
 * A `node -e` program that proves `addon` is the file loaded (TSGI_ADDON
 * must name it) and that a server on it answers a GET and a 1 MiB POST.
 */
function smokeScript(addon, what) {
  return `
const { serve } = require(${JSON.stringify(root)});
require(${JSON.stringify(path.join(root, 'dist', 'native', 'load.js'))});
if (!Object.keys(require.cache).includes(${JSON.stringify(addon)})) throw new Error('not the ${what} addon: ' + Object.keys(require.cache).filter((k) => k.endsWith('.node')));
const s = serve(async (req) => ({ body: req.REQUEST_METHOD === 'POST' ? Buffer.from(await req.body.bytes()) : 'ok' }), { listen: '127.0.0.1:0', log: () => {} });
const base = 'http://127.0.0.1:' + s.addresses[0].port;
(async () => {
  const big = 'x'.repeat(1 << 20);
  if ((await (await fetch(base + '/')).text()) !== 'ok') throw new Error('GET');
  if ((await (await fetch(base + '/', { method: 'POST', body: big })).text()) !== big) throw new Error('POST');
  await s.close();
  console.error('smoke test served GET and a 1 MiB POST with ' + ${JSON.stringify(path.relative(root, addon))});
})().catch((e) => { console.error(e); process.exit(1); });`;
}

module.exports = { root, tools, capture, nodeInclude, buildAddon, testingAddon, smokeScript };
