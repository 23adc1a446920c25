// The native core's folders include only downwards (docs/design.md, "Code
// map"): proto/ is pure, the loop knows no protocol's exchange, and only
// napi/ and addon.cc know JavaScript. napi/abi.h, the numbers JavaScript and
// the core share, includes nothing of ours and may be included anywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../helpers/index.js';

const NATIVE = path.join(ROOT, 'native');

// Lowest first; a folder may include its own files and those of lower layers.
// loadgen/ (tsgi bench's engine) stands beside the server: sockets and the
// poller, nothing of the server's.
const LAYERS: Record<string, number> = {
  compat: 0,
  proto: 1,
  net: 2,
  poller: 3,
  conn: 4,
  core: 5,
  exchange: 6,
  static: 6,  // beside the exchanges: it answers their requests
  loadgen: 4,
  napi: 7,
  '.': 8,  // addon.cc
};
const ANYWHERE = new Set(['napi/abi.h']);
// What each layer may not include although it is lower: the engine is no
// part of the server's core, nor the server of the engine.
const APART: Array<[string, string]> = [['loadgen', 'conn'], ['loadgen', 'proto'], ['conn', 'loadgen'],
  ['core', 'loadgen'], ['exchange', 'loadgen']];
// But the engine's WebSocket mode frames and reads with proto/ws/ (its
// client-side writer, the decoder with require_mask off, accept_key): an
// RFC 6455 codec and a SHA-1 a second time would be two to keep right.
const APART_EXCEPT = new Set(['loadgen proto/ws/']);

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.(cc|h|c)$/.test(e.name) ? [p] : [];
  });
}

function folderOf(file: string): string {
  const rel = path.relative(NATIVE, file).split(path.sep);
  return rel.length === 1 ? '.' : rel[0]!;
}

/** Every `#include "…"` of ours in the core: [including file, included path]. */
function includes(): Array<[string, string]> {
  return sources(NATIVE).flatMap((file) => {
    const text = fs.readFileSync(file, 'utf8');
    return [...text.matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)]
      .map((m) => m[1]!)
      .filter((inc) => fs.existsSync(path.join(NATIVE, inc)))  // libkqueue's own headers are not ours
      .map((inc): [string, string] => [file, inc]);
  });
}

/** Why this include breaks the layering, or undefined. */
function climbs(file: string, inc: string): string | undefined {
  if (ANYWHERE.has(inc)) return undefined;
  const from = folderOf(file);
  const to = folderOf(path.join(NATIVE, inc));
  if (!(from in LAYERS)) return `${from}/ has no layer in this test: add it`;
  if (!(to in LAYERS)) return `${to}/ has no layer in this test: add it`;
  const except = APART_EXCEPT.has(`${from} ${inc.slice(0, inc.lastIndexOf('/') + 1)}`);
  if (!except && APART.some(([a, b]) => a === from && b === to)) return `${from}/ may not include ${to}/`;
  if (from === to) return undefined;
  return LAYERS[to]! < LAYERS[from]! ? undefined : `${from}/ (layer ${LAYERS[from]}) includes ${to}/ (layer ${LAYERS[to]})`;
}

test('every native include looks down', () => {
  const all = includes();
  assert.ok(all.length > 100, `only ${all.length} includes found: is the pattern right?`);
  const bad = all.map(([f, inc]) => [f, inc, climbs(f, inc)] as const).filter(([, , why]) => why !== undefined);
  assert.deepEqual(bad.map(([f, inc, why]) => `${path.relative(ROOT, f)}: "${inc}": ${why}`), []);
});

test('napi/abi.h includes nothing of ours, and only napi/ and addon.cc include napi.h', () => {
  const abi = fs.readFileSync(path.join(NATIVE, 'napi', 'abi.h'), 'utf8');
  assert.deepEqual([...abi.matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)].map((m) => m[1]), []);
  const napiUsers = sources(NATIVE).filter((f) => /^\s*#\s*include\s+<napi\.h>/m.test(fs.readFileSync(f, 'utf8')));
  assert.ok(napiUsers.length > 0);
  for (const f of napiUsers) assert.ok(['napi', '.'].includes(folderOf(f)), `${path.relative(ROOT, f)} includes napi.h`);
});

test('the check catches a climbing include', () => {
  assert.match(climbs(path.join(NATIVE, 'proto', 'http1', 'parser.cc'), 'core/loop.h') ?? '', /proto\/ \(layer 1\) includes core\//);
  assert.match(climbs(path.join(NATIVE, 'core', 'loop.cc'), 'exchange/http1.h') ?? '', /core\/ \(layer 5\) includes exchange\//);
  assert.match(climbs(path.join(NATIVE, 'loadgen', 'worker.cc'), 'conn/connection.h') ?? '', /may not include/);
  assert.match(climbs(path.join(NATIVE, 'loadgen', 'reply.cc'), 'proto/http1/parser.h') ?? '', /may not include/);
  assert.equal(climbs(path.join(NATIVE, 'loadgen', 'ws_worker.cc'), 'proto/ws/framer.h'), undefined);
  assert.equal(climbs(path.join(NATIVE, 'exchange', 'cgi.cc'), 'core/loop.h'), undefined);
  assert.equal(climbs(path.join(NATIVE, 'proto', 'http1', 'parser.h'), 'napi/abi.h'), undefined);
});

test("static/'s rules and MIME table are pure: they include nothing of ours but each other", () => {
  const pure = ['rules.h', 'rules.cc', 'mime.h', 'mime.cc'].map((f) => path.join(NATIVE, 'static', f));
  for (const f of pure) {
    const incs = [...fs.readFileSync(f, 'utf8').matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)].map((m) => m[1]);
    assert.deepEqual(incs.filter((i) => i !== 'static/rules.h' && i !== 'static/mime.h'), [], path.relative(ROOT, f));
  }
});
