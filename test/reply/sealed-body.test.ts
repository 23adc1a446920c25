// A sealed body (seal(bytes)) as the reply body: copied once at seal(), sent
// with sendfile from a duplicate of its descriptor over HTTP, uwsgi and SCGI,
// streamed over FastCGI, read back by `tsgi --cgi` and toNodeListener. The
// bytes cannot be changed by anyone; close() while replies are in flight lets
// them finish; a Content-Length that disagrees, or a body already closed, is a
// 500 before the head and the server goes on; no descriptor is left open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { seal, serve, toNodeListener, type App, type Request, type SealedBody } from 'tsgi';
import { binding } from 'tsgi/native';
import { ask as askCgi, targetOf, parseCgiReply, scgiGood, uwsgiRequest, values, type Target } from '../helpers/cgi-client.js';
import { ask as askFcgi, fcgiVars, parseRecords, parseStdout, request as fcgiRequest, T } from '../helpers/fcgi-client.js';
import { captureLog, delay, header, parseResponses, rawRequest, ROOT, tempDir } from '../helpers/index.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const openFds = () => fs.readdirSync('/proc/self/fd').length;
const KIND = binding.platform().sealed;

/** This process's descriptors that are sealed bodies (the app's and the core's duplicates), by number. */
function sealedFds(): Map<number, string> {
  const found = new Map<number, string>();
  for (const n of fs.readdirSync('/proc/self/fd')) {
    let link: string;
    try {
      link = fs.readlinkSync(`/proc/self/fd/${n}`);
    } catch {
      continue;  // the directory's own descriptor, gone by now
    }
    if (link.includes('tsgi-sealed')) found.set(Number(n), link);
  }
  return found;
}

async function settle(count: () => number, want: number, ms = 5000): Promise<void> {
  const started = Date.now();
  while (count() !== want && Date.now() - started < ms) await delay(20);
}

/**
 * How many sealed descriptors are open once those already let go are closed:
 * close() closes through libuv's pool, so an earlier test's may still be
 * going (one it leaked stays, and is not counted against the next test).
 */
async function sealedBaseline(): Promise<number> {
  await settle(() => sealedFds().size, 0, 1000);
  return sealedFds().size;
}

const BIG = randomBytes(12 * 1024 * 1024 + 13);
const TEXT = 'héllo, wörld: ✓ 😀 ';
const SMALL = 'small reply\n';

/**
 * The routes every protocol test uses, each body sealed once for every reply.
 * `noneLeft()` closes them and checks that every descriptor they held went.
 */
async function setup() {
  const baseline = await sealedBaseline();
  const big = seal(BIG);
  const empty = seal(new Uint8Array(0));
  const source = randomBytes(100_000);
  const copied = Buffer.from(source);
  const fromSource = seal(source);
  source.fill(0);  // after seal(): what is served must not change
  const text = seal(TEXT.repeat(100));
  const part = seal(BIG.subarray(1000, 71000));  // a view into a larger buffer: only its own bytes
  const closed = seal('gone');
  closed.close();
  const app = (req: Request) => {
    const q = new URLSearchParams(req.QUERY_STRING);
    const cl = q.has('cl') ? { 'Content-Length': q.get('cl')! } : {};
    const headers = { 'Content-Type': 'application/octet-stream', ...cl };
    switch (req.PATH_INFO) {
      case '/big': return { headers, body: big };
      case '/empty': return { headers, body: empty };
      case '/source': return { headers, body: fromSource };
      case '/part': return { headers, body: part };
      case '/text': return { headers: { 'Content-Type': 'text/plain; charset=utf-8', ...cl }, body: text };
      case '/closed': return { headers, body: closed };
      default: return { body: SMALL };
    }
  };
  const all = [big, empty, fromSource, text, part];
  const closeAll = () => all.forEach((s) => s.close());
  const noneLeft = async () => {
    closeAll();
    await settle(() => sealedFds().size, baseline);
    assert.equal(sealedFds().size, baseline, 'every sealed descriptor was closed');
  };
  return { app, copied, closeAll, noneLeft };
}

function httpGet(port: number, target: string, method = 'GET'): Promise<{ status: number; headers: Headers; body: Buffer }> {
  return fetch(`http://127.0.0.1:${port}${target}`, { method }).then(async (r) => ({
    status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()),
  }));
}

