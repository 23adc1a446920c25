// `tsgi bench` against tsgi over all four protocols (TCP and unix sockets):
// every reply counts, requests/s and latency come out, --requests stops at
// exactly that many, pipelining and multiplexing keep several requests on a
// connection, a POST body goes out whole, --rate holds its rate, and a
// reply the checks refuse counts as an error of its kind.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serve, type ServerHandle } from 'tsgi';
import type { Request } from 'tsgi';
import { tempDir } from '../helpers/index.js';
import { freePort } from '../helpers/peers.js';
import { bench, result } from './helpers.js';

const BODY = 'Hello, World!\n';
const dir = tempDir('tsgi-bench-');
let server: ServerHandle;
const targets: Record<string, string> = {};

before(async () => {
  const [h, u, s, f] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  Object.assign(targets, {
    http: `127.0.0.1:${h}`, uwsgi: `127.0.0.1:${u}`, scgi: `127.0.0.1:${s}`, fastcgi: `127.0.0.1:${f}`,
    'uwsgi unix': path.join(dir, 'uwsgi.sock'), 'fastcgi unix': path.join(dir, 'fcgi.sock'),
  });
  // /echo sends the request body back; anything else is the hello world.
  // (nginx's fastcgi.conf, which the tool sends, has SCRIPT_NAME and no PATH_INFO.)
  server = serve(async (req: Request) => {
    if (req.SCRIPT_NAME + req.PATH_INFO === '/echo') return { headers: [['content-type', 'application/octet-stream']], body: await req.body.bytes(1 << 20) };
    return { headers: [['content-type', 'text/plain']], body: BODY };
  }, {
    listen: [`http://${targets.http}`, `uwsgi://${targets.uwsgi}`, `scgi://${targets.scgi}`, `fastcgi://${targets.fastcgi}`,
      `uwsgi://${targets['uwsgi unix']}`, `fastcgi://${targets['fastcgi unix']}`],
  });
});
after(async () => {
  await server.close(1000);
  fs.rmSync(dir, { recursive: true, force: true });
});

const protocolOf = (name: string) => name.split(' ')[0]!;

describe('every protocol, closed loop', () => {
  for (const name of ['http', 'uwsgi', 'scgi', 'fastcgi', 'uwsgi unix', 'fastcgi unix']) {
    test(`${name}: every reply valid, latency per reply, one count per second`, async () => {
      const r = result(await bench(['-p', protocolOf(name), '-c', '8', '-d', '1s', '--expect-body-length', '14', targets[name]!]));
      assert.equal(r.errors.total, 0, JSON.stringify(r.errors));
      assert.ok(r.requests > 50, `${r.requests} requests`);
      assert.equal(r.latency_us.count, r.requests);
      assert.ok(r.latency_us.p50 > 0 && r.latency_us.p50 <= r.latency_us.p99 && r.latency_us.p99 <= r.latency_us.max);
      assert.ok(Math.abs(r.elapsed_s - 1) < 0.05, `elapsed ${r.elapsed_s}`);
      assert.ok(Math.abs(r.rps - r.requests / r.elapsed_s) < 1);
      assert.ok(r.per_second.length >= 1 && r.per_second.length <= 2, JSON.stringify(r.per_second));
      assert.equal(r.per_second.reduce((a, [n]) => a + n, 0), r.requests);
      assert.ok(r.bytes_in >= r.requests * BODY.length);
      // uwsgi and SCGI: a connection per request; HTTP and FastCGI keep theirs.
      if (/uwsgi|scgi/.test(name)) assert.ok(r.connects >= r.requests);
      else assert.equal(r.connects, 8);
    });
  }
});

test('--requests N stops after exactly N valid replies, whichever the protocol and thread count', async () => {
  for (const name of ['http', 'uwsgi', 'fastcgi unix']) {
    const r = result(await bench(['-p', protocolOf(name), '-c', '10', '-t', '2', '-n', '777', targets[name]!]));
    assert.equal(r.requests, 777, name);
    assert.equal(r.errors.total, 0, name);
  }
});

