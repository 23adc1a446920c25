// binding.gyp (node-gyp: installs and prebuilds) and CMakeLists.txt (sanitizer
// and fuzz builds) must compile the same C++ sources, or the ASan build tests
// code that users never run. Every native/**/*.cc must be built by both, and
// each target (tsgi_core, tsgi, tsgi_loadgen, tsgi_testing) from the same list
// in both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../helpers/index.js';

type GypValue = string | number | GypValue[] | { [key: string]: GypValue };

/** binding.gyp is a Python literal: '#' comments, either quote, trailing commas. */
function parseGyp(text: string): GypValue {
  const tokens: string[] = [];
  const re = /\s+|#[^\n]*|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([{}[\]:,])|([^\s{}[\]:,'"#]+)/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < text.length && (m = re.exec(text)) !== null) {
    if (m[1] !== undefined) tokens.push('s' + m[1]);
    else if (m[2] !== undefined) tokens.push('s' + m[2]);
    else if (m[3] !== undefined) tokens.push(m[3]);
    else if (m[4] !== undefined) tokens.push('w' + m[4]);
  }
  assert.equal(re.lastIndex, text.length, `binding.gyp: cannot tokenize at offset ${re.lastIndex}`);
  let i = 0;
  const value = (): GypValue => {
    const t = tokens[i++];
    assert.ok(t !== undefined, 'binding.gyp: unexpected end');
    if (t === '{') {
      const obj: { [key: string]: GypValue } = {};
      while (tokens[i] !== '}') {
        const k = value();
        assert.equal(typeof k, 'string', 'binding.gyp: a key must be a string');
        assert.equal(tokens[i++], ':', 'binding.gyp: expected ":"');
        obj[k as string] = value();
        if (tokens[i] === ',') i++;
      }
      i++;
      return obj;
    }
    if (t === '[') {
      const arr: GypValue[] = [];
      while (tokens[i] !== ']') {
        arr.push(value());
        if (tokens[i] === ',') i++;
      }
      i++;
      return arr;
    }
    if (t.startsWith('s')) return t.slice(1);
    if (t.startsWith('w')) return Number.isNaN(Number(t.slice(1))) ? t.slice(1) : Number(t.slice(1));
    throw new assert.AssertionError({ message: `binding.gyp: unexpected "${t}"` });
  };
  const root = value();
  assert.equal(i, tokens.length, 'binding.gyp: trailing tokens');
  return root;
}

/** Every string under a "sources" key anywhere, conditions included. */
function gypSources(node: GypValue, out: string[] = []): string[] {
  if (Array.isArray(node)) {
    for (const v of node) gypSources(v, out);
  } else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (/^sources[+=?]?$/.test(k)) {
        assert.ok(Array.isArray(v), `binding.gyp: "${k}" is not a list`);
        for (const s of v) if (typeof s === 'string') out.push(s);
      } else {
        gypSources(v, out);
      }
    }
  }
  return out;
}

/** Each gyp target's sources (conditions included), top-level conditions' targets too. */
function gypTargets(node: GypValue, out = new Map<string, string[]>()): Map<string, string[]> {
  if (Array.isArray(node)) {
    for (const v of node) gypTargets(v, out);
  } else if (node !== null && typeof node === 'object') {
    if (typeof node.target_name === 'string') {
      assert.ok(!out.has(node.target_name), `binding.gyp: target ${node.target_name} twice`);
      out.set(node.target_name, gypSources(node));
    } else {
      for (const v of Object.values(node)) gypTargets(v, out);
    }
  }
  return out;
}

/** Sources shared by several addons on purpose: each links its own glibc shim. */
const PER_ADDON = ['native/compat/glibc_compat.cc'];

