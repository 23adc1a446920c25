// `tsgi top` in a real terminal: tmux runs it detached in a 120x30 window
// against a master with two workers under load; the captured screen shows
// both workers with their pids, a request rate, latency, memory, heap,
// event-loop figures and the running request;
// q quits and gives the terminal back.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { delay, requirePeer } from '../helpers/index.js';
import { TSGI_BIN } from '../helpers/tsgi-process.js';
import { Master, PID_APP, dir, get } from './helpers.js';

const SOCK = path.join(dir, 'tmux.sock');
const SESSION = 'tsgitop';
let m: Master | undefined;

function tmux(...args: string[]): { code: number | null; out: string } {
  const r = spawnSync('tmux', ['-S', SOCK, ...args], { encoding: 'utf8', timeout: 5_000, env: { ...process.env, TERM: 'xterm-256color' } });
  return { code: r.status, out: r.stdout + r.stderr };
}

function screen(): string {
  return tmux('capture-pane', '-p', '-t', SESSION).out;
}

after(async () => {
  tmux('kill-server');  // the server of this test's own socket only
  await m?.cleanup();
});

test('tsgi top shows each worker\'s pid, requests/s, latency, memory and running requests; q quits', async (t) => {
  if (!requirePeer(t, 'tmux', 'tmux')) return;
  m = new Master(['--processes', '2', '--http', '127.0.0.1:0', '--stats', 'http://127.0.0.1:0', PID_APP]);
  await m.ready();
  const stats = /^tsgi: stats on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(m.log())![1]!;
  const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(TSGI_BIN)} top --stats ${stats} --interval 0.5`;
  const started = tmux('new-session', '-d', '-s', SESSION, '-x', '120', '-y', '30', cmd);
  assert.equal(started.code, 0, started.out);

  // Load on new connections (both workers get some), and a long request always running.
  let loading = true;
  const load = (async () => {
    while (loading) await get(m!.port);
  })();
  const slow = (async () => {
    while (loading) assert.equal((await get(m!.port, '/slow')).status, 200);
  })();
  let seen = '';
  const end = Date.now() + 10_000;
  const pids = m.workerPids();
  for (;;) {
    seen = screen();
    const rows = seen.split('\n').filter((l) => /^[12]\s+\d+\s/.test(l)).map((l) => l.trim().split(/\s+/));
    const busy = rows.filter((r) => Number(r[3]) > 0);
    if (rows.length === 2 && busy.length > 0 && /worker [12]\s+[\d.]+ s\s+GET \/slow/.test(seen)) break;
    assert.ok(Date.now() < end, `the screen never showed both workers, a rate and the running request:\n${seen}`);
    await delay(200);
  }
  loading = false;
  await load;
  await slow;

  assert.match(seen, new RegExp(`^tsgi top - master pid ${m.pid}, up \\d+s, 2 workers, [\\d.]+ req/s, load \\d+, queue \\d+`, 'm'));
  assert.match(seen, /^WID\s+PID\s+STATUS\s+REQ\/S\s+REQUESTS\s+LAT\(ms\)\s+RUNNING\s+EXC\s+RSS\s+HEAP\s+LOOP\s+LAG99\(ms\)\s+UPTIME$/m);
  const rows = seen.split('\n').filter((l) => /^[12]\s+\d+\s/.test(l)).map((l) => l.trim().split(/\s+/));
  assert.deepEqual(rows.map((r) => Number(r[1])).sort(), pids.sort());
  for (const r of rows) {
    assert.match(r[2]!, /^(idle|busy)$/);
    assert.ok(Number(r[4]) > 0, `worker ${r[0]} served nothing:\n${seen}`);
    if (Number(r[3]) > 0) assert.match(r[5]!, /^\d+\.\d+$/, `no latency for a worker serving requests:\n${seen}`);
    assert.match(r[8]!, /^\d+\.\d$/);  // RSS: "52.4" then "MB"
    assert.match(r[10]!, /^\d+\.\d$/);  // HEAP
    assert.match(r[12]!, /^\d+%$/);  // event-loop utilization
    assert.match(r[13]!, /^\d+\.\d+$/);  // its delay, p99
    assert.match(r[14]!, /^\d+s$/);
  }
  for (const line of seen.split('\n')) assert.ok(line.length <= 120, `wider than the window: ${line}`);

  assert.equal(tmux('send-keys', '-t', SESSION, 'q').code, 0);
  const gone = Date.now() + 5_000;
  while (tmux('has-session', '-t', SESSION).code === 0) {
    assert.ok(Date.now() < gone, `q did not quit:\n${screen()}`);
    await delay(100);
  }
});
