// Start-up errors point at the line, as plain `node app.js` does: a syntax
// error with file:line, the source line and a caret (CommonJS, ES modules,
// a module the entry imports); a throw at load with its stack; printed once
// under a master, which exits with it at the first start (--need-app) and
// keeps the old workers on a reload. app.listen() during load is refused
// with the fix; a .ts entry runs where Node strips types, else says which
// Node or loader would.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { delay, httpGet, tempDir } from '../helpers/index.js';
import { runToExit, TsgiProcess } from '../helpers/tsgi-process.js';
import { Master } from '../master/helpers.js';

const dir = tempDir('tsgi-start-errors-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeApp(name: string, source: string): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, source);
  return file;
}

const SYNTAX_CJS = writeApp('syntax.js', `const a = 1;\nlet x = 5 error;\nmodule.exports = () => ({ body: 'never' });\n`);
const SYNTAX_MJS = writeApp('syntax.mjs', `const a = 1;\nlet x = 5 error;\nexport default () => ({ body: 'never' });\n`);
writeApp('lib/broken.mjs', `export const ok = 1;\nexport const bad = {;\n`);
const IMPORTS_BROKEN = writeApp('imports.mjs', `import { ok } from './lib/broken.mjs';\nexport default () => ({ body: String(ok) });\n`);
const THROWS = writeApp('throws.js', `const config = {};
function connect() {
  throw new Error('DATABASE_URL is not set\\nset it in the unit file');
}
connect();
module.exports = () => ({ body: 'never' });
`);
const CARET = /\n {10}\^{5}\n\nSyntaxError: Unexpected identifier 'error'/;

test('a syntax error in a CommonJS app says file:line, the line and a caret', async () => {
  const e = await runToExit(['--http', '127.0.0.1:0', SYNTAX_CJS]);
  assert.equal(e.code, 1, e.stderr);
  assert.match(e.stderr, /syntax\.js has a syntax error:\n\S*syntax\.js:2\nlet x = 5 error;/);
  assert.match(e.stderr, CARET);
  assert.doesNotMatch(e.stderr, /node:internal/);
});

test('a syntax error in an ES module, or in a module it imports, says file:line, the line and a caret', async () => {
  const e = await runToExit(['--http', '127.0.0.1:0', SYNTAX_MJS]);
  assert.equal(e.code, 1, e.stderr);
  assert.match(e.stderr, /syntax\.mjs has a syntax error:\n\S*syntax\.mjs:2\nlet x = 5 error;/);
  assert.match(e.stderr, CARET);
  const deep = await runToExit(['--http', '127.0.0.1:0', IMPORTS_BROKEN]);
  assert.equal(deep.code, 1, deep.stderr);
  assert.match(deep.stderr, /imports\.mjs has a syntax error:\n\S*lib\/broken\.mjs:2\nexport const bad = \{;\n\s+\^\n\nSyntaxError: Unexpected token ';'/);
});

test('a throw at load shows its whole message and the app\'s stack, without Node\'s loader frames', async () => {
  const e = await runToExit(['--http', '127.0.0.1:0', THROWS]);
  assert.equal(e.code, 1, e.stderr);
  assert.match(e.stderr, /throws\.js threw while loading:\nError: DATABASE_URL is not set\nset it in the unit file\n\s+at connect \(\S*throws\.js:3:9\)\n\s+at Object\.<anonymous> \(\S*throws\.js:5:1\)/);
  assert.doesNotMatch(e.stderr, /node:internal|Module\._compile/);
});

test('--need-app (the default under --processes): the master exits 1 with the error, printed once', async () => {
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '2', SYNTAX_CJS]);
  try {
    const e = await m.waitExit(15_000);
    assert.equal(e.code, 1, e.stderr);
    assert.equal(e.stderr.split('SyntaxError: Unexpected identifier').length - 1, 1, e.stderr);
    assert.match(e.stderr, CARET);
    assert.match(e.stderr, /--need-app: stopping/);
    assert.match(e.stderr, /master exiting \(the app cannot be loaded\)/);
    assert.doesNotMatch(e.stderr, /restarting in/);
  } finally {
    await m.cleanup();
  }
});

test('--no-need-app restarts with backoff, the error printed once and "the same error" after', async () => {
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '1', '--no-need-app', THROWS]);
  try {
    await m.waitFor(/cannot load the app \(the same error as above\)/, 1, 15_000);
    assert.ok(m.running);
    assert.equal(m.log().split('DATABASE_URL is not set').length - 1, 1, m.log());
    assert.match(m.log(), /died \(code 1\) after .*before it was ready; restarting in/);
  } finally {
    await m.cleanup();
  }
});

