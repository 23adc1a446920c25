// --processes N: the master binds once; N workers serve the same listening
// socket (fd passed on, EPOLLEXCLUSIVE); the master itself serves nothing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Master, PID_APP, dir, get } from './helpers.js';

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('two workers share one port: requests are served by both pids, never the master', async () => {
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '2', PID_APP]);
  try {
    await m.ready();
    const workers = m.workerPids();
    assert.equal(workers.length, 2);
    assert.ok(!workers.includes(m.pid));
    // /busy keeps a worker in JS for 10 ms, so with 8 clients at once the
    // other worker must take connections too.
    const seen = new Map<number, number>();
    for (let round = 0; round < 10; round++) {
      const replies = await Promise.all(Array.from({ length: 8 }, () => get(m.port, '/busy')));
      for (const r of replies) {
        assert.equal(r.status, 200);
        const pid = Number(/^pid (\d+)/.exec(r.body)![1]);
        seen.set(pid, (seen.get(pid) ?? 0) + 1);
      }
    }
    assert.deepEqual([...seen.keys()].sort(), [...workers].sort(), `served by ${JSON.stringify([...seen])}`);
  } finally {
    await m.cleanup();
  }
});

test('a unix socket keeps --chmod-socket, and the workers serve it', async () => {
  const sock = path.join(dir, 'share.sock');
  const m = new Master(['--http', sock, '--chmod-socket', '600', '--processes', '2', PID_APP]);
  try {
    await m.ready();
    assert.equal(fs.statSync(sock).mode & 0o777, 0o600);
    const r = await get(sock, '/');
    assert.equal(r.status, 200);
    assert.ok(m.workerPids().includes(Number(/^pid (\d+)/.exec(r.body)![1])));
    m.signal('SIGTERM');
    assert.equal((await m.waitExit()).code, 0);
    assert.ok(!fs.existsSync(sock), 'the master removes the socket file it created');
  } finally {
    await m.cleanup();
  }
});

test('--pidfile holds the master pid; --vacuum removes it on exit', async () => {
  const pidfile = path.join(dir, 'tsgi.pid');
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '1', '--pidfile', pidfile, '--vacuum', PID_APP]);
  try {
    await m.ready();
    assert.equal(fs.readFileSync(pidfile, 'utf8'), `${m.pid}\n`);
    m.signal('SIGTERM');
    assert.equal((await m.waitExit()).code, 0);
    assert.ok(!fs.existsSync(pidfile));
  } finally {
    await m.cleanup();
  }
});

test('without --vacuum the pidfile stays; master-only flags need --processes', async () => {
  const pidfile = path.join(dir, 'kept.pid');
  const m = new Master(['--http', '127.0.0.1:0', '--processes', '1', '--pidfile', pidfile, PID_APP]);
  try {
    await m.ready();
    m.signal('SIGTERM');
    assert.equal((await m.waitExit()).code, 0);
    assert.equal(fs.readFileSync(pidfile, 'utf8'), `${m.pid}\n`);
  } finally {
    await m.cleanup();
  }
  for (const args of [['--max-requests', '5'], ['--processes', 'many'], ['--processes', '0'], ['--reload-mode', 'rolling']]) {
    const bad = new Master(['--http', '127.0.0.1:0', ...args, PID_APP]);
    const e = await bad.waitExit(5_000);
    assert.equal(e.code, 2, `${args.join(' ')}: ${bad.log()}`);
    assert.equal(bad.log().trim().split('\n').length, 1, bad.log());
    assert.match(bad.log(), /^tsgi: .*(--processes|--reload-mode)/);
  }
});
