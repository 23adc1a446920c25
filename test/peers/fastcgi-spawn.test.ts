// tsgi started the FastCGI way: spawn-fcgi binds the socket and execs tsgi
// with it on fd 0 (the doc's command line, as written), and libfcgi's
// cgi-fcgi, run as a CGI program with the request in its environment and
// body on stdin, asks it over that socket and prints the CGI-style reply. On
// TCP, FCGI_WEB_SERVER_ADDRS is the allow-list: a peer not in it is refused.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { values } from '../helpers/cgi-client.js';
import { FcgiConnection, fcgiVars, parseStdout, request } from '../helpers/fcgi-client.js';
import { delay, requirePeer, ROOT, tempDir, until } from '../helpers/index.js';
import { deploySnippet, freePort } from '../helpers/peers.js';

const APP = `
module.exports = async (req) => {
  const body = await req.body.text();
  return {
    headers: [['Content-Type', 'application/json'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']],
    body: JSON.stringify({
      protocol: req.tsgi.protocol, method: req.REQUEST_METHOD, script: req.SCRIPT_NAME, path: req.PATH_INFO,
      query: req.QUERY_STRING, contentType: req.CONTENT_TYPE, contentLength: req.CONTENT_LENGTH,
      custom: req.header('x-custom') ?? null, peer: req.peer, pid: process.pid, body,
    }),
  };
};
`;

interface Spawned {
  child: ChildProcess;
  stderr: () => string;
  /** Stops it (SIGTERM, by its PID) and waits; SIGKILL after 5 s. Resolves with how it exited. */
  stop: () => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<Spawned>();

/** spawn-fcgi with `args` (its own, then `--` and the command), not forking (-n): its PID is tsgi's. */
async function spawnFcgi(args: string[], ready: (stderr: string) => Promise<boolean>, env: NodeJS.ProcessEnv = {}): Promise<Spawned> {
  let err = '';
  const child = spawn('spawn-fcgi', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const s: Spawned = {
    child,
    stderr: () => err,
    async stop() {
      running.delete(s);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const how = await exit;
      clearTimeout(timer);
      return how;
    },
  };
  running.add(s);
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`spawn-fcgi ${args.join(' ')} exited with ${child.exitCode}: ${err}`);
    if (await ready(err)) return s;
    if (Date.now() - started > 10_000) {
      await s.stop();
      throw new Error(`spawn-fcgi ${args.join(' ')}: tsgi did not come up: ${err}`);
    }
    await delay(25);
  }
}

