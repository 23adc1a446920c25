// The systemd unit of docs/master.md, as written there: this machine's paths
// put in, checked by `systemd-analyze verify` (no warning), then its
// ExecStart= run as systemd would run it (in WorkingDirectory=, with a
// NOTIFY_SOCKET): READY=1 comes from the started pid itself (what
// NotifyAccess=main accepts), ExecReload= reloads, and SIGTERM to that pid
// alone (KillMode=mixed) stops every process and frees the port.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { ROOT, alive, delay, have, requirePeer, tempDir } from '../helpers/index.js';
import { freePort } from '../helpers/peers.js';
import { TSGI_BIN } from '../helpers/tsgi-process.js';
import { Master, NOTIFY_RECEIVER, get } from './helpers.js';

const dir = tempDir('tsgi-unit-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The ```ini block of docs/master.md that starts with the unit's path. */
function documentedUnit(): string {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'master.md'), 'utf8');
  const m = /```ini\n(# \/etc\/systemd\/system\/app\.service\n[\s\S]*?)```/.exec(doc);
  assert.ok(m, 'docs/master.md has no ```ini block starting "# /etc/systemd/system/app.service"');
  return m[1]!;
}

function directives(unit: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of unit.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** The unit with this machine's paths: node, tsgi, the app's directory, this user. */
function localUnit(unit: string, replace: Array<[string, string]>): string {
  let out = unit;
  for (const [from, to] of replace) out = out.split(from).join(to);
  return out;
}

const APP_DIR = path.join(dir, 'srv-app');
const BASE: Array<[string, string]> = [
  ['/usr/bin/node', process.execPath],
  ['/srv/app/node_modules/.bin/tsgi', TSGI_BIN],
  ['/srv/app', APP_DIR],
  ['User=app', `User=${os.userInfo().username}`],
  ['Group=app', `Group=${spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim()}`],
];
fs.mkdirSync(APP_DIR);
// Relative to WorkingDirectory=: the app reads a file there.
fs.writeFileSync(path.join(APP_DIR, 'greeting.txt'), 'hello from the unit\n');
fs.writeFileSync(path.join(APP_DIR, 'app.js'), `
const fs = require('node:fs');
module.exports = () => ({ headers: { 'content-type': 'text/plain' }, body: fs.readFileSync('greeting.txt', 'utf8') });
`);

test('the documented unit: absolute node and tsgi paths, a working directory, a user, the master as the notifier', () => {
  const d = directives(documentedUnit());
  const exec = d.get('ExecStart')!.split(/\s+/);
  assert.ok(path.isAbsolute(exec[0]!) && path.basename(exec[0]!) === 'node', `ExecStart runs node itself: ${exec[0]}`);
  assert.ok(path.isAbsolute(exec[1]!) && path.basename(exec[1]!) === 'tsgi', `then tsgi by its absolute path: ${exec[1]}`);
  assert.ok(path.isAbsolute(exec.at(-1)!), `the app by its absolute path: ${exec.at(-1)}`);
  assert.ok(!exec.includes('npx'), 'not npx: it would be the main process');
  assert.ok(path.isAbsolute(d.get('WorkingDirectory') ?? ''), 'WorkingDirectory= absolute');
  assert.ok(d.get('User') !== undefined && d.get('User') !== 'root', 'User= set, not root');
  assert.equal(d.get('Type'), 'notify');
  assert.equal(d.get('NotifyAccess'), 'main');
  assert.equal(d.get('KillMode'), 'mixed');
  assert.equal(d.get('ExecReload'), '/bin/kill -HUP $MAINPID');
});

test('systemd-analyze verify accepts it without a warning', (t) => {
  if (!requirePeer(t, 'systemd-analyze', 'systemd')) return;
  const file = path.join(dir, 'app.service');
  fs.writeFileSync(file, localUnit(documentedUnit(), BASE));
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', timeout: 30_000 });
  const said = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes('app.service'));
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.deepEqual(said, []);
  // The check is a real one: a misspelt directive is reported.
  fs.writeFileSync(file, localUnit(documentedUnit(), BASE).replace('KillMode=mixed', 'KillMode=mixd'));
  const bad = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', timeout: 30_000 });
  assert.match(`${bad.stdout}${bad.stderr}`, /app\.service:\d+: Failed to parse kill mode/);
});

test('its ExecStart= notifies from the main pid; ExecReload= reloads; SIGTERM to the main pid stops everything', async (t) => {
  if (!have('python3')) {
    assert.ok(process.env.CI !== 'true', 'CI must run this test: python3 is missing');
    t.skip('needs python3 (the test\'s notify receiver; Debian package python3)');
    return;
  }
  const port = await freePort();
  const statsPort = await freePort();
  const run = path.join(dir, 'run');
  fs.mkdirSync(run);  // RuntimeDirectory=
  const d = directives(localUnit(documentedUnit(), [...BASE, ['127.0.0.1:8000', `127.0.0.1:${port}`],
    ['127.0.0.1:9191', `127.0.0.1:${statsPort}`], ['/run/app/', `${run}/`]]));
  const exec = d.get('ExecStart')!.split(/\s+/);
  assert.equal(exec[0], process.execPath);
  assert.equal(exec[1], TSGI_BIN);

  const sock = path.join(dir, 'notify.sock');
  const receiver = spawn('python3', ['-c', NOTIFY_RECEIVER, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  let got = '';
  receiver.stdout!.setEncoding('utf8').on('data', (c: string) => { got += c; });
  let m: Master | undefined;
  const until = async (ok: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 15_000;
    while (!ok()) {
      assert.ok(Date.now() < deadline, `no ${what}; log:\n${m?.log() ?? ''}\nreceived:\n${got}`);
      await delay(20);
    }
  };
  try {
    await until(() => got.includes('bound'), 'receiver');
    m = new Master(exec.slice(2), { cwd: d.get('WorkingDirectory')!, env: { NOTIFY_SOCKET: sock } });
    await until(() => /READY=1/.test(got), 'READY=1');
    assert.match(got, new RegExp(`READY=1 MAINPID=${m.pid}( |$)`, 'm'));
    assert.equal(fs.readFileSync(path.join(run, 'app.pid'), 'utf8').trim(), String(m.pid));
    await m.ready();
    assert.equal((await get(port)).body, 'hello from the unit\n');

    const before = m.workerPids();
    const reload = d.get('ExecReload')!.replace('$MAINPID', String(m.pid)).split(/\s+/);
    assert.equal(spawnSync(reload[0]!, reload.slice(1)).status, 0);
    await until(() => (got.match(/READY=1/g) ?? []).length === 2, 'READY=1 after ExecReload=');
    assert.match(got, /RELOADING=1 MONOTONIC_USEC=\d+/);
    await until(() => m!.workerPids().every((p) => !before.includes(p)), 'the old workers\' exit');
    const workers = m.workerPids();
    assert.equal(workers.length, before.length);
    for (const p of workers) assert.ok(!before.includes(p), 'every worker replaced');

    m.signal('SIGTERM');  // KillMode=mixed: the main process only
    const exit = await m.exited;
    assert.equal(exit.code, 0);
    assert.match(got, /STOPPING=1/);
    for (const p of [...before, ...workers]) assert.ok(!alive(p), `worker ${p} outlived the master`);
    await new Promise<void>((resolve, reject) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => { c.destroy(); reject(new Error('the port still accepts after the stop')); });
      c.once('error', () => resolve());
    });
  } finally {
    receiver.kill();
    await m?.cleanup();
  }
});
