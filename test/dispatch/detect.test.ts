// How `tsgi` tells the kind of app a module exports: TSGI, a Node listener
// (plain, Express, Koa instance, koa.callback(), Fastify) or a fetch handler
// (Hono, { fetch }, a function named fetch); which export it takes; what
// --app-type forces; and the one-line error for anything else. The adapters'
// own behaviour is tested beside them: here, that the right one is picked
// and a request goes through it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { FIX } from './cli-helpers.js';
import { httpGet } from '../helpers/index.js';
import { oneLine, runToExit, TsgiProcess } from '../helpers/tsgi-process.js';

const F = (name: string) => path.join(FIX, name);

/** Module, the kind tsgi must report, the export it must pick, the body's first word. */
const KINDS: Array<[string, string, string, string]> = [
  ['tsgi.cjs', 'TSGI app', 'default', 'tsgi-cjs'],
  ['tsgi.mjs', 'TSGI app', 'default', 'tsgi-esm'],
  ['zero.cjs', 'TSGI app', 'default', 'zero'],
  ['handler.mjs', 'TSGI app', 'handler', 'handler'],
  ['named.cjs', 'TSGI app', 'app', 'cjs-app'],
  ['listener.cjs', 'Node listener', 'default', 'listener'],
  ['express.cjs', 'Node listener', 'default', 'express'],
  ['koa.mjs', 'Node listener', 'default', 'koa'],
  ['koa-callback.cjs', 'Node listener', 'default', 'koa-callback'],
  ['fastify.cjs', 'Node listener', 'default', 'fastify'],
  ['hono.mjs', 'fetch handler', 'default', 'hono'],
  ['fetch-object.cjs', 'fetch handler', 'default', 'fetch-object'],
  ['fetch-named.mjs', 'fetch handler', 'fetch', 'fetch-named'],
];

test('every kind of app, ESM and CommonJS, each under its own mount point in one server', async () => {
  const mounts = KINDS.flatMap(([file], i) => ['--mount', `/m${i}=${F(file)}`]);
  const r = await TsgiProcess.start(['--http', '127.0.0.1:0', ...mounts]);
  try {
    for (const [i, [file, kind, exportName, word]] of KINDS.entries()) {
      const line = new RegExp(`^tsgi: mounted \\S*${file.replace('.', '\\.')} \\(export ${exportName}, ${kind}\\) at /m${i}$`, 'm');
      assert.match(r.stderr(), line, `${file} recognised as ${kind}`);
      const res = await httpGet(r.port, `/m${i}/hello`);
      assert.equal(res.status, 200, `${file}: ${res.head}\n${res.body}`);
      assert.equal(res.body.split(' ')[0], word, `${file} answered ${JSON.stringify(res.body)}`);
      // Each sees the path below its mount point: a framework as its URL
      // (Express matches its own /hello route), a TSGI app as PATH_INFO.
      assert.ok(!res.body.includes(`/m${i}/`) || kind === 'TSGI app', `${file} saw the mount point: ${res.body}`);
      if (kind === 'TSGI app' && word !== 'zero' && word !== 'handler' && word !== 'cjs-app') {
        assert.ok(res.body.endsWith(`/m${i}|/hello`), `${file}: SCRIPT_NAME|PATH_INFO in ${res.body}`);
      }
    }
  } finally {
    assert.equal((await r.terminate()).code, 0);
  }
});

test('served alone at the root, each kind sees the request path', async () => {
  // One process per kind; the path each framework reports is the request's.
  const alone: Array<[string, string, RegExp | undefined]> = [
    ['express.cjs', 'express /some/path?q=1', /is a Node listener/],
    ['koa.mjs', 'koa /some/path?q=1', /is a Node listener/],
    ['fastify.cjs', 'fastify /some/path?q=1', /is a Node listener/],
    ['hono.mjs', 'hono /some/path', /is a fetch handler/],
    ['fetch-object.cjs', 'fetch-object /some/path', /is a fetch handler/],
    ['tsgi.mjs', 'tsgi-esm |/some/path', undefined],
  ];
  for (const [file, body, line] of alone) {
    const r = await TsgiProcess.start(['--http', '127.0.0.1:0', F(file)]);
    try {
      const res = await httpGet(r.port, '/some/path?q=1');
      assert.equal(res.status, 200, `${file}: ${res.head}`);
      assert.equal(res.body, body, file);
      if (line) assert.match(r.stderr(), line, file);
      else assert.doesNotMatch(r.stderr(), /is a /, `${file}: a TSGI app needs no note`);
    } finally {
      assert.equal((await r.terminate()).code, 0, file);
    }
  }
});

