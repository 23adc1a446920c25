// The `tsgi` command with uwsgi and SCGI listeners: `node bin/tsgi` as a user
// runs it. --socket (-s, --uwsgi-socket), --scgi-socket and --http serve side
// by side; --allow-from is checked at start-up.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { tempDir } from '../helpers/index.js';
import { runToExit, TsgiProcess } from '../helpers/tsgi-process.js';
import { assertServes, exchange, HEALTH, uwsgiRequest, type Listener } from '../helpers/cgi-client.js';
import { freePort } from '../helpers/peers.js';

const dir = tempDir('tsgi-cgi-cli-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const APP = path.join(dir, 'app.js');
fs.writeFileSync(APP, `module.exports = (req) => ({
  body: (req.PATH_INFO === ${JSON.stringify(HEALTH)} ? 'healthy ' : 'app ') + req.tsgi.protocol,
});\n`);

/** "uwsgi://127.0.0.1:3031", "scgi:///tmp/x.sock", "http://[::1]:80" as printed in a "serving" line. */
function listenerOf(where: string): Listener {
  const m = /^(http|uwsgi|scgi):\/\/(.*)$/.exec(where);
  assert.ok(m, `bad address in a serving line: ${where}`);
  const protocol = m[1] as Listener['protocol'];
  const tcp = /^\[?([^\]]*?)\]?:(\d+)$/.exec(m[2]!);
  if (tcp && !m[2]!.startsWith('/')) return { protocol, target: { host: tcp[1]!, port: Number(tcp[2]) }, label: where };
  return { protocol, target: m[2]!, label: where };
}

/** Starts tsgi, waits for `count` serving lines; their listeners. */
async function start(args: string[], count: number): Promise<{ p: TsgiProcess; listeners: Listener[] }> {
  const p = await TsgiProcess.start(args, { listeners: count });
  return { p, listeners: p.where.map(listenerOf) };
}

/** SIGTERM, then a bounded wait for exit 0. */
async function stop(r: { p: TsgiProcess }): Promise<void> {
  const e = await r.p.terminate();
  assert.equal(e.code, 0, `tsgi exited ${e.code ?? e.signal}; stderr:\n${e.stderr}`);
}

test('--socket, --scgi-socket and --http serve all three at once; the socket file is removed on exit', async () => {
  const [p1, p2] = [await freePort(), await freePort()];
  const sock = path.join(dir, 's.sock');
  const r = await start(['--socket', `127.0.0.1:${p1}`, '--scgi-socket', sock, '--http', `127.0.0.1:${p2}`, APP], 3);
  try {
    const byProto = Object.fromEntries(r.listeners.map((l) => [l.protocol, l]));
    assert.deepEqual(byProto['uwsgi']!.target, { host: '127.0.0.1', port: p1 });
    assert.equal(byProto['scgi']!.target, sock);
    assert.deepEqual(byProto['http']!.target, { host: '127.0.0.1', port: p2 });
    await Promise.all(r.listeners.map(assertServes));
    for (const l of r.listeners) await assertServes(l);
  } finally {
    await stop(r);
  }
  assert.equal(fs.existsSync(sock), false, 'the SCGI socket file was left behind');
});

test('-s and --uwsgi-socket (also as --uwsgi-socket=ADDR) are aliases of --socket', async () => {
  const sock = path.join(dir, 'u.sock');
  const r = await start(['-s', '127.0.0.1:0', '--uwsgi-socket', sock, `--uwsgi-socket=127.0.0.1:0`, APP], 3);
  try {
    assert.deepEqual(r.listeners.map((l) => l.protocol), ['uwsgi', 'uwsgi', 'uwsgi']);
    for (const l of r.listeners) await assertServes(l);
  } finally {
    await stop(r);
  }
});

test('--allow-from bad exits non-zero with one line naming it', async () => {
  for (const bad of ['bad', 'not-an-ip', '10.0.0.0/40']) {
    const r = await runToExit(['--allow-from', bad, '--socket', '127.0.0.1:0', APP]);
    assert.notEqual(r.code, 0, `--allow-from ${bad} was accepted`);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
    assert.match(lines[0]!, /^tsgi: /);
    assert.ok(lines[0]!.includes(bad), `"${bad}" not named in: ${lines[0]}`);
  }
});

test('--allow-from 10.0.0.0/8: the TCP uwsgi socket refuses 127.0.0.1, a unix socket and --http still serve', async () => {
  const sock = path.join(dir, 'a.sock');
  const r = await start(['--allow-from', '10.0.0.0/8', '--socket', '127.0.0.1:0', '--socket', sock,
    '--http', '127.0.0.1:0', APP], 3);
  try {
    const tcp = r.listeners.find((l) => l.protocol === 'uwsgi' && typeof l.target === 'object');
    const unix = r.listeners.find((l) => l.protocol === 'uwsgi' && typeof l.target === 'string');
    const http = r.listeners.find((l) => l.protocol === 'http');
    const refused = await exchange(tcp!.target, uwsgiRequest('/'), { timeoutMs: 3000 });
    assert.ok(refused.closed);
    assert.equal(refused.data.length, 0);
    await assertServes(unix!);
    await assertServes(http!);
    await r.p.waitFor(/allow-list/, 1, 2000);
  } finally {
    await stop(r);
  }
});

test('--allow-from bad is refused even when only --http is given', async () => {
  const p = new TsgiProcess(['--allow-from', 'bad', '--http', '127.0.0.1:0', APP]);
  // Accepted, it prints a serving line: no need to wait for its exit then.
  await p.waitFor(/serving/, 1, 10_000).then(() => p.stop(0), () => undefined);
  const { code, stderr: err } = await p.waitExit(10_000);
  assert.doesNotMatch(err, /serving/, 'tsgi started serving');
  assert.notEqual(code, 0);
  assert.match(err, /bad/);
});
