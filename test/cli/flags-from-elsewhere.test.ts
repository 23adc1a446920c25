// The options people bring from uWSGI and PaaS platforms: a misspelt flag
// gets "did you mean", uWSGI spellings with the same meaning are accepted
// (--http-socket, --module, --chdir, --env), the others are refused with the
// tsgi way to say it, and $PORT is served when no listener is given.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { httpGet, tempDir } from '../helpers/index.js';
import { oneLine, runTsgi, TsgiProcess } from '../helpers/tsgi-process.js';
import { freePort } from '../helpers/peers.js';

const dir = tempDir('tsgi-flags-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));
fs.mkdirSync(path.join(dir, 'site'));
fs.writeFileSync(path.join(dir, 'site', 'app.js'),
  `module.exports = (req) => ({ body: 'greeting ' + process.env.GREETING + ' in ' + process.cwd() });\n`);
const APP = path.join(dir, 'site', 'app.js');

test('a misspelt option gets the closest name', () => {
  for (const [typo, meant] of [['--proceses', '--processes'], ['--max-request', '--max-requests'], ['--htpp', '--http'],
    ['--shutdown-timout', '--shutdown-timeout']]) {
    const r = runTsgi([typo, '2', APP]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(oneLine(r.stderr), `tsgi: invalid command line: unknown option ${typo} (did you mean ${meant}?) (see tsgi --help)`);
  }
  const far = runTsgi(['--frobnicate', APP]);
  assert.equal(oneLine(far.stderr), 'tsgi: invalid command line: unknown option --frobnicate (see tsgi --help)');
});

test('uWSGI options tsgi does not take are refused with the tsgi way to say it', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--master'], /^tsgi: invalid command line: unknown option --master \(uWSGI's\): tsgi runs a master whenever --processes N is given: drop --master$/],
    [['--logto', '/tmp/x.log'], /^tsgi: invalid command line: unknown option --logto \(uWSGI's\): tsgi logs to stderr: redirect it \(2>>FILE\)/],
    [['--wsgi-file', 'app.js'], /--module app\.js$/],
    [['--callable', 'app'], /tsgi app\.js:name$/],
  ];
  for (const [args, re] of cases) {
    const r = runTsgi(['--http', '127.0.0.1:0', ...args, APP]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(oneLine(r.stderr), re);
  }
  // The same in a config file (where typos got "did you mean" already).
  const ini = path.join(dir, 'uwsgi.ini');
  fs.writeFileSync(ini, '[tsgi]\nmaster = true\n');
  const r = runTsgi(['--config', ini, APP]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /unknown option "master" \(uWSGI's\): tsgi runs a master whenever --processes N is given/);
});

test('--http-socket, --module, --chdir and --env mean what they mean in uWSGI', async () => {
  const p = new TsgiProcess(['--chdir', dir, '--http-socket', '127.0.0.1:0', '--env', 'GREETING=hello', '--module', 'site/app.js']);
  try {
    await p.ready();
    const r = await httpGet(p.port, '/');
    assert.equal(r.body, `greeting hello in ${fs.realpathSync(dir)}`);
  } finally {
    await p.stop();
  }
  // Under a master the workers start in that directory with that environment.
  const m = new TsgiProcess(['--chdir', dir, '--http-socket', '127.0.0.1:0', '--processes', '2', '--env', 'GREETING=hi',
    'site/app.js']);
  try {
    await m.waitFor(/^tsgi: 2 workers ready$/);
    await m.ready();
    assert.equal((await httpGet(m.port, '/')).body, `greeting hi in ${fs.realpathSync(dir)}`);
  } finally {
    await m.stop();
  }
  const bad = runTsgi(['--http', '127.0.0.1:0', '--env', 'NOEQUALS', APP]);
  assert.equal(oneLine(bad.stderr), 'tsgi: --env needs NAME=VALUE, not "NOEQUALS"');
  const two = runTsgi(['--http', '127.0.0.1:0', '--module', APP, APP]);
  assert.match(oneLine(two.stderr), /one app module only/);
});

test('$PORT is served on every interface when no listener is given, and only then', async () => {
  const port = await freePort();
  const p = new TsgiProcess([APP], { env: { PORT: String(port), GREETING: 'paas' } });
  try {
    await p.serving();
    assert.match(p.log(), new RegExp(`^tsgi: no listener given: HTTP on 0\\.0\\.0\\.0:${port} \\(from \\$PORT\\)$`, 'm'));
    assert.deepEqual(p.where, [`http://0.0.0.0:${port}`]);
    assert.match((await httpGet(port, '/')).body, /^greeting paas/);
  } finally {
    await p.stop();
  }
  // A listener on the command line wins: PORT is not bound.
  const q = new TsgiProcess(['--http', '127.0.0.1:0', APP], { env: { PORT: String(port) } });
  try {
    await q.ready();
    assert.notEqual(q.port, port);
    assert.doesNotMatch(q.log(), /from \$PORT/);
  } finally {
    await q.stop();
  }
  const bad = runTsgi([APP], { env: { PORT: 'eighty' } });
  assert.equal(bad.code, 2);
  assert.equal(oneLine(bad.stderr), 'tsgi: PORT="eighty" is not a TCP port (1-65535); unset it or give --http ADDR');
});
