// scripts/test.cjs, what `npm test` and `npm run test:asan` run: folders are
// expanded into their test files (Node 22 and later run nothing when given a
// folder), and a run in which no test ran fails instead of looking green.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT, tempDir } from '../helpers/index.js';

const RUNNER = path.join(ROOT, 'scripts', 'test.cjs');
const dir = tempDir('tsgi-runner-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(rel: string, text: string): string {
  const p = path.join(dir, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
  return p;
}

const PASS = "const { test } = require('node:test'); test('one', () => {}); test('two', () => {});\n";

function runner(...targets: string[]): { status: number | null; stdout: string; stderr: string } {
  // The child's own test runner must not see this one's (NODE_TEST_CONTEXT
  // would make it report to us instead of printing its summary).
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, [RUNNER, ...targets], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('a folder runs every *.test.js below it, nested ones too, and only those', () => {
  write('pass/a.test.js', PASS);
  write('pass/deeper/b.test.js', PASS);
  write('pass/helper.js', "throw new Error('not a test file: must not run');\n");
  const r = runner(path.join(dir, 'pass'));
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stderr, /test: 4 tests, exit 0 \(2 file\(s\)/);
});

test('a failing test fails the run', () => {
  write('fail/a.test.js', "const { test } = require('node:test'); test('no', () => { throw new Error('boom'); });\n");
  const r = runner(path.join(dir, 'fail'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /test: 1 tests, exit 1/);
});

test('a file that declares no test still counts as one (node --test reports the file itself)', () => {
  write('none/a.test.js', '// a test file that declares no test\n');
  const r = runner(path.join(dir, 'none'));
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stderr, /test: 1 tests, exit 0/);
});

// What a run of nothing looks like: a summary of zero tests and exit 0. A
// stand-in for node prints it, since the runner itself never hands node a
// folder; the guard must fail the run whatever the reporter's format.
for (const [format, summary] of [['TAP', '1..0\n# tests 0\n# pass 0\n'], ['spec', '\u2139 tests 0\n\u2139 pass 0\n']]) {
  test(`a run whose ${format} summary says zero tests fails, though node exited 0`, () => {
    write('zero/a.test.js', PASS);
    const fake = write(`fake-node-${format}`, `#!/bin/sh\nprintf '${summary}'\nexit 0\n`);
    fs.chmodSync(fake, 0o755);
    const code = `require(${JSON.stringify(RUNNER)}).runTests([${JSON.stringify(path.join(dir, 'zero'))}], { node: ${JSON.stringify(fake)} })
      .then((r) => process.exit(r.code))`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /zero tests ran \(exit 0\)/);
  });
}

test('a run that prints no summary fails', () => {
  write('zero/a.test.js', PASS);
  const fake = write('fake-node-silent', '#!/bin/sh\nexit 0\n');
  fs.chmodSync(fake, 0o755);
  const code = `require(${JSON.stringify(RUNNER)}).runTests([${JSON.stringify(path.join(dir, 'zero'))}], { node: ${JSON.stringify(fake)} })
    .then((r) => process.exit(r.code))`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /printed no "tests N" summary/);
});

test('a folder with no test files, or a path that names nothing, fails before running', () => {
  fs.mkdirSync(path.join(dir, 'empty'), { recursive: true });
  const empty = runner(path.join(dir, 'empty'));
  assert.equal(empty.status, 1);
  assert.match(empty.stderr, /no \*\.test\.js files/);
  const missing = runner(path.join(dir, 'missing'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /missing: no such file or folder/);
});

test('npm test runs the runner over build-test', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.test, 'node scripts/test.cjs build-test');
});
