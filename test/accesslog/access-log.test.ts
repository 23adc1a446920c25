// --access-log: one line per request, combined (Apache/nginx) or JSON, each
// checked against the requests that were really made; reopened on SIGUSR1
// after logrotate's rename; under a master each worker writes its own lines.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { delay, rawRequest, tempDir, until } from '../helpers/index.js';
import { TsgiProcess } from '../helpers/tsgi-process.js';

const dir = tempDir('tsgi-accesslog-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const APP = path.join(dir, 'app.js');
fs.writeFileSync(APP, `
module.exports = async (req) => {
  if (req.PATH_INFO === '/missing') return { status: 404, body: 'nope' };
  if (req.PATH_INFO === '/stream') return { body: (async function* () { yield 'ab'; yield new Uint8Array(3); yield 'é'; })() };
  if (req.PATH_INFO === '/throw') throw new Error('boom');
  const body = await req.body.text();
  return { headers: { 'content-type': 'text/plain' }, body: 'got ' + body.length + ' ' + req.PATH_INFO };
};
`);

interface Sent { method: string; path: string; status: number; bytes: number; ua: string; referer?: string }

/** A varied set of real requests; what each should log. */
async function traffic(port: number, n: number): Promise<Sent[]> {
  const sent: Sent[] = [];
  for (let i = 0; i < n; i++) {
    const ua = `agent-${i} "quoted"`;
    const kind = i % 5;
    const p = kind === 0 ? `/missing?i=${i}` : kind === 1 ? '/stream' : kind === 2 ? '/throw' : `/x/${i}?q=a%20b`;
    const method = kind === 3 ? 'POST' : 'GET';
    const headers: Record<string, string> = { 'user-agent': ua };
    if (i % 2 === 0) headers.referer = `http://example.com/from/${i}`;
    const r = await fetch(`http://127.0.0.1:${port}${p}`, { method, headers, body: method === 'POST' ? 'x'.repeat(i) : undefined });
    const body = Buffer.from(await r.arrayBuffer());
    sent.push({ method, path: p, status: r.status, bytes: body.length, ua, referer: headers.referer });
  }
  return sent;
}

async function lines(file: string, n: number): Promise<string[]> {
  await until(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8').split('\n').length > n, 5000, `${n} lines in ${file}`);
  return fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);
}

test('JSON format: one object per request with its method, URI, status, bytes, duration, peer, protocol, worker, pid, agent, referer', async () => {
  const log = path.join(dir, 'json.log');
  const t = new TsgiProcess(['--http', '127.0.0.1:0', '--access-log', log, '--access-log-format', 'json', APP]);
  try {
    await t.ready();
    const sent = await traffic(t.port, 40);
    const got = (await lines(log, 40)).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(got.length, 40);
    for (let i = 0; i < 40; i++) {
      const s = sent[i]!;
      const g = got[i]!;
      assert.equal(g.method, s.method);
      assert.equal(g.uri, s.path);
      assert.equal(g.status, s.status);
      assert.equal(g.bytes, s.bytes, `bytes of ${s.path}`);
      assert.equal(g.remote, '127.0.0.1');
      assert.equal(g.protocol, 'HTTP/1.1');
      assert.equal(g.listener, 'http');
      assert.equal(g.worker, 0);
      assert.equal(g.pid, t.pid);
      assert.equal(g.user_agent, s.ua);
      assert.equal(g.referer, s.referer ?? null);
      assert.equal(typeof g.duration_ms, 'number');
      assert.ok((g.duration_ms as number) >= 0 && (g.duration_ms as number) < 5000);
      assert.ok(Math.abs(Date.parse(g.ts as string) - Date.now()) < 60_000);
    }
    assert.deepEqual(new Set(got.map((g) => g.status)), new Set([404, 200, 500]));
  } finally {
    await t.stop();
  }
});

// %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i", with nginx's \\xHH escapes.
const COMBINED = /^(\S+) - - \[(\d\d)\/([A-Z][a-z]{2})\/(\d{4}):(\d\d):(\d\d):(\d\d) \+0000\] "(\S+) (\S+) (HTTP\/1\.[01])" (\d{3}) (\d+) "((?:[^"\\]|\\x[0-9a-f]{2})*)" "((?:[^"\\]|\\x[0-9a-f]{2})*)"$/;
const unescape = (s: string): string => s.replace(/\\x([0-9a-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));

test('combined format: Apache/nginx combined lines, quotes escaped; reopened on SIGUSR1 after a rename (logrotate)', async () => {
  const log = path.join(dir, 'combined.log');
  const t = new TsgiProcess(['--http', '127.0.0.1:0', '--access-log', log, APP]);
  try {
    await t.ready();
    const sent = await traffic(t.port, 20);
    const got = await lines(log, 20);
    assert.equal(got.length, 20);
    got.forEach((line, i) => {
      const m = COMBINED.exec(line);
      assert.ok(m, line);
      const s = sent[i]!;
      assert.equal(m[1], '127.0.0.1');
      assert.equal(`${m[8]} ${m[9]}`, `${s.method} ${s.path}`);
      assert.equal(Number(m[11]), s.status);
      assert.equal(Number(m[12]), s.bytes);
      assert.equal(unescape(m[13]!), s.referer ?? '-');
      assert.equal(unescape(m[14]!), s.ua);
    });

    // logrotate: rename, then SIGUSR1; the next lines go to a new file at the path.
    fs.renameSync(log, `${log}.1`);
    await fetch(`http://127.0.0.1:${t.port}/before-reopen`).then((r) => r.text());
    process.kill(t.pid, 'SIGUSR1');
    await delay(100);
    await fetch(`http://127.0.0.1:${t.port}/after-reopen`).then((r) => r.text());
    const fresh = await lines(log, 1);
    assert.equal(fresh.length, 1);
    assert.match(fresh[0]!, /"GET \/after-reopen HTTP\/1\.1" 200 /);
    const old = fs.readFileSync(`${log}.1`, 'utf8');
    assert.match(old, /"GET \/before-reopen HTTP\/1\.1" 200 /);
    assert.doesNotMatch(old, /after-reopen/);
    assert.doesNotMatch(t.log(), /Debugger listening/);
  } finally {
    await t.stop();
  }
});

test('under a master: every worker appends its own lines (worker id and pid), SIGUSR1 to the master reopens them all', async () => {
  const log = path.join(dir, 'master.log');
  const t = new TsgiProcess(['--http', '127.0.0.1:0', '--processes', '2', '--access-log', log, '--access-log-format', 'json', APP]);
  try {
    await t.ready();
    await t.waitFor(/^tsgi: 2 workers ready$/m);
    // New connections spread over both workers.
    for (let i = 0; i < 60; i++) await fetch(`http://127.0.0.1:${t.port}/n/${i}`, { headers: { connection: 'close' } }).then((r) => r.text());
    const got = (await lines(log, 60)).map((l) => JSON.parse(l) as { uri: string; worker: number; pid: number });
    assert.equal(got.length, 60);
    assert.deepEqual(new Set(got.map((g) => g.uri)), new Set(Array.from({ length: 60 }, (_, i) => `/n/${i}`)));
    const pids = new Map(got.map((g) => [g.worker, g.pid]));
    assert.ok([...pids.keys()].every((w) => w === 1 || w === 2));
    assert.ok(pids.size >= 1);

    fs.renameSync(log, `${log}.1`);
    process.kill(t.pid, 'SIGUSR1');
    await delay(200);
    for (let i = 0; i < 20; i++) await fetch(`http://127.0.0.1:${t.port}/m/${i}`, { headers: { connection: 'close' } }).then((r) => r.text());
    const fresh = (await lines(log, 20)).map((l) => JSON.parse(l) as { uri: string });
    assert.equal(fresh.length, 20);
    assert.ok(fresh.every((g) => g.uri.startsWith('/m/')));
    assert.doesNotMatch(t.log(), /Debugger listening/);
  } finally {
    await t.stop();
  }
  // Stopping flushed every worker's queue: nothing lost.
  assert.equal(fs.readFileSync(log, 'utf8').split('\n').length - 1, 20);
});

test('"-" writes to stdout; two workers sharing the pipe never split a line; raw UTF-8 bytes come out as text in JSON', async () => {
  const t = new TsgiProcess(['--http', '127.0.0.1:0', '--processes', '2', '--access-log', '-', '--access-log-format', 'json', APP]);
  try {
    await t.ready();
    await t.waitFor(/^tsgi: 2 workers ready$/m);
    const ua = Buffer.from('agent-é-✓', 'utf8');
    const head = Buffer.concat([Buffer.from('GET /utf8 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nUser-Agent: '), ua, Buffer.from('\r\n\r\n')]);
    await rawRequest(t.port, head);
    await Promise.all(Array.from({ length: 8 }, async (_, c) => {
      for (let i = 0; i < 25; i++) await fetch(`http://127.0.0.1:${t.port}/p/${c}/${i}`, { headers: { connection: 'close' } }).then((r) => r.text());
    }));
    await until(() => t.stdout().split('\n').length > 201, 5000, '201 lines on stdout');
    const got = t.stdout().split('\n').slice(0, -1).map((l) => JSON.parse(l) as { uri: string; user_agent: string });
    assert.equal(got.length, 201);
    assert.equal(got.find((g) => g.uri === '/utf8')?.user_agent, 'agent-é-✓');
  } finally {
    await t.stop();
  }
});
