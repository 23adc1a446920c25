// `tsgi status|reload|stop` against a real master with two workers, found by
// its --pidfile and by its --stats address: status names the workers, their
// pids, requests and memory; reload replaces every worker and says when it is
// done; stop waits for the master's exit. A stale pidfile is refused before
// any signal is sent.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { alive } from '../helpers/index.js';
import { TSGI_BIN, cleanEnv } from '../helpers/tsgi-process.js';
import { Master, PID_APP, dir, get } from './helpers.js';

const PIDFILE = path.join(dir, 'control.pid');
let m: Master;
let stats = '';

/** `tsgi ARGS`, asynchronously (the master it talks to runs in this test's process tree). */
function tsgi(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [TSGI_BIN, ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    c.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

before(async () => {
  m = new Master(['--processes', '2', '--http', '127.0.0.1:0', '--pidfile', PIDFILE, '--stats', 'http://127.0.0.1:0', PID_APP]);
  await m.ready();
  stats = /^tsgi: stats on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(m.log())![1]!;
  for (let i = 0; i < 10; i++) assert.equal((await get(m.port)).status, 200);
});

after(() => m.cleanup());

test('status --stats: the master, each worker\'s pid, state, requests, memory and uptime', async () => {
  const r = await tsgi(['status', '--stats', stats]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0]!, new RegExp(`^tsgi master pid ${m.pid}, up \\d+s, 2 workers, no reload yet$`));
  assert.match(r.stdout, new RegExp(`^listening on 127\\.0\\.0\\.1:${m.port} \\(http\\), queue 0/\\d+$`, 'm'));
  const rows = lines.filter((l) => /^[12] /.test(l)).map((l) => l.split(/\s{2,}/));
  assert.deepEqual(rows.map((c) => Number(c[1])).sort(), m.workerPids().sort());
  let requests = 0;
  for (const c of rows) {
    assert.equal(c[2], 'idle');
    requests += Number(c[3]);
    assert.match(c[5]!, /^\d+\.\d MB$/);
    assert.ok(Number(c[5]!.split(' ')[0]) > 10, `rss ${c[5]}`);
    assert.match(c[6]!, /^\d+s$/);
  }
  assert.equal(requests, 10);
});

test('status --pidfile: the workers from /proc, and what needs --stats', async () => {
  const r = await tsgi(['status', '--pidfile', PIDFILE]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^tsgi master pid ${m.pid}, up \\d+s, 2 workers \\(requests and reloads: give --stats ADDR\\)$`, 'm'));
  const pids = [...r.stdout.matchAll(/^(\d+)\s+\d+\.\d MB\s+\d+s$/gm)].map((x) => Number(x[1]));
  assert.deepEqual(pids.sort(), m.workerPids().sort());
});

test('status --json: the stats document', async () => {
  const r = await tsgi(['status', '--stats', stats, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.pid, m.pid);
  assert.equal(doc.reloads, 0);
  assert.equal(doc.last_reload, null);
  assert.equal(doc.workers.length, 2);
});

test('reload --stats: every worker replaced; the command returns once the reload is done', async () => {
  const before = m.workerPids();
  const r = await tsgi(['reload', '--stats', stats]);
  assert.equal(r.code, 0, r.stderr);
  const said = /^tsgi: reloaded master pid (\d+) in [\d.]+ s; workers now (\d+), (\d+)$/m.exec(r.stdout);
  assert.ok(said, r.stdout);
  assert.equal(Number(said[1]), m.pid);
  const now = [Number(said[2]), Number(said[3])];
  for (const p of now) assert.ok(!before.includes(p), `worker ${p} was there before the reload`);
  assert.equal(m.count(/^tsgi: reload done in/), 1);
  const st = await tsgi(['status', '--stats', stats]);
  assert.match(st.stdout, /last reload \d+s ago \(1 in all\)/);
});

test('reload --pidfile: done when none of the old workers is left', async () => {
  const before = m.workerPids();
  const r = await tsgi(['reload', '--pidfile', PIDFILE]);
  assert.equal(r.code, 0, r.stderr);
  const said = /^tsgi: reloaded master pid \d+ in [\d.]+ s; workers now (\d+), (\d+)$/m.exec(r.stdout);
  assert.ok(said, r.stdout);
  for (const p of before) assert.ok(!alive(p), `old worker ${p} still alive`);
  assert.equal(m.count(/^tsgi: reload done in/), 2);
  assert.equal((await get(m.port)).status, 200);
});

test('a stale pidfile or a pid that is not tsgi is refused, nothing sent', async () => {
  const stale = path.join(dir, 'stale.pid');
  // A pid reused by another program since tsgi wrote the file.
  const other = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    fs.writeFileSync(stale, `${other.pid}\n`);
    const r = await tsgi(['reload', '--pidfile', stale]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^tsgi reload: --pidfile ${stale}: pid ${other.pid} is not tsgi \\(it runs "sleep 30"\\); a stale pidfile\\? nothing was sent`, 'm'));
    assert.ok(alive(other.pid!), 'no signal reached it');
  } finally {
    other.kill('SIGKILL');
  }
  fs.writeFileSync(stale, '999999999\n');
  const gone = await tsgi(['stop', '--pidfile', stale]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /no process 999999999 \(tsgi is not running; a stale pidfile\?\)/);
  const usage = await tsgi(['status']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /give the master's --pidfile FILE or its --stats ADDR/);
  const refused = await tsgi(['status', '--stats', 'http://127.0.0.1:1']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^tsgi status: --stats http:\/\/127\.0\.0\.1:1: connect ECONNREFUSED/m);
});

test('stop --pidfile: returns once the master and its workers have exited', async () => {
  const workers = m.workerPids();
  const r = await tsgi(['stop', '--pidfile', PIDFILE]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^tsgi: stopped pid ${m.pid} in [\\d.]+ s$`, 'm'));
  assert.ok(!alive(m.pid));
  for (const p of workers) assert.ok(!alive(p), `worker ${p} outlived its master`);
  const exit = await m.exited;
  assert.equal(exit.code, 0);
});