test('seal(): byteLength, a string as UTF-8, and a TypeError for anything else', () => {
  const s = seal(TEXT);
  assert.equal(s.byteLength, Buffer.byteLength(TEXT, 'utf8'));
  assert.notEqual(s.byteLength, TEXT.length, 'the test string has multi-byte characters');
  s.close();
  s.close();  // twice is harmless
  const empty = seal(new Uint8Array(0));
  assert.equal(empty.byteLength, 0);
  empty.close();  // not left to the collector, whose timing would upset the descriptor counts below
  assert.throws(() => seal(42 as unknown as string), TypeError);
  assert.throws(() => seal({ length: 3 } as unknown as Uint8Array), TypeError);
  assert.ok(KIND === 'memfd' || KIND === 'file', `platform().sealed is ${KIND}`);
});

test('HTTP: 12 MiB + 13 bytes whole with Content-Length; empty; HEAD; the copy taken at seal(); UTF-8; keep-alive after', { timeout: 20_000 }, async () => {
  const { app, copied, closeAll, noneLeft } = await setup();
  const server = serve(app, { listen: '127.0.0.1:0', log: () => {} });
  const port = server.addresses[0]!.port!;
  try {
    for (let i = 0; i < 2; i++) {  // the same sealed body, twice
      const whole = await httpGet(port, '/big');
      assert.equal(whole.status, 200);
      assert.equal(whole.headers.get('content-length'), String(BIG.length));
      assert.equal(whole.body.length, BIG.length);
      assert.equal(sha(whole.body), sha(BIG));
    }
    const stated = await httpGet(port, `/big?cl=${BIG.length}`);
    assert.equal(stated.status, 200, 'a Content-Length that agrees is fine');
    assert.equal(sha(stated.body), sha(BIG));

    const empty = await httpGet(port, '/empty');
    assert.equal(empty.status, 200);
    assert.equal(empty.headers.get('content-length'), '0');
    assert.equal(empty.body.length, 0);

    const head = await httpGet(port, '/big', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(BIG.length));
    assert.equal(head.body.length, 0);

    const source = await httpGet(port, '/source');
    assert.ok(source.body.equals(copied), 'the bytes as they were at seal(), not the zeros written after');

    const part = await httpGet(port, '/part');
    assert.equal(part.headers.get('content-length'), '70000');
    assert.ok(part.body.equals(BIG.subarray(1000, 71000)));

    const text = await httpGet(port, '/text');
    assert.equal(text.headers.get('content-length'), String(Buffer.byteLength(TEXT.repeat(100))));
    assert.equal(text.body.toString('utf8'), TEXT.repeat(100));

    // HEAD, a sealed body, a small reply, an empty sealed body and a sealed
    // body again, pipelined on one connection: each framed by its length.
    const r = await rawRequest(port, 'HEAD /big HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /text HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /small HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /empty HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /source HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { timeoutMs: 5000 });
    const { responses, rest } = parseResponses(r.data, { closed: r.closed, head: [true] });
    assert.equal(rest.length, 0);
    assert.deepEqual(responses.map((x) => x.status), [200, 200, 200, 200, 200, 200]);
    assert.equal(header(responses[0]!, 'content-length'), String(BIG.length));
    assert.equal(responses[0]!.body.length, 0);
    assert.equal(responses[1]!.body.toString('utf8'), TEXT.repeat(100));
    assert.equal(responses[2]!.body.toString(), SMALL);
    assert.equal(header(responses[3]!, 'content-length'), '0');
    assert.ok(responses[4]!.body.equals(copied));
    assert.equal(responses[5]!.body.toString(), SMALL);
    await noneLeft();
  } finally {
    await server.close();
    closeAll();
  }
});

test('uwsgi and SCGI send the sealed body after the head; FastCGI streams it; FastCGI HEAD has no body', { timeout: 20_000 }, async () => {
  const { app, copied, closeAll, noneLeft } = await setup();
  const dir = tempDir('tsgi-sealed-sock-');
  const server = serve(app, {
    listen: ['uwsgi://127.0.0.1:0', 'scgi://' + path.join(dir, 's.sock'), 'fastcgi://127.0.0.1:0'],
    log: () => {},
  });
  try {
    const at = (p: string): Target => targetOf(server, p);
    const u = await askCgi(at('uwsgi'), 'uwsgi', uwsgiRequest('/big'), { timeoutMs: 10_000 });
    assert.equal(u.status, 200);
    assert.deepEqual(values(u, 'content-length'), [String(BIG.length)]);
    assert.equal(u.body.length, BIG.length);
    assert.equal(sha(u.body), sha(BIG));
    const s = await askCgi(at('scgi'), 'scgi', scgiGood('/big'), { timeoutMs: 10_000 });
    assert.deepEqual(values(s, 'content-length'), [String(BIG.length)]);
    assert.equal(sha(s.body), sha(BIG));
    const se = await askCgi(at('scgi'), 'scgi', scgiGood('/empty'));
    assert.deepEqual(values(se, 'content-length'), ['0']);
    assert.equal(se.body.length, 0);
    const us = await askCgi(at('uwsgi'), 'uwsgi', uwsgiRequest('/source'));
    assert.ok(us.body.equals(copied));

    const f = await askFcgi(at('fastcgi'), fcgiVars('/big'), { timeoutMs: 10_000 });
    assert.equal(f.reply.status, 200);
    assert.deepEqual(values(f.reply, 'content-length'), [String(BIG.length)]);
    assert.equal(f.reply.body.length, BIG.length);
    assert.equal(sha(f.reply.body), sha(BIG));
    assert.ok(f.stdoutRecords >= BIG.length / 65535, 'framed in STDOUT records');
    assert.equal(f.end.appStatus, 0);
    const fe = await askFcgi(at('fastcgi'), fcgiVars('/empty'));
    assert.deepEqual(values(fe.reply, 'content-length'), ['0']);
    assert.equal(fe.reply.body.length, 0);
    const ft = await askFcgi(at('fastcgi'), fcgiVars('/text'));
    assert.equal(ft.reply.body.toString('utf8'), TEXT.repeat(100));
    const fh = await askFcgi(at('fastcgi'), fcgiVars('/big', { method: 'HEAD' }));
    assert.equal(fh.reply.status, 200);
    assert.deepEqual(values(fh.reply, 'content-length'), [String(BIG.length)]);
    assert.equal(fh.reply.body.length, 0);  // parseStdout asserts nothing follows the head, too
    await noneLeft();
  } finally {
    await server.close();
    closeAll();
  }
});

test('nothing can change the sealed bytes: not the descriptor, not one reopened for writing', async () => {
  const bytes = randomBytes(5000);
  await sealedBaseline();  // no number of a descriptor closing now is taken for a new one
  const before = new Set(sealedFds().keys());
  const tmp = tempDir('tsgi-sealed-tmp-');
  const s = seal(bytes, { tmpdir: tmp });
  const mine = [...sealedFds()].filter(([n]) => !before.has(n));
  assert.equal(mine.length, 1, 'seal() holds one descriptor');
  const [fd, link] = mine[0]!;
  try {
    if (KIND === 'memfd') {
      assert.match(link, /^\/memfd:tsgi-sealed/);
      // The memfd is read-write as made; its seals refuse every change.
      assert.throws(() => fs.writeSync(fd, 'x', 0), { code: 'EPERM' });
      assert.throws(() => fs.writeSync(fd, 'x', bytes.length), { code: 'EPERM' });
      assert.throws(() => fs.ftruncateSync(fd, 1), { code: 'EPERM' });
      assert.throws(() => fs.ftruncateSync(fd, bytes.length + 1), { code: 'EPERM' });
      // Opening it again for writing is allowed; writing through it is not.
      const w = fs.openSync(`/proc/self/fd/${fd}`, 'r+');
      try {
        assert.throws(() => fs.writeSync(w, 'x', 0), { code: 'EPERM' });
        assert.throws(() => fs.ftruncateSync(w, 0), { code: 'EPERM' });
      } finally {
        fs.closeSync(w);
      }
    } else {
      // An unlinked file in the tmpdir asked for: no name to open, and its one descriptor is read-only.
      assert.ok(link.startsWith(fs.realpathSync(tmp) + '/tsgi-sealed-') && link.endsWith(' (deleted)'), link);
      assert.throws(() => fs.writeSync(fd, 'x', 0), { code: 'EBADF' });
      assert.throws(() => fs.ftruncateSync(fd, 1), /EBADF|EINVAL/);
    }
    assert.equal(fs.fstatSync(fd).size, bytes.length);
    const back = Buffer.alloc(bytes.length);
    assert.equal(fs.readSync(fd, back, 0, bytes.length, 0), bytes.length);
    assert.ok(back.equals(bytes));
  } finally {
    s.close();
  }
  await settle(() => (sealedFds().has(fd) ? 1 : 0), 0);
  assert.ok(!sealedFds().has(fd), 'close() with no reply in flight closes the descriptor');
  if (KIND === 'file') {
    assert.throws(() => seal('x', { tmpdir: path.join(tmp, 'absent') }), /cannot seal the bytes: .*No such file/);
  }
  assert.deepEqual(fs.readdirSync(tmp), [], 'nothing is left in the tmpdir');
});

/** GET `target` on a raw socket that reads in short bursts; `leave` makes it go after its first bytes. */
function slowClient(port: number, target: string, opts: { leave?: boolean; gate: Promise<void> }): {
  got: () => number; done: Promise<Buffer>;
} {
  let received = 0;
  const done = new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1', () => s.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    s.once('data', (c: Buffer) => {
      chunks.push(c);
      received += c.length;
      if (opts.leave) {
        s.destroy();
        resolve(Buffer.alloc(0));
        return;
      }
      s.pause();
      s.on('data', (d: Buffer) => {
        chunks.push(d);
        received += d.length;
      });
      // Held until the body is closed, then read in bursts of 5 ms every 15 ms.
      void opts.gate.then(() => {
        const tick = setInterval(() => {
          s.resume();
          setTimeout(() => s.pause(), 5);
        }, 15);
        s.on('close', () => clearInterval(tick));
      });
    });
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
  return { got: () => received, done };
}

