import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ERRORS } from 'tsgi';
import { ROOT } from '../helpers/index.js';

test('every error code is in docs/errors.md with its status and message, and nothing else is', () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'errors.md'), 'utf8');
  const rows = new Map<string, string>();
  for (const m of doc.matchAll(/^\| `(TSGI_ERR_[A-Z_]+)` \| (\d+) \| (.+) \|$/gm)) rows.set(m[1]!, `${m[2]} ${m[3]}`);
  for (const [code, e] of Object.entries(ERRORS)) {
    assert.equal(rows.get(code), `${e.status} ${e.message}`, `${code} in docs/errors.md`);
  }
  assert.deepEqual([...rows.keys()].sort(), Object.keys(ERRORS).sort());
});
