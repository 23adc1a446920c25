// --uid/--gid: bind as root, then run as the given user: in a single process
// after serve() has bound (and before the app is loaded), under a master in
// the master after binding and in every worker. Needs root (the test
// machines run as root); skipped otherwise.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { tempDir } from '../helpers/index.js';
import { TsgiProcess, runTsgi } from '../helpers/tsgi-process.js';
import { get } from '../master/helpers.js';

const dir = tempDir('tsgi-privileges-');
fs.chmodSync(dir, 0o755);  // nobody must read the app
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const APP = path.join(dir, 'app.js');
fs.writeFileSync(APP, `
const loadedAs = process.getuid();
module.exports = (req) => ({ body: JSON.stringify({ uid: process.getuid(), euid: process.geteuid(), gid: process.getgid(), loadedAs, pid: process.pid }) });
`);
fs.chmodSync(APP, 0o644);

const isRoot = process.getuid?.() === 0;
const nobody = isRoot ? Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' })) : -1;

function uidOf(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

test('one process: binds a port as root, then runs as nobody; the app is loaded after the drop', { skip: !isRoot && 'needs root' }, async () => {
  const log = path.join(dir, 'access.log');
  const t = new TsgiProcess(['--http', '127.0.0.1:0', '--uid', 'nobody', '--access-log', log, APP]);
  try {
    await t.ready();
    const r = JSON.parse((await get(t.port, '/')).body) as { uid: number; euid: number; loadedAs: number };
    assert.deepEqual([r.uid, r.euid, r.loadedAs], [nobody, nobody, nobody]);
    assert.equal(uidOf(t.pid), nobody);
    assert.match(t.log(), new RegExp(`^tsgi: running as uid ${nobody} gid \\d+ \\(nobody\\)$`, 'm'));
    // The access log was created as root and handed over, so nobody writes it.
    assert.equal(fs.statSync(log).uid, nobody);
  } finally {
    await t.stop();
  }
});

test('under a master: the master and every worker run as nobody', { skip: !isRoot && 'needs root' }, async () => {
  const t = new TsgiProcess(['--http', '127.0.0.1:0', '--processes', '2', '--uid', 'nobody', '--gid', 'nogroup', APP]);
  try {
    await t.ready();
    await t.waitFor(/^tsgi: 2 workers ready$/m);
    const pids = [...t.log().matchAll(/^tsgi: worker \d \(pid (\d+)\) ready$/gm)].map((m) => Number(m[1]));
    assert.equal(pids.length, 2);
    for (const pid of [t.pid, ...pids]) assert.equal(uidOf(pid), nobody, `pid ${pid}`);
    const r = JSON.parse((await get(t.port, '/')).body) as { uid: number; gid: number };
    assert.equal(r.uid, nobody);
    assert.equal(r.gid, Number(execFileSync('getent', ['group', 'nogroup'], { encoding: 'utf8' }).split(':')[2]));
  } finally {
    await t.stop();
  }
});

test('an unknown user is an error (exit 1, one line) before anything is served', () => {
  const r = runTsgi(['--http', '127.0.0.1:0', '--uid', 'no-such-user-here', APP]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'tsgi: cannot drop privileges: --uid no-such-user-here: no such user\n');
});

test('--chown-socket: the unix socket file gets its owner and group (and --chmod-socket its mode) before it accepts, alone and under a master', { skip: !isRoot && 'needs root' }, async () => {
  const nogroup = Number(execFileSync('getent', ['group', 'nogroup'], { encoding: 'utf8' }).split(':')[2]);
  for (const extra of [[], ['--processes', '1']]) {
    const sock = path.join(dir, `owned-${extra.length}.sock`);
    const t = new TsgiProcess(['--http', sock, '--chmod-socket', '660', '--chown-socket', 'nobody:nogroup', ...extra, APP]);
    try {
      await t.waitFor(/^tsgi: (serving .* on \/|\d+ workers? ready$)/m);
      const st = fs.statSync(sock);
      assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [nobody, nogroup, 0o660], extra.join(' ') || 'one process');
      const r = JSON.parse((await get(sock, '/')).body) as { uid: number };
      assert.equal(r.uid, 0, 'the server itself still runs as root (no --uid)');
    } finally {
      await t.stop();
    }
  }
  const bad = runTsgi(['--http', path.join(dir, 'bad.sock'), '--chown-socket', 'no-such-user-here', APP]);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, 'tsgi: cannot drop privileges: --chown-socket no-such-user-here: no such user\n');
});