test('32 slow clients of one 4 MiB sealed body, closed mid-body: each gets every byte; no fd left, also from clients that left', { timeout: 20_000 }, async () => {
  const bytes = randomBytes(4 * 1024 * 1024);
  let body: SealedBody | undefined;
  const server = serve((req: Request) => (req.PATH_INFO === '/s' ? { body: body! } : { body: SMALL }),
    { listen: '127.0.0.1:0', log: () => {} });
  const port = server.addresses[0]!.port!;
  try {
    await httpGet(port, '/small');  // warm: lazily opened fds are counted from here
    const sealedBefore = await sealedBaseline();
    const fdsBefore = openFds();
    body = seal(bytes);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => { open = resolve; });
    const readers = Array.from({ length: 32 }, () => slowClient(port, '/s', { gate }));
    const leavers = Array.from({ length: 8 }, () => slowClient(port, '/s', { gate, leave: true }));
    await Promise.all(leavers.map((c) => c.done));
    const startedAt = Date.now();
    while (readers.some((c) => c.got() === 0) && Date.now() - startedAt < 5000) await delay(10);
    assert.ok(readers.every((c) => c.got() > 0), 'every reader has its first bytes');
    assert.ok(readers.every((c) => c.got() < bytes.length), 'no reader has the whole body yet');
    // The replies still sending hold descriptors of their own: the app's goes at close().
    // (the leavers' too, until the core next writes to them and finds them gone).
    const inFlight = sealedFds().size - sealedBefore - 1;
    assert.ok(inFlight >= readers.length, `every reader's reply is under way (${inFlight} duplicates)`);
    body.close();
    open();
    const got = await Promise.all(readers.map((c) => c.done));
    for (const g of got) {
      const at = g.indexOf('\r\n\r\n');
      assert.match(g.toString('latin1', 0, at), new RegExp(`^HTTP/1.1 200 .*\r\ncontent-length: ${bytes.length}\r\n`, 'is'));
      const b = g.subarray(at + 4);
      assert.equal(b.length, bytes.length);
      assert.ok(b.equals(bytes));
    }
    await settle(() => sealedFds().size, sealedBefore);
    assert.equal(sealedFds().size, sealedBefore, 'no sealed descriptor is left');
    await settle(openFds, fdsBefore);
    assert.equal(openFds(), fdsBefore, 'every socket and file fd was closed');
    const after = await httpGet(port, '/s');
    assert.equal(after.status, 500, 'the body was closed: replying with it is an app error');
    assert.equal((await httpGet(port, '/small')).body.toString(), SMALL);
  } finally {
    await server.close();
  }
});

