// systemd notification: with NOTIFY_SOCKET set, the master reports READY=1
// when its workers are first ready, RELOADING=1 then READY=1 around a reload,
// STOPPING=1 on stop, each with MAINPID = the master. The receiver is a unix
// datagram socket (python3; Node has none); the sender is the addon's sdNotify.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { delay, have } from '../helpers/index.js';
import { Master, NOTIFY_RECEIVER, PID_APP, dir } from './helpers.js';

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('NOTIFY_SOCKET: READY=1, RELOADING=1, READY=1, STOPPING=1 with MAINPID', async (t) => {
  if (!have('python3')) {
    assert.ok(process.env.CI !== 'true', 'CI must run this test: python3 is missing');
    t.skip('needs python3 (the test\'s receiver; Debian package python3)');
    return;
  }
  const sock = path.join(dir, 'notify.sock');
  const receiver = spawn('python3', ['-c', NOTIFY_RECEIVER, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  let got = '';
  receiver.stdout!.setEncoding('utf8').on('data', (c: string) => { got += c; });
  const until = async (ok: () => boolean, what: string) => {
    const deadline = Date.now() + 10_000;
    while (!ok()) {
      assert.ok(Date.now() < deadline, `no ${what}; log:\n${master?.log() ?? ''}\nreceived:\n${got}`);
      await delay(20);
    }
  };
  let master: Master | undefined;
  try {
    await until(() => got.includes('bound'), 'receiver');
    const m = new Master(['--http', '127.0.0.1:0', '--processes', '1', PID_APP], { env: { NOTIFY_SOCKET: sock } });
    master = m;
    await until(() => /READY=1/.test(got), 'READY=1');
    m.signal('SIGHUP');
    await until(() => /reload done/.test(m.log()) && (got.match(/READY=1/g) ?? []).length === 2, 'READY=1 after the reload');
    m.signal('SIGTERM');
    await until(() => /STOPPING=1/.test(got), 'STOPPING=1');
    const states = got.split('\n').map((l) => /(READY|RELOADING|STOPPING)=1/.exec(l)?.[0]).filter((x) => x !== undefined);
    assert.deepEqual(states, ['READY=1', 'RELOADING=1', 'READY=1', 'STOPPING=1']);
    for (const l of got.split('\n').filter((x) => /=1/.test(x) && !/BARRIER/.test(x))) {
      assert.match(l, new RegExp(`MAINPID=${m.pid}( |$)`));
    }
    assert.match(got, /RELOADING=1 MONOTONIC_USEC=\d+/);
  } finally {
    await master?.cleanup();
    receiver.kill('SIGKILL');
  }
});