test('"module:name" picks a named export of any kind', async () => {
  const cases: Array<[string, string]> = [
    ['named.mjs:api', 'named-api |/n'],
    ['named.mjs:hono', 'named-hono /n'],
    ['named.mjs:listener', 'named-listener /n'],
    ['named.mjs:default', 'named-default /n'],
    ['named.mjs', 'named-default /n'],
    ['named.cjs:admin', 'cjs-admin |/n'],
  ];
  const mounts = cases.flatMap(([spec], i) => ['--mount', `/${i}=${F(spec)}`]);
  const r = await TsgiProcess.start(['--http', '127.0.0.1:0', ...mounts]);
  try {
    for (const [i, [spec, body]] of cases.entries()) {
      const res = await httpGet(r.port, `/${i}/n`);
      // Under a mount, TSGI apps see PATH_INFO; the body's path part depends on the adapter.
      assert.equal(res.body.split(' ')[0], body.split(' ')[0], spec);
    }
  } finally {
    assert.equal((await r.terminate()).code, 0);
  }
  for (const [spec, body] of cases) {
    const alone = await TsgiProcess.start(['--http', '127.0.0.1:0', F(spec)]);
    try {
      assert.equal((await httpGet(alone.port, '/n')).body, body, spec);
    } finally {
      assert.equal((await alone.terminate()).code, 0);
    }
  }
});

test('--app-type forces the kind', async () => {
  // A bare fetch function of one parameter is TSGI by the rules (and fails as
  // one: a Response is no reply); --app-type fetch serves it.
  let r = await TsgiProcess.start(['--http', '127.0.0.1:0', F('fetch-plain.cjs')]);
  try {
    assert.equal((await httpGet(r.port, '/x')).status, 500);
  } finally {
    await r.terminate();
  }
  r = await TsgiProcess.start(['--http', '127.0.0.1:0', '--app-type', 'fetch', F('fetch-plain.cjs')]);
  try {
    assert.equal((await httpGet(r.port, '/x')).body, 'fetch-plain /x');
    assert.match(r.stderr(), /is a fetch handler/);
  } finally {
    assert.equal((await r.terminate()).code, 0);
  }
  // A listener that declares no parameters is TSGI by the rules; --app-type=node serves it.
  r = await TsgiProcess.start(['--http', '127.0.0.1:0', F('listener-args.cjs')]);
  try {
    assert.equal((await httpGet(r.port, '/x')).body, 'called as TSGI');
  } finally {
    await r.terminate();
  }
  r = await TsgiProcess.start(['--http', '127.0.0.1:0', '--app-type=node', F('listener-args.cjs')]);
  try {
    assert.equal((await httpGet(r.port, '/x')).body, 'listener-args /x');
    assert.match(r.stderr(), /is a Node listener/);
  } finally {
    assert.equal((await r.terminate()).code, 0);
  }
  // --app-type tsgi takes a (req, res) function as TSGI: it is called with one argument.
  r = await TsgiProcess.start(['--http', '127.0.0.1:0', '--app-type', 'tsgi', F('listener.cjs')]);
  try {
    assert.equal((await httpGet(r.port, '/x')).status, 500);
    assert.doesNotMatch(r.stderr(), /is a /);
  } finally {
    await r.terminate();
  }
});

test('--app-type that cannot apply: one line naming what was found, exit 1', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--app-type', 'tsgi', F('hono.mjs')], /hono\.mjs:default is an object \(Hono\) with keys .*--app-type tsgi/],
    [['--app-type', 'fetch', F('koa.mjs')], /koa\.mjs:default is an object \(Application\).*--app-type fetch/],
    [['--app-type', 'node', F('number.mjs')], /number\.mjs:default is a number \(42\).*--app-type node/],
  ];
  for (const [args, re] of cases) {
    const r = await runToExit(['--http', '127.0.0.1:0', ...args]);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(oneLine(r.stderr), re);
  }
});

test('not an app: one line naming what the module exports, exit 1', async () => {
  const cases: Array<[string, RegExp]> = [
    ['number.mjs', /number\.mjs:default is a number \(42\); expected a TSGI app \(req\) => reply, a Node listener/],
    ['named.mjs:count', /named\.mjs:count is a number \(42\); expected/],
    ['named.mjs:nope', /named\.mjs has no export named "nope" \(it exports api, count, default, hono, listener\)/],
    ['named.cjs:nope', /named\.cjs has no export named "nope" \(it exports admin, app, default\)/],
    ['nothing.cjs', /nothing\.cjs:default is an object with keys version, name; expected/],
  ];
  for (const [spec, re] of cases) {
    const r = await runToExit(['--http', '127.0.0.1:0', F(spec)]);
    assert.equal(r.code, 1, spec);
    const line = oneLine(r.stderr);
    assert.match(line, /^tsgi: the module does not export an app: /);
    assert.match(line, re, spec);
  }
});