test('a Content-Length that disagrees, a body already closed: 500 before the head, logged; the connection and the server go on', { timeout: 10_000 }, async () => {
  const { app, closeAll, noneLeft } = await setup();
  const logs = captureLog();
  const server = serve(app, { listen: '127.0.0.1:0', log: logs.log });
  const port = server.addresses[0]!.port!;
  try {
    const r = await rawRequest(port, 'GET /text?cl=5 HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /closed HTTP/1.1\r\nHost: x\r\n\r\n' +
      `GET /big?cl=${BIG.length - 1} HTTP/1.1\r\nHost: x\r\n\r\n` +
      'GET /text HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { timeoutMs: 5000 });
    const { responses } = parseResponses(r.data, { closed: r.closed });
    assert.deepEqual(responses.map((x) => x.status), [500, 500, 500, 200]);
    for (const x of responses.slice(0, 3)) assert.doesNotMatch(x.body.toString(), /sealed|Content-Length|at /, 'no detail to the client');
    assert.equal(responses[3]!.body.toString('utf8'), TEXT.repeat(100));
    await logs.wait(new RegExp(`Content-Length 5 but the sealed body is ${Buffer.byteLength(TEXT.repeat(100))} bytes`));
    await logs.wait(/the sealed body was closed/);
    await logs.wait(new RegExp(`Content-Length ${BIG.length - 1} but the sealed body is ${BIG.length} bytes`));
    assert.ok(logs.lines.every((l) => !/TSGI_ERR_REPLY_FILE/.test(l) || /\/text|\/closed|\/big/.test(l)));
    const fresh = await httpGet(port, '/big');
    assert.equal(sha(fresh.body), sha(BIG));
    await noneLeft();
  } finally {
    await server.close();
    closeAll();
  }
});

test('FastCGI: a sealed body closed mid-stream still arrives whole, then its descriptor goes', { timeout: 20_000 }, async () => {
  // More than the kernel holds for a client that stopped reading (a 4 MiB
  // send buffer, the receive buffer at the size the first read left it):
  // the stream is certainly still reading the body when it is closed.
  const bytes = randomBytes(16 * 1024 * 1024 + 7);
  let body: SealedBody | undefined;
  const logs = captureLog();
  const server = serve((req: Request) => (req.PATH_INFO === '/s' ? { body: body! } : { body: SMALL }),
    { listen: 'fastcgi://127.0.0.1:0', log: logs.log });
  const port = server.addresses[0]!.port!;
  try {
    const sealedBefore = await sealedBaseline();
    body = seal(bytes);
    const chunks: Buffer[] = [];
    let received = 0;
    const s = net.connect(port, '127.0.0.1', () => s.write(fcgiRequest(1, fcgiVars('/s'))));
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      received += c.length;
      s.pause();  // one read, then nothing until the body is closed
    });
    const ended = new Promise<void>((resolve, reject) => {
      s.on('end', resolve);
      s.on('error', reject);
    });
    // A second client of the same body, which leaves mid-stream after close():
    // its stream must give its use back as it stops.
    let leaverGot = 0;
    const leaver = net.connect(port, '127.0.0.1', () => leaver.write(fcgiRequest(1, fcgiVars('/s'))));
    leaver.on('data', (c: Buffer) => {
      leaverGot += c.length;
      leaver.pause();
    });
    leaver.on('error', () => {});
    const startedAt = Date.now();
    while ((received === 0 || leaverGot === 0) && Date.now() - startedAt < 5000) await delay(10);
    await delay(100);  // the server fills the sockets' buffers and waits
    assert.ok(received < bytes.length, 'mid-stream');
    assert.equal(sealedFds().size, sealedBefore + 1, 'the streams hold the descriptor');
    body.close();
    assert.equal(sealedFds().size, sealedBefore + 1, 'close() leaves it to the streams');
    leaver.destroy();
    s.resume();
    s.on('data', () => s.resume());
    await ended;
    const { records, rest } = parseRecords(Buffer.concat(chunks));
    assert.equal(rest.length, 0);
    const stdout = Buffer.concat(records.filter((r) => r.type === T.STDOUT).map((r) => r.content));
    const reply = parseStdout(stdout);
    assert.equal(reply.status, 200);
    assert.deepEqual(values(reply, 'content-length'), [String(bytes.length)]);
    assert.ok(reply.body.equals(bytes));
    const end = records.find((r) => r.type === T.END_REQUEST)!;
    assert.equal(end.content.readUInt32BE(0), 0);
    await settle(() => sealedFds().size, sealedBefore);
    assert.equal(sealedFds().size, sealedBefore, 'the last reply let the descriptor go');
    assert.deepEqual(logs.lines, []);
  } finally {
    await server.close();
  }
});