function stripCmakeComments(text: string): string {
  return text.split('\n').map((line) => line.replace(/#.*$/, '')).join('\n');
}

/** Items of set(VAR ...) and list(APPEND VAR ...) for the given variables. */
function cmakeLists(text: string, vars: readonly string[]): Map<string, string[]> {
  const found = new Map<string, string[]>(vars.map((v) => [v, []]));
  const re = /\b(set|list)\s*\(([^)]*)\)/gi;
  for (const m of text.matchAll(re)) {
    const words = m[2]!.trim().split(/\s+/);
    let name: string | undefined;
    let items: string[];
    if (m[1]!.toLowerCase() === 'set') {
      name = words[0];
      items = words.slice(1);
    } else {
      if (words[0] !== 'APPEND') continue;
      name = words[1];
      items = words.slice(2);
    }
    if (name === undefined || !found.has(name)) continue;
    found.get(name)!.push(...items.filter((w) => !w.startsWith('${')));
  }
  return found;
}

/** The items of every set()/list(APPEND), variables expanded. */
function cmakeVariables(text: string): Map<string, string[]> {
  const raw = new Map<string, string[]>();
  for (const m of text.matchAll(/\b(set|list)\s*\(([^)]*)\)/gi)) {
    const words = m[2]!.trim().split(/\s+/);
    if (m[1]!.toLowerCase() === 'set') raw.set(words[0]!, [...(raw.get(words[0]!) ?? []), ...words.slice(1)]);
    else if (words[0] === 'APPEND') raw.set(words[1]!, [...(raw.get(words[1]!) ?? []), ...words.slice(2)]);
  }
  const expand = (items: string[]): string[] => items.flatMap((w) => {
    const v = /^\$\{(\w+)\}$/.exec(w);
    return v ? expand(raw.get(v[1]!) ?? []) : [w];
  });
  return new Map([...raw].map(([k, v]) => [k, expand(v)]));
}

/** add_library/add_executable(NAME ...): its .cc/.c sources, variables expanded. */
function cmakeTargets(text: string): Map<string, string[]> {
  const vars = cmakeVariables(text);
  const out = new Map<string, string[]>();
  for (const m of text.matchAll(/\badd_(?:library|executable)\s*\(\s*([\w-]+)([^)]*)\)/g)) {
    const words = m[2]!.trim().split(/\s+/).flatMap((w) => {
      const v = /^\$\{(\w+)\}$/.exec(w);
      return v ? vars.get(v[1]!) ?? [] : [w];
    });
    out.set(m[1]!, words.filter((w) => /\.(cc|c)$/.test(w)));
  }
  return out;
}

function walkCc(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walkCc(p, out);
    else if (e.name.endsWith('.cc')) out.push(path.relative(ROOT, p).split(path.sep).join('/'));
  }
  return out;
}

const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

const gyp = gypSources(parseGyp(fs.readFileSync(path.join(ROOT, 'binding.gyp'), 'utf8')));
const cmakeText = stripCmakeComments(fs.readFileSync(path.join(ROOT, 'CMakeLists.txt'), 'utf8'));
const SOURCE_VARS = ['TSGI_CORE_SOURCES', 'TSGI_ADDON_SOURCES', 'TSGI_LOADGEN_ENGINE_SOURCES', 'TSGI_LOADGEN_SOURCES',
  'TSGI_TESTING_SOURCES'];
const cmakeVars = cmakeLists(cmakeText, SOURCE_VARS);
const cmake = SOURCE_VARS.flatMap((v) => cmakeVars.get(v)!);
const gypByTarget = gypTargets(parseGyp(fs.readFileSync(path.join(ROOT, 'binding.gyp'), 'utf8')));
const cmakeByTarget = cmakeTargets(cmakeText);
/** The targets both build, by the same name. */
const TARGETS = ['tsgi_core', 'tsgi', 'tsgi_loadgen', 'tsgi_testing'];

test('binding.gyp lists no source twice (but the per-addon shim once per addon)', () => {
  const dups = gyp.filter((s, i) => gyp.indexOf(s) !== i && !PER_ADDON.includes(s));
  assert.deepEqual(dups, []);
  assert.ok(gyp.length > 0, 'binding.gyp lists no sources');
  for (const [name, list] of gypByTarget) {
    assert.deepEqual(list.filter((s, i) => list.indexOf(s) !== i), [], `binding.gyp: ${name} lists a source twice`);
  }
});

