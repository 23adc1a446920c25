// --threads N with --access-log: every thread appends its own whole lines to
// the one file (or stdout), so each request served by any thread is one
// complete line; SIGUSR1 to the process reopens the log in every thread;
// stopping writes every thread's queued lines first.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { delay, until } from '../helpers/index.js';
import { TsgiProcess } from '../helpers/tsgi-process.js';
import { APP, dir, spread, startThreaded, threadsOf } from './helpers.js';

after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Line { uri: string; status: number; bytes: number; worker: number; pid: number }

/** The file's lines, each parsed as JSON (a torn or merged line fails here). */
function jsonLines(file: string): Line[] {
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), 'the log ends with a whole line');
  return text.split('\n').slice(0, -1).map((l) => {
    try {
      return JSON.parse(l) as Line;
    } catch {
      return assert.fail(`not one JSON line: ${JSON.stringify(l.slice(0, 300))}`);
    }
  });
}

const lineCount = (file: string): number => fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').length - 1 : 0;

test('--threads 2 --access-log FILE: 320 requests from 8 clients, both threads serve, one whole JSON line each; SIGUSR1 reopens in both threads', async () => {
  const log = path.join(dir, 'threads.log');
  const p = await startThreaded(['--access-log', log, '--access-log-format', 'json']);
  try {
    const served = await spread(p.port, 8, 40, (c, i) => `/a/${c}/${i}`);
    assert.deepEqual(threadsOf(served).length, 2, `served by threads ${threadsOf(served).join(', ')}`);
    await until(() => lineCount(log) >= served.size, 5000, `${served.size} lines in ${log}`);
    await delay(100);  // a line too many would come in now
    const got = jsonLines(log);
    assert.equal(got.length, served.size);
    assert.deepEqual(new Set(got.map((g) => g.uri)), new Set(served.keys()));
    for (const g of got) {
      assert.equal(g.status, 200);
      assert.equal(g.bytes, 3);
      assert.equal(g.worker, 0);
      assert.equal(g.pid, p.pid);
    }

    // logrotate: rename, then SIGUSR1 to the process; the main thread passes it to every thread.
    fs.renameSync(log, `${log}.1`);
    process.kill(p.pid, 'SIGUSR1');
    await delay(200);
    const later = await spread(p.port, 8, 10, (c, i) => `/b/${c}/${i}`);
    assert.equal(threadsOf(later).length, 2, `after the reopen, served by threads ${threadsOf(later).join(', ')}`);
    await p.stop();
    assert.equal((await p.exited).code, 0, p.log());
    // Stopped: every thread wrote its queue before exiting; each reopened onto the new file.
    const fresh = jsonLines(log);
    assert.equal(fresh.length, later.size);
    assert.deepEqual(new Set(fresh.map((g) => g.uri)), new Set(later.keys()));
    const old = jsonLines(`${log}.1`);
    assert.equal(old.length, served.size);
    assert.ok(old.every((g) => g.uri.startsWith('/a/')));
    assert.doesNotMatch(p.log(), /Debugger listening/);
  } finally {
    await p.stop();
  }
});

// %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"
const COMBINED = /^127\.0\.0\.1 - - \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET (\S+) HTTP\/1\.1" 200 3 "-" "[^"]*"$/;

test('--threads 2 --access-log -: both threads write whole combined lines to the one stdout pipe', async () => {
  const p = await startThreaded(['--access-log', '-']);
  try {
    const served = await spread(p.port, 8, 25, (c, i) => `/s/${c}/${i}`);
    assert.equal(threadsOf(served).length, 2);
    await until(() => p.stdout().split('\n').length > served.size, 5000, `${served.size} lines on stdout`);
    const got = p.stdout().split('\n').slice(0, -1);
    assert.equal(got.length, served.size);
    const uris = got.map((l) => {
      const m = COMBINED.exec(l);
      assert.ok(m, `not one combined line: ${JSON.stringify(l.slice(0, 300))}`);
      return m[1];
    });
    assert.deepEqual(new Set(uris), new Set(served.keys()));
  } finally {
    await p.stop();
  }
});

test('--processes 2 --threads 2 --access-log FILE: every thread of every worker appends; SIGUSR1 to the master reopens them all', async () => {
  const log = path.join(dir, 'master-threads.log');
  const p = new TsgiProcess(['--http', '127.0.0.1:0', '--processes', '2', '--threads', '2', '--access-log', log,
    '--access-log-format', 'json', APP]);
  try {
    await p.ready();
    await p.waitFor(/^tsgi: 2 workers ready$/m);
    const served = await spread(p.port, 8, 20, (c, i) => `/m/${c}/${i}`);
    await until(() => lineCount(log) >= served.size, 5000, `${served.size} lines in ${log}`);
    const got = jsonLines(log);
    assert.equal(got.length, served.size);
    assert.deepEqual(new Set(got.map((g) => g.uri)), new Set(served.keys()));
    assert.ok(got.every((g) => g.worker === 1 || g.worker === 2));

    fs.renameSync(log, `${log}.1`);
    process.kill(p.pid, 'SIGUSR1');
    await delay(300);
    const later = await spread(p.port, 8, 5, (c, i) => `/n/${c}/${i}`);
    await p.stop();
    const fresh = jsonLines(log);
    assert.equal(fresh.length, later.size);
    assert.deepEqual(new Set(fresh.map((g) => g.uri)), new Set(later.keys()));
    assert.doesNotMatch(p.log(), /Debugger listening/);
  } finally {
    await p.stop();
  }
});
