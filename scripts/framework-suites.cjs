#!/usr/bin/env node
// Runs a framework's own test suite twice, on node:http and on tsgi/http,
// and compares: which tests fail on one server and not on the other.
//
//   node scripts/framework-suites.cjs <checkout> [<checkout> ...] [--json out.json]
//
// A checkout is a framework's source tree with its devDependencies
// installed (`npm install` in it): Express, Koa, body-parser, serve-static,
// express-session, compression, on-finished. Its suite runs unchanged; the
// second run loads tsgi's register hook first (NODE_OPTIONS=--require
// dist/register.js, so the runner's child processes get it too), which makes
// node:http's createServer tsgi's: supertest's servers and the suites' own.
// `npm run build:ts` first. This is a check to run by hand, not in CI: the
// checkouts come from GitHub and their dependencies from npm.
//
// The suite's runner is the one its `npm test` script names: mocha (with a
// reporter of ours that records each test's result) or `node --test` (with
// a reporter of ours for the same), told to exit when the tests are done
// (mocha --exit, --test-force-exit: a test that failed may leave a server
// open). Whatever the script runs before it (express-session's certificate
// generation) runs once first.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const REGISTER = path.join(ROOT, 'dist', 'register.js');
const RUN_LIMIT_MS = 15 * 60 * 1000;

function die(msg) {
  process.stderr.write(`framework-suites: ${msg}\n`);
  process.exit(2);
}

// Each runner's reporter writes one JSON line per test to RESULTS_FILE:
// { title, state: 'passed' | 'failed' | 'pending', error? }.
const MOCHA_REPORTER = `'use strict';
const fs = require('node:fs');
module.exports = function TsgiRecorder(runner) {
  const out = process.env.FRAMEWORK_SUITES_RESULTS;
  const put = (test, state, err) => fs.appendFileSync(out, JSON.stringify({ title: test.fullTitle(), state,
    ...(err ? { error: String(err && err.message || err).split('\\n')[0].slice(0, 300) } : {}) }) + '\\n');
  runner.on('pass', (t) => put(t, 'passed'));
  runner.on('fail', (t, err) => put(t, 'failed', err));
  runner.on('pending', (t) => put(t, 'pending'));
};
`;

const NODE_REPORTER = `import * as fs from 'node:fs';
export default async function* recorder(source) {
  const out = process.env.FRAMEWORK_SUITES_RESULTS;
  const stack = [];
  for await (const { type, data } of source) {
    if (type !== 'test:pass' && type !== 'test:fail') continue;
    if (data.details && data.details.type === 'suite') continue;
    const state = type === 'test:pass' ? (data.skip || data.todo ? 'pending' : 'passed') : 'failed';
    const err = data.details && data.details.error;
    const cause = err && (err.cause || err);
    fs.appendFileSync(out, JSON.stringify({ title: (data.file ? data.file.split('/').slice(-2).join('/') + ': ' : '') + data.name,
      state, ...(state === 'failed' ? { error: String(cause && cause.message || cause).split('\\n')[0].slice(0, 300) } : {}) }) + '\\n');
  }
  yield '';
}
`;

/** The suite's command from its `npm test`: the setup before it, and the runner's argv. */
function suiteCommand(checkout) {
  const pkg = JSON.parse(fs.readFileSync(path.join(checkout, 'package.json'), 'utf8'));
  const script = pkg.scripts && pkg.scripts.test;
  if (typeof script !== 'string') die(`${checkout}: no "test" script in package.json`);
  const parts = script.split('&&').map((s) => s.trim());
  const main = parts.pop();
  const argv = main.split(/\s+/);
  if (argv[0] === 'mocha') return { name: pkg.name, version: pkg.version, setup: parts, runner: 'mocha', args: argv.slice(1) };
  if (argv[0] === 'node' && argv.includes('--test')) {
    return { name: pkg.name, version: pkg.version, setup: parts, runner: 'node', args: argv.slice(1) };
  }
  die(`${checkout}: cannot tell the test runner from "${script}"`);
}

/** mocha's argv with our reporter in place of the one the script names. */
function mochaArgs(args, reporter) {
  const out = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--reporter' || args[i] === '-R') {
      i++;
      continue;
    }
    out.push(args[i]);
  }
  // --exit: a test that failed may leave its server open; the run still ends.
  return [...out, '--reporter', reporter, '--exit'];
}

