#!/usr/bin/env node
// `npm test`: runs the compiled tests under `node --test`, one file at a time,
// and fails when no test ran.
//
//   node scripts/test.cjs build-test                 # every *.test.js below it
//   node scripts/test.cjs build-test/http build-test/proto/http1.test.js
//
// Folders are expanded here into their *.test.js files, sorted, because
// only Node 20 runs the tests in a folder given to `node --test`: Node 22 and
// 24 take files and globs (a folder is loaded as a module and fails), and
// Node 20 takes no globs. An argument that names nothing is an error; so is a
// run whose summary says zero tests, or that has no summary, whatever the
// exit code: a green run of nothing must not pass for a test run.
//
// The tests run under the node running this script (process.execPath), so
// `/path/to/node-24/bin/node scripts/test.cjs build-test` tests Node 24.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

function die(msg) {
  process.stderr.write(`test: ${msg}\n`);
  process.exit(1);
}

/** Files and folders -> the test files, in order; folders recursively, their files sorted. */
function testFiles(targets) {
  const out = [];
  const walk = (dir) => {
    const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith('.test.js')) out.push(p);
    }
  };
  for (const t of targets) {
    let st;
    try {
      st = fs.statSync(t);
    } catch {
      die(`${t}: no such file or folder`);
    }
    if (st.isDirectory()) walk(t);
    else out.push(t);
  }
  return out;
}

// The totals line of the TAP reporter ("# tests 12", Node 20's default when
// stdout is not a terminal) and of the spec reporter ("ℹ tests 12").
const TOTAL = /^(?:# |\u2139 )tests (\d+)\s*$/;

/**
 * Runs `node --test` (with `node`, by default this one) on the files under
 * `targets`, printing its output as it comes. Resolves to { code, tests }:
 * code is 1 when the summary counted zero tests or was missing.
 */
function runTests(targets, { node = process.execPath, env = process.env } = {}) {
  const files = testFiles(targets);
  if (files.length === 0) die(`no *.test.js files in ${targets.join(' ')} (npm run pretest compiles them)`);
  const args = ['--test', '--test-concurrency=1', ...files];
  return new Promise((resolve) => {
    const child = spawn(node, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let total;
    let partial = '';
    child.stdout.on('data', (buf) => {
      process.stdout.write(buf);
      const lines = (partial + buf.toString('utf8')).split('\n');
      partial = lines.pop();
      for (const line of lines) {
        const m = TOTAL.exec(line);
        if (m) total = Number(m[1]);
      }
    });
    child.on('close', (code, signal) => {
      const m = TOTAL.exec(partial);
      if (m) total = Number(m[1]);
      const label = `${files.length} file(s), ${node === process.execPath ? `node ${process.version}` : node}`;
      let fail;
      if (signal !== null) fail = `node --test was killed by ${signal}`;
      else if (total === undefined) fail = `node --test printed no "tests N" summary (exit ${code})`;
      else if (total === 0) fail = `zero tests ran (exit ${code}): nothing was tested`;
      if (fail !== undefined) {
        process.stderr.write(`test: ${fail} (${label})\n`);
        resolve({ code: 1, tests: total ?? 0 });
      } else {
        process.stderr.write(`test: ${total} tests, exit ${code} (${label})\n`);
        resolve({ code, tests: total });
      }
    });
  });
}

module.exports = { testFiles, runTests };

if (require.main === module) {
  const targets = process.argv.slice(2);
  if (targets.length === 0) die('usage: node scripts/test.cjs <folder or test file>...');
  runTests(targets).then((r) => process.exit(r.code));
}