function canConnect(target: string | number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = typeof target === 'number' ? net.connect(target, '127.0.0.1') : net.connect(target);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** tsgi has said it serves (spawn-fcgi binds the socket before tsgi starts) and the socket answers. */
const serving = (target: string | number) => async (stderr: string) =>
  /tsgi: serving .* on fastcgi:\/\//.test(stderr) && canConnect(target);

function cgiFcgiPath(): string {
  const r = spawnSync('sh', ['-c', 'command -v cgi-fcgi'], { encoding: 'utf8' });
  return r.stdout.trim() || 'cgi-fcgi';
}

/** cgi-fcgi as a web server runs a CGI program: the request in its environment, the body on stdin. */
function cgiFcgi(connect: string, env: Record<string, string>, body = ''): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync(cgiFcgiPath(), ['-bind', '-connect', connect], { env, input: body, timeout: 10_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

describe('spawn-fcgi and cgi-fcgi', () => {
  const dir = tempDir('tsgi-spawn-fcgi-');
  const app = path.join(dir, 'app.js');
  fs.writeFileSync(app, APP);

  after(async () => {
    for (const s of [...running]) await s.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the doc\'s spawn-fcgi line over a unix socket; cgi-fcgi gets the CGI-style reply on stdout', { timeout: 30_000 }, async (t) => {
    if (!requirePeer(t, 'spawn-fcgi', 'spawn-fcgi') || !requirePeer(t, 'cgi-fcgi', 'libfcgi-bin')) return;
    const line = deploySnippet('fastcgi-commands').split('\n').find((l) => l.startsWith('spawn-fcgi '));
    assert.ok(line, 'docs/deploy.md: no spawn-fcgi line in the fastcgi-commands block');
    const command = line.replace(/#.*$/, '').trim();
    assert.equal(command, 'spawn-fcgi -s /run/app.sock -n -- tsgi app.js');
    const sock = path.join(dir, 'spawned.sock');
    const args = command.split(/\s+/).slice(1).flatMap((a) =>
      a === '/run/app.sock' ? [sock] : a === 'tsgi' ? [process.execPath, path.join(ROOT, 'bin', 'tsgi')] : a === 'app.js' ? [app] : [a]);
    const s = await spawnFcgi(args, serving(sock));
    try {
      const body = 'name=tsgi&via=cgi-fcgi';
      const r = cgiFcgi(sock, {
        REQUEST_METHOD: 'POST', SCRIPT_NAME: '/app', PATH_INFO: '/items/7', QUERY_STRING: 'x=1&y=2',
        REQUEST_URI: '/app/items/7?x=1&y=2', CONTENT_TYPE: 'application/x-www-form-urlencoded',
        CONTENT_LENGTH: String(body.length), SERVER_NAME: 'example.com', SERVER_PORT: '80',
        SERVER_PROTOCOL: 'HTTP/1.1', REMOTE_ADDR: '192.0.2.1', HTTP_X_CUSTOM: 'from env', GATEWAY_INTERFACE: 'CGI/1.1',
      }, body);
      assert.equal(r.status, 0, r.stderr + s.stderr());
      const text = r.stdout.toString('latin1');
      assert.ok(text.startsWith('Status: 200 OK\r\n'), JSON.stringify(text.slice(0, 80)));
      const reply = parseStdout(r.stdout);
      assert.deepEqual(values(reply, 'content-type'), ['application/json']);
      assert.deepEqual(values(reply, 'set-cookie'), ['a=1', 'b=2']);
      assert.deepEqual(values(reply, 'content-length'), [String(reply.body.length)]);
      const v = JSON.parse(reply.body.toString()) as Record<string, unknown>;
      assert.deepEqual({ ...v, pid: undefined, peer: undefined }, {
        protocol: 'fastcgi', method: 'POST', script: '/app', path: '/items/7', query: 'x=1&y=2',
        contentType: 'application/x-www-form-urlencoded', contentLength: String(body.length), custom: 'from env',
        body, pid: undefined, peer: undefined,
      });
      // spawn-fcgi -n execs tsgi: the process spawn-fcgi started is tsgi.
      assert.equal(v.pid, s.child.pid);
      // A 404 and an empty body come through too.
      const r2 = cgiFcgi(sock, { REQUEST_METHOD: 'GET', PATH_INFO: '/', QUERY_STRING: '', SERVER_PROTOCOL: 'HTTP/1.1' });
      assert.equal(r2.status, 0, r2.stderr);
      assert.equal(JSON.parse(parseStdout(r2.stdout).body.toString()).method, 'GET');
    } finally {
      const how = await s.stop();
      assert.equal(how.code, 0, `tsgi exits 0 on SIGTERM: ${JSON.stringify(how)} ${s.stderr()}`);
    }
  });

  test('TCP with FCGI_WEB_SERVER_ADDRS=10.0.0.1: a connection from 127.0.0.1 is refused; listed, it is served', { timeout: 30_000 }, async (t) => {
    if (!requirePeer(t, 'spawn-fcgi', 'spawn-fcgi') || !requirePeer(t, 'cgi-fcgi', 'libfcgi-bin')) return;
    const tsgi = [process.execPath, path.join(ROOT, 'bin', 'tsgi'), app];
    const env = { REQUEST_METHOD: 'GET', PATH_INFO: '/tcp', QUERY_STRING: '', SERVER_PROTOCOL: 'HTTP/1.1' };

    // Not listed: refused.
    const port = await freePort();
    const s = await spawnFcgi(['-a', '127.0.0.1', '-p', String(port), '-n', '--', ...tsgi], serving(port),
      { FCGI_WEB_SERVER_ADDRS: '10.0.0.1' });
    try {
      const c = await FcgiConnection.open(port);
      try {
        await c.write(request(1, fcgiVars('/refused'))).catch(() => {});
        assert.ok(await c.waitClosed(3000), 'a peer outside FCGI_WEB_SERVER_ADDRS is disconnected');
        assert.equal(c.raw.received, 0, 'and gets nothing');
      } finally {
        c.destroy();
      }
      const r = cgiFcgi(`127.0.0.1:${port}`, env);
      assert.notEqual(r.status, 0, 'cgi-fcgi fails');
      assert.equal(r.stdout.length, 0);
      await until(() => /refused a connection from 127\.0\.0\.1 .*allow-list/.test(s.stderr()), 3000,
        'tsgi\'s log line for the refused connection').catch((err: Error) => {
        err.message += `; tsgi's stderr: ${s.stderr()}`;
        throw err;
      });
    } finally {
      await s.stop();
    }

    // Listed (among others): served, and the app sees the web server's address as the peer.
    const port2 = await freePort();
    const s2 = await spawnFcgi(['-a', '127.0.0.1', '-p', String(port2), '-n', '--', ...tsgi], serving(port2),
      { FCGI_WEB_SERVER_ADDRS: '10.0.0.1, 127.0.0.1' });
    try {
      const r = cgiFcgi(`127.0.0.1:${port2}`, env);
      assert.equal(r.status, 0, r.stderr + s2.stderr());
      const v = JSON.parse(parseStdout(r.stdout).body.toString()) as { path: string; peer: { address: string } };
      assert.equal(v.path, '/tcp');
      assert.equal(v.peer.address, '127.0.0.1');
    } finally {
      await s2.stop();
    }
  });

  test('a unix socket on fd 0 with FCGI_WEB_SERVER_ADDRS set: served (the list is for TCP peers)', { timeout: 30_000 }, async (t) => {
    if (!requirePeer(t, 'spawn-fcgi', 'spawn-fcgi') || !requirePeer(t, 'cgi-fcgi', 'libfcgi-bin')) return;
    const sock = path.join(dir, 'listed.sock');
    const s = await spawnFcgi(['-s', sock, '-n', '--', process.execPath, path.join(ROOT, 'bin', 'tsgi'), app], serving(sock),
      { FCGI_WEB_SERVER_ADDRS: '10.0.0.1' });
    try {
      const r = cgiFcgi(sock, { REQUEST_METHOD: 'GET', PATH_INFO: '/unix', SERVER_PROTOCOL: 'HTTP/1.1' });
      assert.equal(r.status, 0, r.stderr + s.stderr());
      assert.equal(JSON.parse(parseStdout(r.stdout).body.toString()).path, '/unix');
    } finally {
      await s.stop();
    }
  });

  test('a malformed FCGI_WEB_SERVER_ADDRS stops tsgi at start with a message naming the variable', {
    timeout: 30_000,
  }, async (t) => {
    if (!requirePeer(t, 'spawn-fcgi', 'spawn-fcgi')) return;
    const port = await freePort();
    let err = '';
    const child = spawn('spawn-fcgi', ['-a', '127.0.0.1', '-p', String(port), '-n', '--', process.execPath,
      path.join(ROOT, 'bin', 'tsgi'), app], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FCGI_WEB_SERVER_ADDRS: 'localhost' } });
    child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearTimeout(timer);
    assert.notEqual(code, 0, 'tsgi does not serve with an allow-list it cannot read');
    assert.match(err, /FCGI_WEB_SERVER_ADDRS/, err);
    assert.match(err, /localhost/, err);
  });

  test('TCP without FCGI_WEB_SERVER_ADDRS: loopback peers only, so 127.0.0.1 is served', { timeout: 30_000 }, async (t) => {
    if (!requirePeer(t, 'spawn-fcgi', 'spawn-fcgi') || !requirePeer(t, 'cgi-fcgi', 'libfcgi-bin')) return;
    const port = await freePort();
    const env = { ...process.env };
    delete env.FCGI_WEB_SERVER_ADDRS;
    const s = await spawnFcgi(['-a', '127.0.0.1', '-p', String(port), '-n', '--', process.execPath, path.join(ROOT, 'bin', 'tsgi'), app],
      serving(port), env);
    try {
      const r = cgiFcgi(`127.0.0.1:${port}`, { REQUEST_METHOD: 'GET', PATH_INFO: '/loopback', SERVER_PROTOCOL: 'HTTP/1.1' });
      assert.equal(r.status, 0, r.stderr + s.stderr());
      assert.equal(JSON.parse(parseStdout(r.stdout).body.toString()).path, '/loopback');
    } finally {
      await s.stop();
    }
  });
});