test('tsgi --cgi: a sealed body arrives whole with its Content-Length; HEAD states it alone', { timeout: 20_000 }, () => {
  const dir = tempDir('tsgi-sealed-cgi-');
  const bytes = randomBytes(3 * 1024 * 1024 + 5);
  fs.writeFileSync(path.join(dir, 'data.bin'), bytes);
  fs.writeFileSync(path.join(dir, 'app.js'),
    `const { seal } = require(${JSON.stringify(ROOT)});\n` +
    `const data = require('fs').readFileSync(${JSON.stringify(path.join(dir, 'data.bin'))});\n` +
    'const body = seal(data);\ndata.fill(0);\n' +
    'module.exports = (req) => ({ headers: { "Content-Type": "application/octet-stream" }, ' +
    'body: req.PATH_INFO === "/closed" ? (body.close(), body) : body });\n');
  const spawnCgi = (method: string, pathInfo = '/x') => {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin', REQUEST_METHOD: method, SCRIPT_NAME: '/cgi-bin/app', PATH_INFO: pathInfo,
      QUERY_STRING: '', SERVER_NAME: 'h', SERVER_PORT: '80', SERVER_PROTOCOL: 'HTTP/1.1', GATEWAY_INTERFACE: 'CGI/1.1',
    };
    // A variant's addon (scripts/variant.cjs, asan.cjs) is the one seal() must use.
    for (const k of ['TSGI_ADDON', 'LD_PRELOAD', 'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']) {
      if (process.env[k] !== undefined) env[k] = process.env[k]!;
    }
    return spawnSync(process.execPath, [path.join(ROOT, 'bin', 'tsgi'), '--cgi', path.join(dir, 'app.js')], {
      env, maxBuffer: 64 * 1024 * 1024,
    });
  };
  const run = (method: string) => {
    const r = spawnCgi(method);
    assert.equal(r.status, 0, r.stderr.toString());
    return r;
  };
  const get = run('GET');
  const reply = parseCgiReply(get.stdout, 'scgi');
  assert.equal(reply.status, 200);
  assert.deepEqual(values(reply, 'content-length'), [String(bytes.length)]);
  assert.equal(reply.body.length, bytes.length);
  assert.ok(reply.body.equals(bytes));
  const head = run('HEAD').stdout;
  const end = head.indexOf('\r\n\r\n');
  assert.equal(end + 4, head.length, 'no body after the head');
  assert.match(head.toString('latin1', 0, end), new RegExp(`\r\nContent-Length: ${bytes.length}(\r\n|$)`));
  const closed = spawnCgi('GET', '/closed');
  assert.equal(closed.status, 1);
  assert.match(closed.stdout.toString('latin1'), /^Status: 500 /);
  assert.match(closed.stderr.toString(), /the sealed body was closed/);
});

