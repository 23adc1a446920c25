// docs/api/ is TypeDoc's reference of the public types (npm run docs:api):
// generated again here into a temporary folder, it must equal what is
// committed, so the reference never drifts from the code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, tempDir } from '../helpers/index.js';

const typedoc = path.join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc');
const missing = !fs.existsSync(typedoc);
if (missing && process.env.CI === 'true') throw new Error('typedoc is not installed: npm install (a devDependency)');

function files(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

test('docs/api is what TypeDoc makes of the current types', { skip: missing && 'typedoc not installed (npm install)' }, () => {
  const out = tempDir('tsgi-api-docs-');
  try {
    const r = spawnSync(process.execPath, [typedoc, '--out', out, '--logLevel', 'Warn'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(r.stdout + r.stderr, '', 'TypeDoc warned; see its output');
    const committed = path.join(ROOT, 'docs', 'api');
    assert.deepEqual(files(out), files(committed), 'the same files (run npm run docs:api)');
    for (const f of files(out)) {
      assert.equal(fs.readFileSync(path.join(committed, f), 'utf8'), fs.readFileSync(path.join(out, f), 'utf8'),
        `docs/api/${f} is out of date: run npm run docs:api`);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
