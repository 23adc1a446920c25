// src/ is built in layers that only look down (docs/design.md, "Layers of
// src/"): a folder imports from its own layer or those below it, never from
// one above, and no two folders import each other, however indirectly.
// Every relative import, export-from, import() and require() counts,
// type-only ones too: a type that climbs still ties a lower layer to a
// higher one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../helpers/index.js';

/** Lowest first. A unit is a folder of src/, or a file at its top (without .ts). */
const LAYERS: readonly (readonly string[])[] = [
  ['tsgi', 'errors', 'version'],
  ['native'],
  ['server'],
  ['adapters'],
  ['dispatch'],
  ['cgi', 'stats', 'http'],
  ['master'],
  ['cli'],
  ['index', 'register'],
];

const SRC = path.join(ROOT, 'src');
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]*)['"]/gm;

function rank(unit: string): number {
  return LAYERS.findIndex((layer) => layer.includes(unit));
}

/** The unit a path under src/ belongs to: its first folder, or its own name at the top. */
function unitOf(rel: string): string {
  const parts = rel.split('/');
  return parts.length > 1 ? parts[0]! : parts[0]!.replace(/\.(?:d\.)?[cm]?[jt]s$/, '');
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (/\.[cm]?ts$/.test(e.name)) out.push(p);
  }
  return out;
}

interface Edge { from: string; to: string; file: string; spec: string }

/** Every import between two units, with the file and specifier that make it. */
function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of sources(SRC)) {
    const rel = path.relative(SRC, file).split(path.sep).join('/');
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(SPECIFIER)) {
      const spec = m[1]!;
      const target = path.relative(SRC, path.resolve(path.dirname(file), spec)).split(path.sep).join('/');
      assert.ok(!target.startsWith('..'), `${rel} imports ${spec}, outside src/`);
      out.push({ from: unitOf(rel), to: unitOf(target), file: rel, spec });
    }
  }
  return out;
}

test('every folder of src/ and file at its top has a layer', () => {
  const units = new Set(fs.readdirSync(SRC).map((name) => unitOf(name)));
  for (const unit of units) assert.notEqual(rank(unit), -1, `src/${unit} is in no layer: add it to LAYERS and docs/design.md`);
  for (const unit of LAYERS.flat()) assert.ok(units.has(unit), `LAYERS names ${unit}, which src/ does not have`);
});

test('the import scan finds the imports it is meant to', () => {
  // The scanner itself: each form a source file uses, and nothing in a comment's prose.
  const text = [
    "import { a } from '../server/serve.js';",
    "import type { B } from './b.js';",
    "export { c } from '../cli/c.js';",
    "import './side-effect.js';",
    "const d = require('../dispatch/load-app.js') as typeof import('../dispatch/load-app.js');",
    "const e = await import('../stats/server.js');",
    "import * as fs from 'node:fs';",
  ].join('\n');
  const found = [...text.matchAll(SPECIFIER)].map((m) => m[1]);
  assert.deepEqual(found, ['../server/serve.js', './b.js', '../cli/c.js', './side-effect.js',
    '../dispatch/load-app.js', '../dispatch/load-app.js', '../stats/server.js']);
  assert.ok(edges().length > 100, 'the scan of src/ found too few imports to be reading it');
});

test('no import climbs to a higher layer', () => {
  const climbing = edges()
    .filter((e) => rank(e.to) > rank(e.from))
    .map((e) => `src/${e.file} (${e.from}) imports ${e.spec} (${e.to}, a higher layer)`);
  assert.deepEqual([...new Set(climbing)], []);
});

test('no two folders import each other, directly or through others', () => {
  const graph = new Map<string, Map<string, string>>();
  for (const e of edges()) {
    if (e.from === e.to) continue;
    const next = graph.get(e.from) ?? new Map<string, string>();
    if (!next.has(e.to)) next.set(e.to, `src/${e.file} imports ${e.spec}`);
    graph.set(e.from, next);
  }
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (unit: string): void => {
    state.set(unit, 'open');
    stack.push(unit);
    for (const [to, why] of graph.get(unit) ?? []) {
      if (state.get(to) === 'open') {
        const loop = stack.slice(stack.indexOf(to));
        cycles.push(`${[...loop, to].join(' -> ')} (closed by ${why})`);
      } else if (state.get(to) === undefined) {
        visit(to);
      }
    }
    stack.pop();
    state.set(unit, 'done');
  };
  for (const unit of [...graph.keys()].sort()) if (state.get(unit) === undefined) visit(unit);
  assert.deepEqual(cycles, []);
});