test('CMakeLists.txt sets the source lists of every target, both poller variants included', () => {
  for (const v of SOURCE_VARS) assert.ok(cmakeVars.get(v)!.length > 0, `${v} is empty`);
  assert.ok(cmake.includes('native/poller/poller_epoll.cc'), 'epoll poller missing');
  assert.ok(cmake.includes('native/poller/poller_kqueue.cc'), 'kqueue poller missing');
  const dups = cmake.filter((s, i) => cmake.indexOf(s) !== i && !PER_ADDON.includes(s));
  assert.deepEqual(dups, []);
});

test('binding.gyp and CMakeLists.txt list the same sources', () => {
  assert.deepEqual(sorted(cmake), sorted(gyp),
    `CMakeLists.txt (${SOURCE_VARS.join(' + ')}) vs binding.gyp (all "sources")`);
});

test('each target is built from the same sources by binding.gyp and CMakeLists.txt', () => {
  assert.deepEqual([...gypByTarget.keys()].sort(), [...TARGETS].sort(), 'binding.gyp\'s targets');
  for (const name of TARGETS) {
    assert.ok(cmakeByTarget.has(name), `CMakeLists.txt has no target ${name}`);
    const gypList = gypByTarget.get(name)!;
    assert.ok(gypList.length > 0, `binding.gyp: ${name} has no sources`);
    assert.deepEqual(sorted(cmakeByTarget.get(name)!), sorted(gypList), `target ${name}: CMakeLists.txt vs binding.gyp`);
  }
  // The shipped addons carry no test hook and the server no load generator.
  const hooks = ['native/napi/parser_binding.cc', 'native/napi/cgi_binding.cc', 'native/napi/fastcgi_binding.cc'];
  for (const name of ['tsgi_core', 'tsgi', 'tsgi_loadgen']) {
    assert.deepEqual(gypByTarget.get(name)!.filter((s) => hooks.includes(s)), [], `${name} builds a test hook`);
  }
  assert.deepEqual(gypByTarget.get('tsgi')!.filter((s) => s.includes('loadgen')), [], 'tsgi builds the load generator');
  // The standalone load generator is the addon's engine with bench/loadgen/main.cc.
  const engine = cmakeVars.get('TSGI_LOADGEN_ENGINE_SOURCES')!;
  assert.deepEqual(sorted(cmakeByTarget.get('tsgi-loadgen') ?? []), sorted(['bench/loadgen/main.cc', ...engine]));
  assert.deepEqual(engine.filter((s) => !gypByTarget.get('tsgi_loadgen')!.includes(s)), []);
});

test('every listed source exists', () => {
  const missing = sorted([...gyp, ...cmake]).filter((s) => !fs.existsSync(path.join(ROOT, s)));
  assert.deepEqual(missing, [], 'listed in the build files but not on disk');
});

test('every native/**/*.cc is built', () => {
  const onDisk = walkCc(path.join(ROOT, 'native'));
  const listed = new Set([...gyp, ...cmake]);
  assert.deepEqual(onDisk.filter((f) => !listed.has(f)).sort(), [], 'on disk but in no build file');
});

test('CMakeLists.txt names no other .cc outside test/ (fuzz targets live there) but the load generator\'s main', () => {
  // A path with ${var} in it (a foreach over framers) must match a listed source.
  const known = (f: string) => {
    if (f.startsWith('test/') || f === 'bench/loadgen/main.cc') return true;
    const re = new RegExp('^' + f.split(/\$\{[^}]*\}/).map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('[^/]+') + '$');
    return cmake.some((listed) => re.test(listed));
  };
  const stray = sorted([...cmakeText.matchAll(/[\w./${}-]+\.cc\b/g)].map((m) => m[0])).filter((f) => !known(f));
  assert.deepEqual(stray, []);
});
