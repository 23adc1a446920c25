// The `tsgi` command with several apps: --mount, --vhost, the app argument as
// the "/" mount, and the one-line errors for bad or duplicate forms.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, tempDir } from '../helpers/index.js';
import { FIX } from './cli-helpers.js';
import { httpGet } from '../helpers/index.js';
import { oneLine, runToExit, TsgiProcess } from '../helpers/tsgi-process.js';
import { ask } from '../helpers/cgi-client.js';

const dir = tempDir('tsgi-mount-cli-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const F = (name: string) => path.join(FIX, name);

test('--help describes --mount, --vhost, --app-type and the detection rules', async () => {
  const r = await runToExit(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^\s+--mount PATH=MODULE\s/m);
  assert.match(r.stdout, /^\s+--vhost HOST\[PATH\]=MODULE\s/m);
  assert.match(r.stdout, /^\s+--app-type TYPE\s.*tsgi, node or fetch/m);
  assert.match(r.stdout, /default, then app, then fetch, then handler/);
  assert.match(r.stdout, /fetch\(\) method .*-> fetch handler/);
  assert.match(r.stdout, /0 parameters .*-> TSGI app/);
});

test('--mount /api=... --mount /=...: real requests reach the right app with SCRIPT_NAME and PATH_INFO', async () => {
  const r = await TsgiProcess.start(['--http', '127.0.0.1:0', '--mount', `/api=${F('named.mjs')}:api`,
    '--mount', `/admin=${F('named.cjs')}:admin`, `--mount=/=${F('tsgi.cjs')}`]);
  try {
    const port = r.port;
    assert.equal((await httpGet(port, '/api/users?x=1')).body, 'named-api /api|/users');
    assert.equal((await httpGet(port, '/api')).body, 'named-api /api|');
    assert.equal((await httpGet(port, '/apix')).body, 'tsgi-cjs |/apix');
    assert.equal((await httpGet(port, '/admin/a/b')).body, 'cjs-admin /admin|/a/b');
    assert.equal((await httpGet(port, '/')).body, 'tsgi-cjs |/');
    assert.match(r.stderr(), /^tsgi: mounted .*named\.mjs:api \(export api, TSGI app\) at \/api$/m);
    assert.match(r.stderr(), /^tsgi: serving 3 mounted apps on http:\/\//m);
  } finally {
    assert.equal((await r.terminate()).code, 0);
  }
});

test('with --mount, the app argument is the "/" mount; without a "/" mount other paths get 404', async () => {
  let r = await TsgiProcess.start(['--http', '127.0.0.1:0', '--mount', `/esm=${F('tsgi.mjs')}`, F('tsgi.cjs')]);
  try {
    assert.equal((await httpGet(r.port, '/esm/x')).body, 'tsgi-esm /esm|/x');
    assert.equal((await httpGet(r.port, '/else')).body, 'tsgi-cjs |/else');
  } finally {
    assert.equal((await r.terminate()).code, 0);
  }
  r = await TsgiProcess.start(['--http', '127.0.0.1:0', '--mount', `/esm=${F('tsgi.mjs')}`]);
  try {
    const res = await httpGet(r.port, '/else');
    assert.equal(res.status, 404);
    assert.equal(res.body, 'Not Found: no app is mounted for the path /else\n');
  } finally {
    assert.equal((await r.terminate()).code, 0);
  }
});

test('--vhost HOST=... and HOST/PATH=...: by Host header, port ignored, wildcards, else the default mounts', async () => {
  const r = await TsgiProcess.start(['--http', '127.0.0.1:0',
    '--vhost', `example.com=${F('tsgi.mjs')}`,
    '--vhost', `example.com/api=${F('named.mjs')}:api`,
    '--vhost', `*.example.com=${F('zero.cjs')}`,
    '--vhost', `Admin.Example.com/x=${F('named.cjs')}:admin`,
    F('tsgi.cjs')]);
  try {
    const port = r.port;
    assert.equal((await httpGet(port, '/p', { host: 'example.com:8080' })).body, 'tsgi-esm |/p');
    assert.equal((await httpGet(port, '/api/q', { host: 'EXAMPLE.COM' })).body, 'named-api /api|/q');
    assert.equal((await httpGet(port, '/p', { host: 'www.example.com' })).body, 'zero |/p');
    assert.equal((await httpGet(port, '/x/y', { host: 'admin.example.com' })).body, 'cjs-admin /x|/y');
    const miss = await httpGet(port, '/y', { host: 'admin.example.com' });
    assert.equal(miss.status, 404, 'a vhost with mounts only: 404 off them, not the default app');
    assert.equal((await httpGet(port, '/p', { host: 'other.test' })).body, 'tsgi-cjs |/p');
  } finally {
    assert.equal((await r.terminate()).code, 0);
  }
});

test('bad or duplicate --mount/--vhost forms: one line, exit 2, nothing served', async () => {
  const app = F('tsgi.cjs');
  const cases: Array<[string[], RegExp]> = [
    [['--mount', `api=${app}`], /--mount api=.*: mount point "api" must start with "\/"/],
    [['--mount', `/api/=${app}`], /must not end with "\/"/],
    [['--mount', '/api'], /--mount needs PATH=MODULE/],
    [['--mount', '/api='], /--mount needs PATH=MODULE/],
    [['--mount', `=${app}`], /--mount needs PATH=MODULE/],
    [['--mount', `/a=${app}`, '--mount', `/a=${app}`], /"\/a" is mounted twice: --mount \/a=.* and --mount \/a=/],
    [['--mount', `/=${app}`, app], /"\/" is mounted twice: the app argument .* and --mount \/=/],
    [['--vhost', `example.com:80=${app}`], /without a port/],
    [['--vhost', `example.com=${app}`, '--vhost', `EXAMPLE.com=${app}`], /"\/" of host example\.com is mounted twice/],
    [['--vhost', `example.com/api/=${app}`], /must not end with "\/"/],
    [['--vhost', `a.*.com=${app}`], /wildcard/],
    [['--vhost', `=${app}`], /--vhost needs HOST=MODULE/],
    [['--app-type', 'express', app], /--app-type needs one of tsgi, node, fetch, not "express"/],
  ];
  for (const [args, re] of cases) {
    const r = await runToExit(['--http', '127.0.0.1:0', ...args]);
    assert.equal(r.code, 2, `tsgi ${args.join(' ')}: ${r.stderr}`);
    assert.match(oneLine(r.stderr), re, args.join(' '));
  }
});

test('a module that fails to load under --mount: one line naming it, exit 1', async () => {
  const r = await runToExit(['--http', '127.0.0.1:0', '--mount', `/a=${F('tsgi.cjs')}`, '--mount', `/b=${F('number.mjs')}`]);
  assert.equal(r.code, 1);
  const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('tsgi: mounted '));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /number\.mjs:default is a number \(42\)/);
  const missing = await runToExit(['--http', '127.0.0.1:0', '--mount', `/a=${path.join(dir, 'nope.js')}`]);
  assert.equal(missing.code, 1);
  assert.match(oneLine(missing.stderr), /nope\.js: no such file/);
  assert.ok(fs.existsSync(path.join(ROOT, 'bin', 'tsgi')));
});

