#!/usr/bin/env node
// `npm run test:node`: runs the tests under other Node versions, with the
// addon and the compiled tests built once (the addon uses N-API only, so one
// build/Release/tsgi.node loads on every Node from 20 on).
//
//   npm run test:node -- 22 24                  # CI's suites under Node 22 and 24
//   npm run test:node -- 26 build-test          # the whole suite under Node 26
//   npm run test:node -- 24.22.3 build-test/adapters
//   npm run test:node -- --latest 24            # ask the registry for a newer 24
//
// A major version means the newest one in the cache (or, with none there or
// with --latest, the newest on the registry); an exact version means that
// one. Other arguments are test folders or files for scripts/test.cjs; with
// none, the suites CI runs on every version (CI_TARGETS).
//
// The binaries are the official builds that the npm registry carries as
// node-<os>-<arch> packages (bin/node in the tarball): `npm pack` fetches
// one into a temporary folder and its bin/node is kept under
// .cache/node/<version>/bin/. Nothing else is downloaded. The tests run with
// that bin/ first on PATH, so a child that runs `node` by name (npm's
// scripts, `#!/usr/bin/env node`) gets the same version.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { runTests } = require('./test.cjs');
const { nodeBinary } = require('./lib/fetch-node.cjs');

const root = path.join(__dirname, '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const CI_TARGETS = ['http', 'uwsgi', 'scgi', 'fastcgi', 'adapters', 'memory'].map((d) => path.join('build-test', d));

function die(msg) {
  process.stderr.write(`test:node: ${msg}\n`);
  process.exit(1);
}

function say(msg) {
  process.stderr.write(`test:node: ${msg}\n`);
}

// -- arguments --------------------------------------------------------------------

const VERSION = /^v?(\d+)(?:\.(\d+)\.(\d+))?$/;
const versions = [];
const targets = [];
let latest = false;
for (const a of process.argv.slice(2)) {
  if (a === '--latest') latest = true;
  else if (a === '--') continue;
  else if (VERSION.test(a)) versions.push(a.replace(/^v/, ''));
  else if (a.startsWith('-')) die(`unknown option ${a}`);
  else targets.push(a);
}
if (versions.length === 0) die('usage: npm run test:node -- [--latest] <major|x.y.z>... [test folders or files]');
if (targets.length === 0) targets.push(...CI_TARGETS);

// -- run ------------------------------------------------------------------------------

/** Runs `node` once: its version, after checking that it loads the addon. */
function check(node) {
  const r = spawnSync(node, ['-p', 'process.version + " napi " + process.versions.napi + " " + ' +
    `typeof require(${JSON.stringify(path.join(root, 'dist', 'native', 'load.js'))}).binding.Server`],
  { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) die(`${node} cannot load the addon:\n${r.stderr}`);
  const out = r.stdout.trim();
  if (!/^v\d+\.\d+\.\d+ napi \d+ function$/.test(out)) die(`${node}: unexpected "${out}"`);
  say(`${out.replace(/ function$/, '')}: the addon loads`);
  return out.split(' ')[0].slice(1);
}

async function main() {
  let nodes;
  try {
    nodes = versions.map((v) => nodeBinary(v, { latest, log: say }));
  } catch (err) {
    die(err.message);
  }
  const built = spawnSync(NPM, ['run', 'pretest'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) die(`npm run pretest failed (exit ${built.status})`);
  const results = [];
  for (const node of nodes) {
    const version = check(node);
    const env = { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH}` };
    say(`Node ${version}: ${targets.join(' ')}`);
    const start = Date.now();
    const r = await runTests(targets, { node, env });
    results.push({ version, ...r, seconds: Math.round((Date.now() - start) / 1000) });
  }
  say('summary:');
  for (const r of results) say(`  Node ${r.version}: ${r.tests} tests, ${r.code === 0 ? 'passed' : `FAILED (exit ${r.code})`}, ${r.seconds} s`);
  process.exit(results.every((r) => r.code === 0) ? 0 : 1);
}

main();
