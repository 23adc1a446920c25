// The files the core answers are in the access log and the stats like the
// app's replies: under a master with two workers, set up from a config
// file, over HTTP and uwsgi. Each line carries the status and body bytes the
// core sent (0 for HEAD and 304); the counters add them up.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Master, get } from '../master/helpers.js';
import { rawRequest, tempDir } from '../helpers/index.js';
import { fetchText, parseMetrics, sample } from '../stats/helpers.js';

const dir = tempDir('tsgi-static-accounting-');
const pub = path.join(dir, 'public');
const LOG = path.join(dir, 'access.log');
const SOCK = path.join(dir, 'uwsgi.sock');
const FILE = 'x'.repeat(3000);  // over the stats' small numbers, under the memory limit
const STATS_LINE = /^tsgi: stats on http:\/\/127\.0\.0\.1:(\d+)/m;
let m: Master;
let statsUrl = '';

/** A uwsgi request for `uri` over the unix socket; the reply's bytes. */
function uwsgi(method: string, uri: string): Promise<Buffer> {
  const vars: Array<[string, string]> = [['REQUEST_METHOD', method], ['REQUEST_URI', uri], ['PATH_INFO', uri],
    ['QUERY_STRING', ''], ['SERVER_PROTOCOL', 'HTTP/1.1'], ['SERVER_NAME', 'x'], ['SERVER_PORT', '80'],
    ['REMOTE_ADDR', '10.1.2.3'], ['HTTP_HOST', 'x']];
  const parts: Buffer[] = [];
  for (const [k, v] of vars) {
    for (const s of [k, v]) {
      const len = Buffer.alloc(2);
      len.writeUInt16LE(Buffer.byteLength(s));
      parts.push(len, Buffer.from(s));
    }
  }
  const body = Buffer.concat(parts);
  const head = Buffer.from([0, 0, 0, 0]);
  head.writeUInt16LE(body.length, 1);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(SOCK, () => s.end(Buffer.concat([head, body])));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

async function until<T>(what: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const got = what();
    if (got !== undefined) return got;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  fs.mkdirSync(pub, { recursive: true });
  fs.writeFileSync(path.join(pub, 'a.txt'), FILE);
  fs.writeFileSync(path.join(dir, 'app.js'), "module.exports = () => ({ body: 'app' });\n");
  // The static options from the file, as a deployment would keep them.
  fs.writeFileSync(path.join(dir, 'tsgi.ini'), [
    '[tsgi]', 'processes = 2', `static-map = /static=${pub}`, `access-log = ${LOG}`,
    `socket = ${SOCK}`, 'stats = http://127.0.0.1:0', `app = ${path.join(dir, 'app.js')}`, ''].join('\n'));
  m = new Master(['--http', '127.0.0.1:0', '--config', path.join(dir, 'tsgi.ini')]);
  await m.ready();
  statsUrl = `http://127.0.0.1:${STATS_LINE.exec(m.log())![1]}`;
});

after(async () => {
  await m.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('answered files are logged with their status and bytes, and counted in the stats', async () => {
  const GETS = 6;
  for (let i = 0; i < GETS; i++) {
    const r = await get(m.port, '/static/a.txt');
    assert.equal(r.status, 200);
    assert.equal(r.body, FILE);
  }
  const head = await rawRequest(m.port, 'HEAD /static/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(head.data.toString('latin1'), /^HTTP\/1\.1 200 /);
  const missing = await get(m.port, '/static/none.txt');
  assert.equal(missing.status, 404);
  const notModified = await rawRequest(m.port, 'GET /static/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' +
    'If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n\r\n');
  assert.match(notModified.data.toString('latin1'), /^HTTP\/1\.1 304 /);
  const overUwsgi = (await uwsgi('GET', '/static/a.txt')).toString('latin1');
  assert.match(overUwsgi, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(overUwsgi.endsWith(FILE));
  assert.equal((await get(m.port, '/app')).body, 'app');

  const lines = await until(() => {
    const text = fs.existsSync(LOG) ? fs.readFileSync(LOG, 'utf8') : '';
    const all = text.split('\n').filter(Boolean);
    return all.length >= GETS + 5 ? all : undefined;
  });
  const of = (re: RegExp) => lines.filter((l) => re.test(l));
  assert.equal(of(/"GET \/static\/a\.txt HTTP\/1\.1" 200 3000 /).length, GETS + 1, lines.join('\n'));
  assert.equal(of(/"HEAD \/static\/a\.txt HTTP\/1\.1" 200 0 /).length, 1, lines.join('\n'));
  assert.equal(of(/"GET \/static\/none\.txt HTTP\/1\.1" 404 \d+ /).length, 1, lines.join('\n'));
  assert.equal(of(/"GET \/static\/a\.txt HTTP\/1\.1" 304 0 /).length, 1, lines.join('\n'));
  assert.equal(of(/^10\.1\.2\.3 .*"GET \/static\/a\.txt HTTP\/1\.1" 200 3000 /).length, 1, 'the uwsgi one, by REMOTE_ADDR');
  assert.equal(of(/"GET \/app HTTP\/1\.1" 200 3 /).length, 1, lines.join('\n'));
  assert.equal(lines.length, GETS + 5);

  // Workers report to the master about once a second.
  const total = GETS + 5;
  const deadline = Date.now() + 10_000;
  let json: any;
  for (;;) {
    json = JSON.parse((await fetchText(`${statsUrl}/`)).body);
    const n = json.workers.reduce((s: number, w: any) => s + w.requests, 0);
    if (n >= total || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const sum = (f: (w: any) => number) => json.workers.reduce((n: number, w: any) => n + f(w), 0);
  assert.equal(sum((w) => w.requests), total);
  assert.equal(sum((w) => w.responses['2xx']), GETS + 3);
  assert.equal(sum((w) => w.responses['3xx']), 1);
  assert.equal(sum((w) => w.responses['4xx']), 1);
  const notFoundBytes = Buffer.byteLength(missing.body);
  assert.equal(sum((w) => w.tx), (GETS + 1) * FILE.length + notFoundBytes + 3);
  const met = parseMetrics((await fetchText(`${statsUrl}/metrics`)).body);
  let requests = 0;
  for (const w of json.workers) requests += sample(met, 'tsgi_requests_total', { worker: String(w.id) });
  assert.equal(requests, total);
});
