// `tsgi bench` against servers that are not tsgi: nginx (HTTP, `return 200`),
// php-fpm (FastCGI, kept connections and one per request), uWSGI with the
// python3 plugin (uwsgi and SCGI). Each is started on loopback in a temp dir
// and stopped by its PID. In CI the peers must be installed (.ci/run).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { ROOT, have, requirePeer, tempDir, until } from '../helpers/index.js';
import { freePort, startNginx } from '../helpers/peers.js';
import { bench, result, stopChild } from './helpers.js';

const HELLO = 'Hello, World!\n';
const dir = tempDir('tsgi-bench-peers-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const PHP_FPM = ['/usr/sbin/php-fpm8.2', 'php-fpm8.2', 'php-fpm'].find((p) => p.startsWith('/') ? fs.existsSync(p) : have(p));

/** Starts `command`; resolves once `ready()` holds, stops it (by PID) after `body`. */
async function withProcess(command: string, args: string[], ready: () => boolean, body: () => Promise<void>): Promise<void> {
  let out = '';
  const child = spawn(command, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => { out += d; });
  child.stderr!.on('data', (d: Buffer) => { out += d; });
  try {
    await until(() => { if (child.exitCode !== null) throw new Error(`${command} exited:\n${out}`); return ready(); },
      10_000, `${command} to start:\n${out}`);
    await body();
  } finally {
    await stopChild(child);
  }
}

test('nginx `return 200` over HTTP: every reply counts, kept connections, pipelined too', async (t) => {
  if (!requirePeer(t, 'nginx', 'nginx-light')) return;
  const port = await freePort();
  const nginx = await startNginx(dir, async () => [{
    port, config: `server { listen 127.0.0.1:${port}; access_log off; keepalive_requests 1000000;\n` +
      `  location / { default_type text/plain; return 200 "${HELLO.replace('\n', '\\n')}"; } }`,
  }]);
  try {
    const r = result(await bench(['-c', '16', '-d', '1s', '--expect-body-length', '14', `127.0.0.1:${port}`]));
    assert.equal(r.errors.total, 0, JSON.stringify(r.errors));
    assert.ok(r.requests > 100, `${r.requests}`);
    assert.equal(r.connects, 16);
    const p = result(await bench(['-c', '4', '--pipeline', '8', '-n', '2000', '--expect-body-length', '14', `http://127.0.0.1:${port}/`]));
    assert.equal(p.requests, 2000, JSON.stringify(p.errors));
    const e = result(await bench(['-c', '2', '-n', '20', `127.0.0.1:${port}`, '/']));
    assert.equal(e.requests, 20);
    const wrong = result(await bench(['-c', '2', '-n', '20', '--expect-status', '204', `127.0.0.1:${port}`]));
    assert.equal(wrong.requests, 0);
    assert.equal(wrong.errors.status, 20);
  } finally {
    await nginx.stop();
  }
});

test('php-fpm over FastCGI: kept connections and one request per connection', async (t) => {
  if (PHP_FPM === undefined) {
    if (process.env.CI) throw new Error('php-fpm is required in CI (apt-get install php-fpm)');
    t.skip('php-fpm not found: apt-get install php-fpm');
    return;
  }
  const sock = path.join(dir, 'php.sock');
  const script = path.join(dir, 'hello.php');
  fs.copyFileSync(path.join(ROOT, 'bench', 'servers', 'hello.php'), script);
  const conf = path.join(dir, 'php-fpm.conf');
  // As bench/run-fastcgi.mjs: foreground, a static pool; as many children as
  // kept connections (a child serves one kept connection until it closes).
  fs.writeFileSync(conf, `[global]\npid = ${dir}/php-fpm.pid\nerror_log = ${dir}/php-fpm.log\ndaemonize = no\n\n` +
    `[bench]\n${process.getuid?.() === 0 ? 'user = root\ngroup = root\n' : ''}listen = ${sock}\n` +
    'pm = static\npm.max_children = 4\n');
  await withProcess(PHP_FPM, ['-F', '-R', '-y', conf, '-p', dir], () => fs.existsSync(sock), async () => {
    const common = ['-p', 'fastcgi', '--param', `SCRIPT_FILENAME=${script}`, '--expect-body-length', '14'];
    const kept = result(await bench([...common, '-c', '4', '-d', '1s', `unix:${sock}`, '/hello.php']));
    assert.equal(kept.errors.total, 0, JSON.stringify(kept.errors));
    assert.ok(kept.requests > 20, `${kept.requests}`);
    assert.equal(kept.connects, 4);
    const per = result(await bench([...common, '-c', '4', '--no-keep-conn', '-n', '200', `fastcgi://${sock}`, '/hello.php']));
    assert.equal(per.requests, 200, JSON.stringify(per.errors));
    assert.ok(per.connects >= 200);
    // A script that does not exist: php-fpm answers "Status: 404 Not Found".
    const missing = result(await bench(['-p', 'fastcgi', '-c', '2', '-n', '10', '--param', `SCRIPT_FILENAME=${dir}/none.php`,
      `unix:${sock}`, '/none.php']));
    assert.equal(missing.requests, 0);
    assert.equal(missing.errors.status, 10);
  });
});

test('uWSGI (python3 plugin) over uwsgi and SCGI: one request per connection, every reply counts', async (t) => {
  if (!requirePeer(t, 'uwsgi', 'uwsgi-core uwsgi-plugin-python3')) return;
  const [u, s] = await Promise.all([freePort(), freePort()]);
  const args = ['--plugin', 'python3', '--wsgi-file', path.join(ROOT, 'bench', 'servers', 'hello_wsgi.py'),
    '--processes', '1', '--disable-logging', '--need-app', '--die-on-term', '--socket', `127.0.0.1:${u}`,
    '--scgi-socket', `127.0.0.1:${s}`];
  // uWSGI takes connections once it has bound; a one-request run is the probe.
  await withProcess('uwsgi', args, () => true, async () => {
    for (const [proto, port] of [['uwsgi', u], ['scgi', s]] as const) {
      let r = result(await bench(['-p', proto, '-n', '1', '--timeout', '5s', `127.0.0.1:${port}`]));
      for (let i = 0; i < 50 && r.requests === 0; i++) {
        await new Promise((res) => setTimeout(res, 100));
        r = result(await bench(['-p', proto, '-n', '1', '--timeout', '5s', `127.0.0.1:${port}`]));
      }
      assert.equal(r.requests, 1, `${proto}: ${JSON.stringify(r.errors)}`);
      const load = result(await bench(['-p', proto, '-c', '8', '-d', '1s', '--expect-body-length', '14', `127.0.0.1:${port}`]));
      assert.equal(load.errors.total, 0, `${proto}: ${JSON.stringify(load.errors)}`);
      assert.ok(load.requests > 20, `${proto}: ${load.requests}`);
      assert.ok(load.connects >= load.requests);
    }
  });
});
