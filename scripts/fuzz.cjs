#!/usr/bin/env node
// npm run fuzz [-- target...]: builds the libFuzzer targets with clang into
// build-fuzz/ and runs each for FUZZ_SECONDS (default 60) on a copy of its
// seed corpus and regressions, so generated inputs never land in the repo.
//
// npm run fuzz:long [-- target...]: the run before a release. Each target
// runs FUZZ_RUNS executions (default 10 million) rather than for a time
// (FUZZ_SECONDS, when set, bounds each target's time as well); then the
// inputs that reach code the repo's corpus does not are merged
// (libFuzzer -merge=1, which keeps a minimal set) into
// test/fuzz/corpus/<target>/, for the tests to replay from then on.
// A crash (or leak, timeout, OOM) input is copied to
// test/fuzz/regressions/<target>/, which the ordinary test run replays, and
// the script exits non-zero.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const BUILD = path.join(ROOT, 'build-fuzz');
const TARGETS = ['http1', 'uwsgi', 'scgi', 'fastcgi', 'ws', 'ws_deflate', 'reply', 'static'];
const long = process.argv.includes('--long');
const seconds = Number(process.env.FUZZ_SECONDS || 60);
const runs = Number(process.env.FUZZ_RUNS || 1e7);

function run(cmd, args, opts = {}) {
  console.log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: ROOT, ...opts });
  if (r.error) {
    console.error(`fuzz: cannot run ${cmd}: ${r.error.message}`);
    process.exit(1);
  }
  return r.status === null ? 128 : r.status;
}

function copyDir(from, to) {
  if (!fs.existsSync(from)) return;
  for (const f of fs.readdirSync(from)) {
    if (!f.startsWith('.')) fs.copyFileSync(path.join(from, f), path.join(to, f));
  }
}

function fuzz(target) {
  const work = path.join(BUILD, 'corpus', target);
  const artifacts = path.join(BUILD, 'artifacts', target) + path.sep;
  fs.mkdirSync(work, { recursive: true });
  fs.mkdirSync(artifacts, { recursive: true });
  copyDir(path.join(ROOT, 'test', 'fuzz', 'corpus', target), work);
  copyDir(path.join(ROOT, 'test', 'fuzz', 'regressions', target), work);
  const before = new Set(fs.readdirSync(artifacts));

  // libFuzzer prints a line per new input: keep that in a log file, and
  // show a summary here (and the log's tail when something is found).
  const logPath = path.join(BUILD, `${target}.log`);
  const logFd = fs.openSync(logPath, 'w');
  const started = Date.now();
  const status = run(path.join(BUILD, `${target}_fuzz`), [
    work,
    `-dict=${path.join(ROOT, 'test', 'fuzz', `${target}.dict`)}`,
    ...(long ? [`-runs=${runs}`] : []),
    ...(!long || process.env.FUZZ_SECONDS ? [`-max_total_time=${seconds}`] : []),
    `-artifact_prefix=${artifacts}`,
    '-print_final_stats=1',
  ], { stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  const log = fs.readFileSync(logPath, 'utf8');
  const done = /stat::number_of_executed_units:\s*(\d+)/.exec(log)?.[1] ?? '?';
  const took = ((Date.now() - started) / 1000).toFixed(0);
  console.log(`fuzz: ${target}: ${done} runs in ${took} s (log: ${path.relative(ROOT, logPath)})`);

  const found = fs.readdirSync(artifacts).filter((f) => !before.has(f));
  if (status === 0 && found.length === 0) {
    if (long) keep(target, work);
    return true;
  }
  console.error(log.split('\n').slice(-60).join('\n'));
  const regressions = path.join(ROOT, 'test', 'fuzz', 'regressions', target);
  fs.mkdirSync(regressions, { recursive: true });
  for (const f of found) {
    fs.copyFileSync(path.join(artifacts, f), path.join(regressions, f));
    console.error(`fuzz: ${target}: ${path.join(artifacts, f)}`);
    console.error(`      copied to ${path.relative(ROOT, path.join(regressions, f))}`);
  }
  if (found.length === 0) console.error(`fuzz: ${target}: the fuzzer exited with status ${status}`);
  return false;
}

// Merges into the repo's corpus the inputs of `work` that add coverage to it.
function keep(target, work) {
  const corpus = path.join(ROOT, 'test', 'fuzz', 'corpus', target);
  const had = new Set(fs.readdirSync(corpus));
  const status = run(path.join(BUILD, `${target}_fuzz`), ['-merge=1', corpus, work], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  if (status !== 0) {
    console.error(`fuzz: ${target}: the corpus merge exited with status ${status}`);
    process.exit(1);
  }
  const added = fs.readdirSync(corpus).filter((f) => !had.has(f));
  console.log(`fuzz: ${target}: ${added.length} inputs with new coverage kept in test/fuzz/corpus/${target}/`);
}

function main() {
  const chosen = process.argv.slice(2).filter((a) => a !== '--long');
  for (const t of chosen) {
    if (!TARGETS.includes(t)) {
      console.error(`fuzz: unknown target ${t} (known: ${TARGETS.join(', ')})`);
      process.exit(2);
    }
  }
  if (!(seconds > 0) || !(runs >= 1)) {
    console.error('fuzz: FUZZ_SECONDS and FUZZ_RUNS must be positive numbers');
    process.exit(2);
  }
  const targets = chosen.length ? chosen : TARGETS;
  if (run('cmake', ['-S', '.', '-B', BUILD, '-DTSGI_FUZZ=ON', '-DCMAKE_CXX_COMPILER=clang++']) !== 0 ||
      run('cmake', ['--build', BUILD, '--parallel', '--target', ...targets.map((t) => `${t}_fuzz`)]) !== 0) {
    console.error('fuzz: the build failed (it needs clang++ with libFuzzer, e.g. Debian libclang-rt-14-dev)');
    process.exit(1);
  }
  const failed = targets.filter((t) => !fuzz(t));
  if (failed.length) {
    console.error(`fuzz: failures in ${failed.join(', ')}; the inputs are in test/fuzz/regressions/`);
    process.exit(1);
  }
  const budget = !long ? `${seconds} s` : process.env.FUZZ_SECONDS ? `${runs} runs or ${seconds} s, whichever came first,` : `${runs} runs`;
  console.log(`fuzz: ${targets.join(', ')}: no crash in ${budget} each`);
}

main();
