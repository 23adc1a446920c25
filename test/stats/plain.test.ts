// Plain --stats (uWSGI's form: connect, read one JSON document, closed), the
// address forms, and a stats address that cannot be used stopping the start.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import { TsgiProcess, runTsgi } from '../helpers/tsgi-process.js';
import { Master, get } from '../master/helpers.js';
import { ROOT } from '../helpers/index.js';
import { APP, OK_BODY, dir } from './app.js';
import { readPlain } from './helpers.js';

const { parseStatsAddress } = require(path.join(ROOT, 'dist/stats/server.js')) as {
  parseStatsAddress(raw: string): { http: boolean; host?: string; port?: number; path?: string; raw: string };
};

test('address forms: a bare port or :port binds loopback; unix, abstract, IPv6, http://', () => {
  assert.deepEqual(parseStatsAddress('9191'), { http: false, host: '127.0.0.1', port: 9191, raw: '9191' });
  assert.deepEqual(parseStatsAddress(':9191'), { http: false, host: '127.0.0.1', port: 9191, raw: ':9191' });
  assert.deepEqual(parseStatsAddress('http://:9191'), { http: true, host: '127.0.0.1', port: 9191, raw: 'http://:9191' });
  assert.deepEqual(parseStatsAddress('0.0.0.0:9191'), { http: false, host: '0.0.0.0', port: 9191, raw: '0.0.0.0:9191' });
  assert.deepEqual(parseStatsAddress('[::1]:9191'), { http: false, host: '::1', port: 9191, raw: '[::1]:9191' });
  assert.deepEqual(parseStatsAddress('/run/s.sock'), { http: false, path: '/run/s.sock', raw: '/run/s.sock' });
  assert.deepEqual(parseStatsAddress('http://@stats'), { http: true, path: '\0stats', raw: 'http://@stats' });
  for (const bad of ['https://:9191', 'tcp://1.2.3.4:5', 'host', '70000', '1.2.3.4:', '']) {
    assert.throws(() => parseStatsAddress(bad), /--stats/, bad);
  }
});

test('single process: one JSON document per connection, then the connection is closed', async () => {
  const p = new TsgiProcess(['--http', '127.0.0.1:0', '--stats', '127.0.0.1:0', APP]);
  try {
    await p.ready();
    const port = Number((await p.waitFor(/^tsgi: stats on 127\.0\.0\.1:(\d+) \(one JSON document per connection\)$/m))[1]);
    for (let i = 0; i < 3; i++) assert.equal((await get(p.port, '/')).body, OK_BODY);
    const doc = await readPlain(port) as any;
    assert.equal(doc.workers[0].requests, 3);
    assert.equal(doc.sockets[0].name, `127.0.0.1:${p.port}`);
  } finally {
    await p.stop();
  }
});

test('master on a unix stats socket: the document, a blocked worker\'s accept queue, the socket file gone at exit', async () => {
  const sock = path.join(dir, 'stats.sock');
  const m = new Master(['--processes', '1', '--http', '127.0.0.1:0', '--stats', sock, APP]);
  try {
    await m.ready();
    assert.equal((await get(m.port, '/')).body, OK_BODY);
    const doc = await readPlain(sock) as any;
    assert.equal(doc.mode, 'master');
    assert.equal(doc.workers.length, 1);
    assert.equal(doc.workers[0].id, 1);
    assert.equal(doc.workers[0].requests, 1);
    // The one worker's loop blocked: new connections wait in the accept
    // queue, which the master reads from /proc/net/tcp.
    const blocked = get(m.port, '/block');
    await new Promise((r) => setTimeout(r, 200));
    const waiting = await Promise.all(Array.from({ length: 5 }, () => new Promise<net.Socket>((resolve, reject) => {
      const c = net.connect(m.port, '127.0.0.1', () => resolve(c));
      c.on('error', reject);
    })));
    const queued = await readPlain(sock) as any;
    assert.equal(queued.sockets[0].queue, 5, JSON.stringify(queued.sockets));
    assert.equal(queued.listen_queue, 5);
    assert.ok(queued.workers[0].report_age >= 200, 'a blocked worker cannot answer: its last report is used');
    for (const c of waiting) c.destroy();
    assert.equal((await blocked).body, OK_BODY);
    m.signal('SIGTERM');
    assert.equal((await m.waitExit()).code, 0);
    assert.equal(fs.existsSync(sock), false);
  } finally {
    await m.cleanup();
  }
});

test('a stats address in use or malformed stops the start with a message', async () => {
  const busy = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => busy.once('listening', r));
  try {
    const port = (busy.address() as net.AddressInfo).port;
    const inUse = runTsgi(['--http', '127.0.0.1:0', '--stats', String(port), APP]);
    assert.equal(inUse.code, 1, inUse.stderr);
    assert.match(inUse.stderr, new RegExp(`--stats ${port}: .*EADDRINUSE`));
    const inUseMaster = runTsgi(['--processes', '1', '--http', '127.0.0.1:0', '--stats', `http://127.0.0.1:${port}`, APP]);
    assert.equal(inUseMaster.code, 1, inUseMaster.stderr);
    assert.doesNotMatch(inUseMaster.stderr, /worker/);
    const bad = runTsgi(['--http', '127.0.0.1:0', '--stats', 'https://:9191', APP]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--stats https:\/\/:9191: only http:\/\//);
  } finally {
    busy.close();
  }
});
