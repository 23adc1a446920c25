// docs/migrate.md and the README's "Use tsgi in your project" name tsgi's
// flags and commands: every flag they name is one tsgi takes (bar the few
// that are PM2's or node's), and the command lines they show parse.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/index.js';
import { runTsgi } from '../helpers/tsgi-process.js';

const NOT_TSGI = new Set(['--max-restarts', '--require', '--import']);  // PM2's and node's, named as what they map from

test('every flag docs/migrate.md names is one of tsgi\'s', () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'migrate.md'), 'utf8');
  const help = runTsgi(['--help']).stdout;
  assert.match(help, /--processes/);
  const named = [...new Set(doc.match(/--[a-z][a-z-]*/g) ?? [])].filter((f) => !NOT_TSGI.has(f));
  assert.ok(named.length > 15, `only ${named.length} flags found`);
  for (const f of named) assert.match(help, new RegExp(`${f}\\b`), `docs/migrate.md names ${f}, which tsgi --help does not have`);
});

test('the command lines of docs/migrate.md and the README\'s start script parse', () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'migrate.md'), 'utf8');
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = /"start": "tsgi ([^"]+)"/.exec(readme);
  assert.ok(start, 'README has no "start": "tsgi ..." script');
  const lines = [...doc.matchAll(/^tsgi (--http [^#\n]*?)\s*(?:#.*)?$/gm)].map((m) => m[1]!);
  assert.ok(lines.length >= 2, 'no tsgi command lines in docs/migrate.md');
  for (const l of [start[1]!, ...lines]) {
    const r = runTsgi([...l.split(/\s+/), '--print-config']);
    assert.equal(r.code, 0, `tsgi ${l}: ${r.stderr}`);
  }
});
