// systemd socket activation: sockets bound by someone else and handed over as
// fds 3, 4, ... with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES. A small python3
// launcher plays systemd: it binds, moves the sockets to fds 3.., sets the
// variables for its own pid and execs tsgi (same pid), printing the ports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { delay, have, ROOT, tempDir } from '../helpers/index.js';
import { ask, uwsgiRequest } from '../helpers/cgi-client.js';

const BIN = path.join(ROOT, 'bin', 'tsgi');
const dir = tempDir('tsgi-activation-');
const APP = path.join(dir, 'app.js');
fs.writeFileSync(APP, 'module.exports = (req) => ({ body: `activated ${req.tsgi.protocol} ${process.pid}` });\n');

const LAUNCHER = `
import os, socket, sys
count, names, pid_offset = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
socks = []
for i in range(count):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    os.dup2(s.fileno(), 3 + i)
    os.set_inheritable(3 + i, True)  # dup2 onto itself keeps close-on-exec
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks), flush=True)
env = dict(os.environ, LISTEN_FDS=str(count), LISTEN_PID=str(os.getpid() + pid_offset))
if names:
    env["LISTEN_FDNAMES"] = names
os.execve(sys.argv[4], sys.argv[4:], env)
`;

interface Started { child: ChildProcess; ports: number[]; stderr: () => string }

function launch(count: number, names: string, args: string[], pidOffset = 0): Promise<Started> {
  const child = spawn('python3', ['-c', LAUNCHER, String(count), names, String(pidOffset), process.execPath, BIN, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c; });
  return new Promise((resolve, reject) => {
    child.stdout!.setEncoding('utf8').once('data', (line: string) => {
      resolve({ child, ports: line.trim().split(' ').map(Number), stderr: () => err });
    });
    child.once('exit', (code) => reject(new Error(`launcher exited ${code}: ${err}`)));
  });
}

async function stop(s: Started): Promise<number | null> {
  if (s.child.exitCode !== null) return s.child.exitCode;
  s.child.kill('SIGTERM');
  return new Promise((resolve) => s.child.once('exit', (code) => resolve(code)));
}

async function httpGet(port: number): Promise<string> {
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/`);
      return await r.text();
    } catch (err) {
      if (Date.now() > until) throw err;
      await delay(50);
    }
  }
}

test('LISTEN_FDS: an HTTP socket and a uwsgi socket (LISTEN_FDNAMES) are served, with no listener flag', { timeout: 20_000 }, async (t) => {
  if (!have('python3')) {
    assert.ok(process.env.CI !== 'true', 'CI must run this test: python3 is missing');
    t.skip('needs python3 (Debian package python3) to play systemd');
    return;
  }
  const s = await launch(2, 'http:uwsgi', [APP]);
  try {
    const body = await httpGet(s.ports[0]!);
    assert.equal(body, `activated http ${s.child.pid}`, s.stderr());
    const u = await ask({ host: '127.0.0.1', port: s.ports[1]! }, 'uwsgi', uwsgiRequest('/'));
    assert.equal(u.body.toString(), `activated uwsgi ${s.child.pid}`);
  } finally {
    assert.equal(await stop(s), 0, s.stderr());
  }
});

test('LISTEN_FDS under a master: the workers serve the socket systemd bound', { timeout: 30_000 }, async (t) => {
  if (!have('python3')) {
    assert.ok(process.env.CI !== 'true', 'CI must run this test: python3 is missing');
    t.skip('needs python3 (Debian package python3) to play systemd');
    return;
  }
  const s = await launch(1, '', ['--processes', '2', APP]);
  try {
    const pids = new Set<string>();
    for (let i = 0; i < 40 && pids.size < 2; i++) {
      const body = await httpGet(s.ports[0]!);
      assert.match(body, /^activated http \d+$/, s.stderr());
      pids.add(body.split(' ')[2]!);
    }
    assert.ok(!pids.has(String(s.child.pid)), 'the master serves nothing itself');
    assert.ok(pids.size >= 1);
  } finally {
    assert.equal(await stop(s), 0, s.stderr());
  }
});

test('LISTEN_FDS meant for another pid is ignored (and not passed on): no listener, a one-line error', { timeout: 20_000 }, async (t) => {
  if (!have('python3')) {
    assert.ok(process.env.CI !== 'true', 'CI must run this test: python3 is missing');
    t.skip('needs python3 (Debian package python3) to play systemd');
    return;
  }
  const s = await launch(1, '', [APP], 1);
  const code = await new Promise<number | null>((resolve) => s.child.once('exit', (c) => resolve(c)));
  assert.equal(code, 2);
  assert.match(s.stderr(), /no listener given/);
});