/** An SCGI request as Apache's mod_proxy_scgi sends it: the whole path as SCRIPT_NAME, no PATH_INFO. */
function apacheScgi(pathName: string): Buffer {
  const vars: Array<[string, string]> = [['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['REQUEST_METHOD', 'GET'],
    ['SCRIPT_NAME', pathName], ['REQUEST_URI', pathName], ['QUERY_STRING', ''], ['SERVER_NAME', 't'],
    ['SERVER_PORT', '80'], ['SERVER_PROTOCOL', 'HTTP/1.1'], ['REMOTE_ADDR', '127.0.0.1']];
  const head = Buffer.from(vars.map(([k, v]) => `${k}\0${v}\0`).join(''), 'latin1');
  return Buffer.concat([Buffer.from(`${head.length}:`), head, Buffer.from(',')]);
}

test('--manage-script-name: behind a front that sends the whole path as SCRIPT_NAME, mounts split it anew', async () => {
  const r = await TsgiProcess.start(['--scgi-socket', '127.0.0.1:0', '--manage-script-name',
    '--mount', `/api=${F('named.mjs')}:api`, F('tsgi.cjs')]);
  try {
    const body = async (p: string) => (await ask(r.port, 'scgi', apacheScgi(p))).body.toString();
    assert.equal(await body('/vars/a b'), 'tsgi-cjs |/vars/a b');
    assert.equal(await body('/api/users'), 'named-api /api|/users');
    assert.equal(await body('/apix'), 'tsgi-cjs |/apix');
  } finally {
    assert.equal((await r.terminate()).code, 0);
  }
  // Without it the split is the web server's: the app sees SCRIPT_NAME only.
  const plain = await TsgiProcess.start(['--scgi-socket', '127.0.0.1:0', F('tsgi.cjs')]);
  try {
    assert.equal((await ask(plain.port, 'scgi', apacheScgi('/vars'))).body.toString(), 'tsgi-cjs /vars|');
  } finally {
    assert.equal((await plain.terminate()).code, 0);
  }
});