function runSuite(checkout, cmd, withTsgi, tmp) {
  const results = path.join(tmp, `${withTsgi ? 'tsgi' : 'node'}.jsonl`);
  fs.rmSync(results, { force: true });
  fs.writeFileSync(results, '');
  const env = { ...process.env, FRAMEWORK_SUITES_RESULTS: results };
  if (withTsgi) env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --require ${REGISTER}`.trim();
  else delete env.NODE_OPTIONS;
  let argv;
  if (cmd.runner === 'mocha') {
    const bin = path.join(checkout, 'node_modules', 'mocha', 'bin');
    const mocha = ['mocha.js', 'mocha'].map((f) => path.join(bin, f)).find((f) => fs.existsSync(f));
    if (mocha === undefined) die(`${checkout}: no node_modules/mocha (run npm install there)`);
    const reporter = path.join(tmp, 'mocha-reporter.cjs');
    fs.writeFileSync(reporter, MOCHA_REPORTER);
    argv = [mocha, ...mochaArgs(cmd.args, reporter)];
  } else {
    const reporter = path.join(tmp, 'node-reporter.mjs');
    fs.writeFileSync(reporter, NODE_REPORTER);
    argv = [...cmd.args, `--test-reporter=${reporter}`, '--test-reporter-destination=stdout', '--test-force-exit',
      // node --test has no default timeout: a test that waits forever would stop the comparison.
      '--test-timeout=20000'];
  }
  const started = Date.now();
  const r = spawnSync(process.execPath, argv, { cwd: checkout, env, encoding: 'utf8', timeout: RUN_LIMIT_MS,
    killSignal: 'SIGKILL', maxBuffer: 256 * 1024 * 1024 });
  const tests = fs.readFileSync(results, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  return { tests, status: r.status, signal: r.signal, ms: Date.now() - started, stderr: (r.stderr || '').slice(-4000) };
}

function summary(run) {
  const passed = run.tests.filter((t) => t.state === 'passed').length;
  const failed = run.tests.filter((t) => t.state === 'failed').length;
  const pending = run.tests.filter((t) => t.state === 'pending').length;
  return { passed, failed, pending, total: passed + failed };
}

function compare(checkout) {
  checkout = path.resolve(checkout);
  const cmd = suiteCommand(checkout);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'framework-suites-'));
  for (const step of cmd.setup) {
    const r = spawnSync('sh', ['-c', step], { cwd: checkout, encoding: 'utf8' });
    if (r.status !== 0) die(`${checkout}: "${step}" failed:\n${r.stdout}${r.stderr}`);
  }
  const node = runSuite(checkout, cmd, false, tmp);
  const tsgi = runSuite(checkout, cmd, true, tmp);
  fs.rmSync(tmp, { recursive: true, force: true });
  const failedOn = (run) => new Map(run.tests.filter((t) => t.state === 'failed').map((t) => [t.title, t.error]));
  const nodeFailed = failedOn(node), tsgiFailed = failedOn(tsgi);
  const ranOn = (run) => new Set(run.tests.map((t) => t.title));
  const tsgiRan = ranOn(tsgi);
  return {
    suite: `${cmd.name}@${cmd.version}`,
    node: { ...summary(node), exit: node.status, ms: node.ms },
    tsgi: { ...summary(tsgi), exit: tsgi.status, ms: tsgi.ms },
    onlyOnTsgi: [...tsgiFailed].filter(([t]) => !nodeFailed.has(t)).map(([title, error]) => ({ title, error })),
    onlyOnNode: [...nodeFailed].filter(([t]) => !tsgiFailed.has(t)).map(([title, error]) => ({ title, error })),
    onBoth: [...nodeFailed].filter(([t]) => tsgiFailed.has(t)).map(([title, error]) => ({ title, error })),
    // A suite cut short (a crash, a hang) runs fewer tests on one server.
    notRunOnTsgi: node.tests.filter((t) => !tsgiRan.has(t.title)).map((t) => t.title),
    ...(tsgi.tests.length < node.tests.length ? { tsgiStderr: tsgi.stderr } : {}),
  };
}

function main() {
  const args = process.argv.slice(2);
  let jsonOut;
  const checkouts = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--json') jsonOut = args[++i];
    else checkouts.push(args[i]);
  }
  if (checkouts.length === 0) die('usage: framework-suites.cjs <checkout> [<checkout> ...] [--json out.json]');
  if (!fs.existsSync(REGISTER)) die(`${REGISTER} missing: npm run build:ts`);
  const reports = [];
  for (const checkout of checkouts) {
    const r = compare(checkout);
    reports.push(r);
    const line = (s) => `${s.passed}/${s.total} passed${s.pending ? `, ${s.pending} pending` : ''}`;
    process.stdout.write(`${r.suite}: node:http ${line(r.node)}; tsgi ${line(r.tsgi)}\n`);
    for (const f of r.onlyOnTsgi) process.stdout.write(`  fails on tsgi only: ${f.title}\n      ${f.error}\n`);
    for (const f of r.onlyOnNode) process.stdout.write(`  fails on node:http only: ${f.title}\n      ${f.error}\n`);
    for (const f of r.onBoth) process.stdout.write(`  fails on both: ${f.title}\n      ${f.error}\n`);
    if (r.notRunOnTsgi.length > 0) process.stdout.write(`  ${r.notRunOnTsgi.length} not run on tsgi (the run ended early)\n`);
  }
  if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(reports, null, 2) + '\n');
  process.exitCode = reports.some((r) => r.onlyOnTsgi.length > 0 || r.notRunOnTsgi.length > 0) ? 1 : 0;
}

main();