test('toNodeListener: a sealed body over node:http with its Content-Length; empty; HEAD; errors are 500s', { timeout: 20_000 }, async () => {
  const { app, copied, closeAll, noneLeft } = await setup();
  const logs = captureLog();
  const server = http.createServer(toNodeListener(app as App, { log: logs.log }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const whole = await httpGet(port, '/big');
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('content-length'), String(BIG.length));
    assert.equal(whole.headers.get('transfer-encoding'), null);
    assert.equal(sha(whole.body), sha(BIG));
    const empty = await httpGet(port, '/empty');
    assert.equal(empty.headers.get('content-length'), '0');
    assert.equal(empty.body.length, 0);
    assert.ok((await httpGet(port, '/source')).body.equals(copied));
    assert.equal((await httpGet(port, '/text')).body.toString('utf8'), TEXT.repeat(100));
    // HEAD then GET on one connection: the HEAD's length is stated, no body is sent.
    const r = await rawRequest(port, 'HEAD /big HTTP/1.1\r\nHost: x\r\n\r\nGET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      { timeoutMs: 5000 });
    const { responses } = parseResponses(r.data, { closed: r.closed, head: [true] });
    assert.equal(responses.length, 2);
    assert.equal(header(responses[0]!, 'content-length'), String(BIG.length));
    assert.equal(responses[0]!.body.length, 0);
    assert.equal(responses[1]!.body.toString(), SMALL);
    assert.equal((await httpGet(port, '/text?cl=4')).status, 500);
    assert.equal((await httpGet(port, '/closed')).status, 500);
    await logs.wait(/Content-Length 4 but the sealed body is/);
    await logs.wait(/the sealed body was closed/);
    assert.equal((await httpGet(port, '/small')).body.toString(), SMALL);
    await noneLeft();
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    closeAll();
  }
});