test('HTTP --pipeline and FastCGI --multiplex keep several requests in flight on each connection', async () => {
  const p = result(await bench(['-c', '4', '--pipeline', '16', '-d', '1s', '--expect-body-length', '14', targets.http!]));
  assert.equal(p.errors.total, 0, JSON.stringify(p.errors));
  assert.equal(p.connects, 4);
  assert.ok(p.requests > 100);
  const m = result(await bench(['-p', 'fastcgi', '-c', '2', '--multiplex', '16', '-d', '1s', '--expect-body-length', '14',
    targets['fastcgi unix']!]));
  assert.equal(m.errors.total, 0, JSON.stringify(m.errors));
  assert.equal(m.connects, 2);
  assert.ok(m.requests > 100);
  const n = result(await bench(['-p', 'fastcgi', '-c', '4', '--no-keep-conn', '-n', '200', targets.fastcgi!]));
  assert.equal(n.requests, 200);
  assert.ok(n.connects >= 200, `${n.connects} connections for 200 requests without FCGI_KEEP_CONN`);
});

test('a 64 KiB POST body goes out whole over every protocol (the app echoes it)', async () => {
  const file = path.join(dir, 'body.bin');
  fs.writeFileSync(file, Buffer.alloc(64 * 1024, 'x'));
  for (const name of ['http', 'uwsgi', 'scgi', 'fastcgi', 'fastcgi unix']) {
    const r = result(await bench(['-p', protocolOf(name), '-c', '4', '-n', '100', '-m', 'POST', '--body-file', file,
      '-H', 'Content-Type: application/octet-stream', '--expect-body-length', String(64 * 1024), targets[name]! , '/echo']));
    assert.equal(r.requests, 100, `${name}: ${JSON.stringify(r.errors)}`);
    assert.ok(r.bytes_out >= 100 * 64 * 1024, name);
  }
});

test('--rate holds its rate (open loop) within 10 %, on each second too', async () => {
  for (const name of ['http', 'fastcgi']) {
    const r = result(await bench(['-p', name, '-c', '8', '-R', '400', '-d', '3s', targets[name]!]));
    assert.equal(r.mode, 'open');
    assert.equal(r.errors.total, 0);
    assert.ok(Math.abs(r.requests - 1200) <= 120, `${name}: ${r.requests} requests in 3 s at 400/s`);
    for (const [n] of r.per_second.slice(0, 3)) assert.ok(n >= 320 && n <= 480, `${name}: a second with ${n} requests`);
  }
});

test('replies the checks refuse are errors of their kind, not requests', async () => {
  const s = result(await bench(['-p', 'scgi', '-c', '4', '-n', '50', '--expect-status', '404', targets.scgi!]));
  assert.equal(s.requests, 0);
  assert.equal(s.errors.status, 50);
  const l = result(await bench(['-c', '4', '-n', '50', '--expect-body-length', '13', targets.http!]));
  assert.equal(l.requests, 0);
  assert.equal(l.errors.length, 50);
  const code = await bench(['-c', '4', '-n', '5', '--expect-status', '500', targets.http!]);
  assert.equal(code.code, 1, 'exit status 1 when no reply was valid');
});

test('without --json: a summary a person reads; usage errors exit 2', async () => {
  const r = await bench(['-p', 'uwsgi', '-c', '2', '-d', '300ms', `uwsgi://${targets.uwsgi}`], { plain: true });
  assert.equal(r.code, 0, r.stderr);
  for (const label of ['requests/s', 'latency', 'p99.9', 'errors', 'client CPU']) assert.match(r.stdout, new RegExp(label));
  assert.doesNotMatch(r.stderr, /\r/, 'no progress line when stderr is not a terminal');
  for (const args of [['--pipeline', '2', '-p', 'uwsgi', targets.uwsgi!], ['--param', 'A=1', targets.http!],
    ['-c', '0', targets.http!], ['-d', 'soon', targets.http!], []]) {
    const u = await bench(args, { plain: true });
    assert.equal(u.code, 2, `${args.join(' ')}: ${u.stderr}`);
    assert.match(u.stderr, /^tsgi bench: /);
  }
});
