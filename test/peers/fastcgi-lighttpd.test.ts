// lighttpd's mod_fastcgi in front of tsgi, with the two snippets of
// docs/deploy.md: "bin-path", where lighttpd creates the socket and starts
// `node bin/tsgi app.js` itself with it on fd 0 (tsgi finds it there and
// serves FastCGI), "socket", to a tsgi started separately, and "mode" =>
// "authorizer", where tsgi decides who gets a static file lighttpd serves.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { alive, delay, have, requirePeer, ROOT, tempDir, until } from '../helpers/index.js';
import { serve, type ServerHandle } from 'tsgi';
import {
  childrenOf, fetchRaw, fillSnippet, freePort, startFcgiBackend, startLighttpd, UPLOAD_BYTES, type FcgiBackend, type Peer,
} from '../helpers/peers.js';

const SPAWNED_APP = `
module.exports = async (req) => {
  if (req.PATH_INFO === '/hello') return { headers: { 'Content-Type': 'text/plain' }, body: 'hello from a spawned tsgi\\n' };
  const body = await req.body.text();
  return {
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      protocol: req.tsgi.protocol, method: req.REQUEST_METHOD, script: req.SCRIPT_NAME, path: req.PATH_INFO,
      query: req.QUERY_STRING, contentLength: req.CONTENT_LENGTH, contentType: req.CONTENT_TYPE,
      pid: process.pid, ppid: process.ppid, body,
    }),
  };
};
`;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('lighttpd mod_fastcgi', () => {
  const present = have('lighttpd');
  const need = (t: { skip(msg?: string): void }) => present || requirePeer(t, 'lighttpd', 'lighttpd');
  let dir = '';
  let backend: FcgiBackend | undefined;
  let spawner: Peer | undefined;
  let proxy: Peer | undefined;
  let authorizer: Peer | undefined;
  let authServer: ServerHandle | undefined;
  const authSeen: Array<{ role: string | null; uri: string }> = [];
  const ports = { spawn: 0, socket: 0, auth: 0 };
  let spawnedPids: number[] = [];

  before(async () => {
    if (!present) return;
    dir = tempDir('tsgi-lighttpd-');
    const app = path.join(dir, 'app.js');
    fs.writeFileSync(app, SPAWNED_APP);
    fs.mkdirSync(path.join(dir, 'spawn'));
    fs.mkdirSync(path.join(dir, 'socket'));
    fs.mkdirSync(path.join(dir, 'backend'));
    fs.mkdirSync(path.join(dir, 'auth'));
    fs.mkdirSync(path.join(dir, 'www', 'private'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'www', 'private', 'file.txt'), 'the static file\n');
    spawner = await startLighttpd(path.join(dir, 'spawn'), async () => {
      ports.spawn = await freePort();
      return {
        port: ports.spawn,
        config: fillSnippet('lighttpd-fastcgi-spawn', {
          '/usr/local/bin/tsgi': `${process.execPath} ${path.join(ROOT, 'bin', 'tsgi')}`,
          '/srv/app/app.js': app,
          '/run/app.sock': path.join(dir, 'spawn', 'app.sock'),
        }),
      };
    });
    backend = startFcgiBackend(path.join(dir, 'backend'));
    proxy = await startLighttpd(path.join(dir, 'socket'), async () => {
      ports.socket = await freePort();
      return { port: ports.socket, config: fillSnippet('lighttpd-fastcgi-socket', { '/run/app.sock': backend!.fcgiSock }) };
    });
    const authSock = path.join(dir, 'auth', 'auth.sock');
    authServer = serve((req) => {
      authSeen.push({ role: req.tsgi.role ?? null, uri: req.REQUEST_URI });
      if (req.tsgi.role === 'authorizer' && req.header('authorization') === 'Bearer good') {
        return { status: 200, headers: { 'Variable-USER': 'alice' }, body: '' };
      }
      return { status: 403, headers: { 'Content-Type': 'text/plain' }, body: `denied ${req.REQUEST_URI}\n` };
    }, { listen: `fastcgi://${authSock}`, log: () => {} });
    authorizer = await startLighttpd(path.join(dir, 'auth'), async () => {
      ports.auth = await freePort();
      return {
        port: ports.auth,
        config: fillSnippet('lighttpd-fastcgi-authorizer', { '/run/app.sock': authSock, '/srv/www': path.join(dir, 'www') }),
      };
    });
  });

  after(async () => {
    await authorizer?.stop();
    await authServer?.close(2000);
    await proxy?.stop();
    if (spawner) {
      spawnedPids = [...spawnedPids, ...childrenOf(spawner.pid)];
      await spawner.stop();
    }
    // lighttpd stops the tsgi it started; whatever is left is killed here, by PID.
    await until(() => spawnedPids.every((p) => !alive(p)), 5000, 'the spawned tsgi to exit').catch(() => {});
    for (const pid of spawnedPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await backend?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const log = () => `\n${spawner?.log(30)}\n${proxy?.log(30)}\n--- tsgi ---\n${backend?.logs.slice(-20).join('\n')}`;

  test('bin-path: lighttpd starts tsgi with the socket on fd 0; hello', { timeout: 30_000 }, async (t) => {
    if (!need(t)) return;
    const r = await fetchRaw(`http://127.0.0.1:${ports.spawn}/hello`);
    assert.equal(r.status, 200, r.body.toString() + log());
    assert.equal(r.body.toString(), 'hello from a spawned tsgi\n');
    assert.equal(r.headers['content-type'], 'text/plain');
    // tsgi said where it serves: the socket lighttpd handed over as fd 0 (its stderr is lighttpd's error log).
    await until(() => /tsgi: serving .*app\.js on fastcgi:\/\/fd:0/.test(spawner!.log(200)), 3000, 'tsgi\'s "serving" line')
      .catch((err: Error) => { err.message += log(); throw err; });
  });

  test('bin-path: a POST is echoed with its variables; tsgi is lighttpd\'s child', { timeout: 30_000 }, async (t) => {
    if (!need(t)) return;
    const body = 'name=tsgi&spawned=by+lighttpd';
    const r = await fetchRaw(`http://127.0.0.1:${ports.spawn}/items/a%20b?x=1`, {
      method: 'POST', body, headers: ['Content-Type', 'application/x-www-form-urlencoded'],
    });
    assert.equal(r.status, 200, r.body.toString() + log());
    const v = JSON.parse(r.body.toString()) as Record<string, unknown>;
    assert.deepEqual({ ...v, pid: undefined, ppid: undefined }, {
      protocol: 'fastcgi', method: 'POST', script: '', path: '/items/a b', query: 'x=1', contentLength: String(body.length),
      contentType: 'application/x-www-form-urlencoded', body, pid: undefined, ppid: undefined,
    });
    assert.equal(v.ppid, spawner!.pid, 'the tsgi that answered was started by lighttpd');
    spawnedPids.push(v.pid as number);
  });

  test('socket: to a tsgi started separately; hello and the request variables', { timeout: 30_000 }, async (t) => {
    if (!need(t)) return;
    const r = await fetchRaw(`http://127.0.0.1:${ports.socket}/hello`);
    assert.equal(r.status, 200, r.body.toString() + log());
    assert.equal(r.body.toString(), 'hello\n');
    const vr = await fetchRaw(`http://127.0.0.1:${ports.socket}/vars/a%20b?x=1&y=%2F`, { headers: ['X-Custom', 'hello'] });
    assert.equal(vr.status, 200, vr.body.toString() + log());
    const v = JSON.parse(vr.body.toString()) as { props: Record<string, string>; xCustom: string; tsgi: { protocol: string } };
    assert.equal(v.props.SCRIPT_NAME, '');
    assert.equal(v.props.PATH_INFO, '/vars/a b');
    assert.equal(v.props.QUERY_STRING, 'x=1&y=%2F');
    assert.equal(v.props.REQUEST_URI, '/vars/a%20b?x=1&y=%2F');
    assert.equal(v.props.REQUEST_METHOD, 'GET');
    assert.equal(v.props.SERVER_PORT, String(ports.socket));
    assert.equal(v.props.REMOTE_ADDR, '127.0.0.1');
    assert.equal(v.xCustom, 'hello');
    assert.equal(v.tsgi.protocol, 'fastcgi');
  });

  test('socket: POST echo and a 10 MiB upload', { timeout: 30_000 }, async (t) => {
    if (!need(t)) return;
    const body = 'name=tsgi&kind=app+server\n';
    const e = await fetchRaw(`http://127.0.0.1:${ports.socket}/echo`, {
      method: 'POST', body, headers: ['Content-Type', 'application/x-www-form-urlencoded'],
    });
    assert.equal(e.status, 200, e.body.toString() + log());
    assert.equal(e.body.toString(), body);
    assert.equal(e.headers['x-content-length'], String(body.length));
    const data = randomBytes(UPLOAD_BYTES);
    const u = await fetchRaw(`http://127.0.0.1:${ports.socket}/upload`, { method: 'PUT', body: data });
    assert.equal(u.status, 200, u.body.toString() + log());
    assert.equal(u.body.toString(), `${data.length} ${sha(data)} ${data.length}`);
  });

  test('authorizer: tsgi sees role "authorizer"; its 200 lets lighttpd serve the file, its 403 reaches the client', { timeout: 30_000 }, async (t) => {
    if (!need(t)) return;
    const good = await fetchRaw(`http://127.0.0.1:${ports.auth}/private/file.txt`, { headers: ['Authorization', 'Bearer good'] });
    assert.equal(good.status, 200, good.body.toString() + authorizer?.log(30));
    assert.equal(good.body.toString(), 'the static file\n');
    const bad = await fetchRaw(`http://127.0.0.1:${ports.auth}/private/file.txt`, { headers: ['Authorization', 'Bearer bad'] });
    assert.equal(bad.status, 403);
    assert.equal(bad.body.toString(), 'denied /private/file.txt\n');
    assert.deepEqual(authSeen, [
      { role: 'authorizer', uri: '/private/file.txt' }, { role: 'authorizer', uri: '/private/file.txt' },
    ]);
  });

  test('stopping lighttpd stops the tsgi it started', { timeout: 30_000 }, async (t) => {
    if (!need(t)) return;
    const pids = [...new Set([...spawnedPids, ...childrenOf(spawner!.pid)])];
    assert.ok(pids.length >= 1, 'lighttpd has a tsgi child');
    await spawner!.stop();
    await until(() => pids.every((p) => !alive(p)), 5000, `the spawned tsgi (${pids.join(', ')}) to exit`);
    await delay(0);
  });
});