test('a reload to a broken app keeps the old workers serving', async () => {
  const file = writeApp('reloaded.js', `module.exports = () => ({ body: 'v1' });\n`);
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '1', file]);
  try {
    await m.ready();
    fs.writeFileSync(file, `module.exports = () => ({ body: 'v2' };\n`);
    m.signal('SIGHUP');
    await m.waitFor(/cannot load the app: .*reloaded\.js has a syntax error/, 1, 10_000);
    await delay(200);
    assert.ok(m.running, m.log());
    assert.equal((await httpGet(m.port, '/')).body, 'v1');
  } finally {
    await m.cleanup();
  }
});

test('app.listen() while loading is refused with where and how to fix it, alone and under a master', async () => {
  const express = writeApp('listens.js', `const express = require(${JSON.stringify(require.resolve('express'))});
const app = express();
app.get('/', (req, res) => res.send('hi'));
app.listen(3000);
module.exports = app;
`);
  const e = await runToExit(['--http', '127.0.0.1:0', express]);
  assert.equal(e.code, 1, e.stderr);
  assert.match(e.stderr, /listens\.js calls listen\(\) at \S*listens\.js:4:5 while tsgi loads it/);
  assert.match(e.stderr, /if \(require\.main === module\) app\.listen\(3000\)/);
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '2', express]);
  try {
    const me = await m.waitExit(15_000);
    assert.equal(me.code, 1, me.stderr);
    assert.doesNotMatch(me.stderr, /Error: listen EADDRINUSE/);
    assert.equal(me.stderr.split('calls listen()').length - 1, 1, me.stderr);
  } finally {
    await m.cleanup();
  }
  const fastify = writeApp('fastify-listens.js', `const fastify = require(${JSON.stringify(require.resolve('fastify'))})();
fastify.get('/', async () => 'hi');
fastify.listen({ port: 3000 });
module.exports = fastify;
`);
  const f = await runToExit(['--http', '127.0.0.1:0', fastify]);
  assert.equal(f.code, 1, f.stderr);
  assert.match(f.stderr, /fastify-listens\.js calls listen\(\) at fastify\.listen\(\) while tsgi loads it/);
  // Guarded as the message says, the same module serves.
  const guarded = writeApp('guarded.js', fs.readFileSync(express, 'utf8').replace('app.listen(3000);', 'if (require.main === module) app.listen(3000);'));
  const p = new TsgiProcess(['--http', '127.0.0.1:0', guarded]);
  try {
    await p.ready();
    assert.equal((await httpGet(p.port, '/')).body, 'hi');
  } finally {
    await p.stop();
  }
});

test('a .ts entry runs where Node strips types, else one line says which Node or loader will', async () => {
  writeApp('ts/package.json', '{ "type": "module" }\n');
  const ts = writeApp('ts/typed.ts', `interface Reply { body: string }\nexport default (req: unknown): Reply => ({ body: 'typed' });\n`);
  const features = process.features as { typescript?: string | false };
  if (features.typescript) {
    const p = new TsgiProcess(['--http', '127.0.0.1:0', ts]);
    try {
      await p.ready();
      assert.equal((await httpGet(p.port, '/')).body, 'typed');
    } finally {
      await p.stop();
    }
    return;
  }
  const e = await runToExit(['--http', '127.0.0.1:0', ts]);
  assert.equal(e.code, 1, e.stderr);
  const lines = e.stderr.trim().split('\n');
  assert.equal(lines.length, 1, e.stderr);
  assert.match(lines[0]!, new RegExp(`typed\\.ts: Node ${process.versions.node.replace(/\./g, '\\.')} ` +
    '(cannot run TypeScript by itself: use Node 22\\.18\\+ or 23\\.6\\+|strips TypeScript types only when asked: NODE_OPTIONS=--experimental-strip-types)'));
  assert.match(lines[0]!, /NODE_OPTIONS="--import tsx"/);
});

test('a startup hook that fails under a master: its stack once, and the master exits 1', async () => {
  const app = writeApp('bad-startup.mjs', `export default () => ({ body: 'never' });
export async function startup() { throw new Error('queue unreachable'); }
`);
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '2', app]);
  try {
    const e = await m.waitExit(15_000);
    assert.equal(e.code, 1, e.stderr);
    assert.equal(e.stderr.split('Error: queue unreachable').length - 1, 1, e.stderr);
    assert.match(e.stderr, /at Object\.startup \(file:\/\/\S*bad-startup\.mjs:2:\d+\)/);
  } finally {
    await m.cleanup();
  }
});
