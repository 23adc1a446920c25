// The N-API contract has one file on each side: native/napi/abi.h (exported
// by addon.cc as binding.abi) and src/native/abi.ts, the one TypeScript file
// that reads it. This keeps the two in step and the numbers out of every
// other file in src/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { binding } from 'tsgi/native';
import { ROOT } from '../helpers/index.js';

interface AbiModule {
  ABI_KEYS: Record<string, readonly string[]>;
  [table: string]: unknown;
}

const abi = createRequire(__filename)(join(ROOT, 'dist', 'native', 'abi.js')) as AbiModule;
const exported = binding.abi as Record<string, Record<string, number>>;

test('abi.ts declares exactly the lists and keys the addon exports, in its order', () => {
  assert.deepEqual(Object.keys(abi.ABI_KEYS).sort(), Object.keys(exported).sort(), 'lists');
  for (const [list, keys] of Object.entries(abi.ABI_KEYS)) {
    assert.deepEqual([...keys], Object.keys(exported[list]!), `binding.abi.${list}`);
  }
});

test('every value abi.ts hands out is the addon\'s', () => {
  const tables: Record<string, string> = {
    events: 'EVENTS', eventSlots: 'EVENT_SLOTS', record: 'RECORD', pair: 'PAIR', recordFlags: 'RECORD_FLAGS',
    reply: 'REPLY', replyFlags: 'REPLY_FLAGS', upgrades: 'UPGRADES', wsFlags: 'WS_FLAGS', protocols: 'PROTOCOLS',
  };
  assert.deepEqual(Object.keys(tables).sort(), Object.keys(exported).sort());
  for (const [list, name] of Object.entries(tables)) {
    assert.deepEqual({ ...(abi[name] as object) }, exported[list], `${name} is binding.abi.${list}`);
  }
});

test('the numbers are sane: flags are distinct bits, words and codes distinct', () => {
  const flags = Object.values(exported.recordFlags!);
  for (const f of flags) assert.ok(f > 0 && (f & (f - 1)) === 0, `record flag ${f} is one bit`);
  for (const list of ['events', 'record', 'pair', 'recordFlags', 'reply', 'replyFlags', 'protocols']) {
    const values = Object.values(exported[list]!);
    assert.equal(new Set(values).size, values.length, `binding.abi.${list} has distinct values`);
  }
});

// Copies of the contract as they were written before abi.ts: a listen() with a
// protocol number, a name -> id table, W_/F_/FLAG_ constants set to numbers,
// reply codes, flags tested against a literal, a record word or pair field
// read at a literal offset (rec + 20, at + 3; a slice's length at WORD + 1
// is fine), an event or pair stride written as a number (4 * i), and the
// raw binding.abi or binding.events.
const RULES: [string, RegExp][] = [
  ['a protocol id', /\bprotocol:\s*\d/],
  ['a protocol table', /\b(?:http|uwsgi|scgi|fastcgi):\s*\d/],
  ['a numbered contract constant', /\b(?:W|F|FLAG|EV|REC|R)_[A-Z0-9_]+\s*=\s*[\d(]/],
  ['a reply code', /\b(?:GONE|OK|FULL|OVERFLOW)\s*=\s*\d/],
  ['a flag tested by number', /\bflags\s*&\s*(?:0x|\d|\(?\s*1\s*<<)/],
  ['a record word by number', /\bu32\[\s*[\w.]+\s*\+\s*\d+\s*\]/],
  ['an event or pair stride', /[+[]\s*\d+\s*\*\s*[A-Za-z_]/],
  ['the raw contract', /\bbinding\.(?:abi|events)\b/],
];

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

test('no file in src/ but native/abi.ts writes a contract number', () => {
  const src = join(ROOT, 'src');
  const files = tsFiles(src).filter((f) => relative(src, f) !== join('native', 'abi.ts'));
  assert.ok(files.length > 20, 'src/ not found');
  const found: string[] = [];
  for (const file of files) {
    readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      for (const [what, re] of RULES) {
        if (re.test(line)) found.push(`${relative(ROOT, file)}:${i + 1}: ${what}: ${line.trim()}`);
      }
    });
  }
  assert.deepEqual(found, [], `import these from src/native/abi.ts:\n${found.join('\n')}`);
});

test('the scan would have caught the copies abi.ts replaced', () => {
  const copies = [
    "const r = native.listen({ address: spec.address, protocol: 0, mode: socketMode ?? 0,",
    'export const PROTOCOLS = { http: 0, uwsgi: 1, scgi: 2, fastcgi: 3 } as const;',
    'const W_HEAD = 0, W_FLAGS = 1, W_PEER = 14, W_PEER_PORT = 16,',
    'export const F_NO_BODY = 1 << 16;',
    'const GONE = 0, FULL = 2, OVERFLOW = 3;',
    'const FLAG_END = 1, FLAG_CLOSE = 2, FLAG_NO_DATE = 4;',
    'const listener = listeners[u32[rec + 20]!]!;',
    'const value = latin1(this.buf, vOff, vOff + this.u32[at + 3]!);',
    'const at = this.w + W_HEADERS + 4 * i;',
    'const type = ev[4 * i]!;',
    'if (req.flags & 0x20000) return;',
    'const EV = binding.events;',
  ];
  for (const line of copies) assert.ok(RULES.some(([, re]) => re.test(line)), line);
  for (const line of ['const at = w + RECORD.PAIRS + PAIR.SIZE * i;', 'len: this.u32[this.w + W_PEER + 1]!,',
    'SIZE: 64 + 2 * 1024,', 'const u = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength >>> 2);']) {
    assert.ok(!RULES.some(([, re]) => re.test(line)), `false alarm: ${line}`);
  }
});
