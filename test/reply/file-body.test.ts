// A file as the reply body ({ path, offset?, length? }): sent with sendfile
// over HTTP, uwsgi and SCGI, streamed in STDOUT records over FastCGI; ranges;
// HEAD; errors before the head (missing file, a directory, a range past the
// end) answer 500 and the server goes on; no fd is left open, including when
// the client leaves mid-file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { serve, type Request } from 'tsgi';
import { ask as askCgi, targetOf, scgiGood, uwsgiRequest, values, type Target } from '../helpers/cgi-client.js';
import { ask as askFcgi, fcgiVars } from '../helpers/fcgi-client.js';
import { delay, header, parseResponses, rawRequest, tempDir, captureLog } from '../helpers/index.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const openFds = () => fs.readdirSync('/proc/self/fd').length;

function setup() {
  const dir = tempDir('tsgi-file-');
  const big = randomBytes(12 * 1024 * 1024 + 13);
  fs.writeFileSync(path.join(dir, 'big.bin'), big);
  fs.writeFileSync(path.join(dir, 'small.txt'), 'hello from a file\n');
  fs.writeFileSync(path.join(dir, 'empty.txt'), '');
  const app = (req: Request) => {
    const q = new URLSearchParams(req.QUERY_STRING);
    const name = req.PATH_INFO.slice(1);
    const offset = q.has('offset') ? Number(q.get('offset')) : undefined;
    const length = q.has('length') ? Number(q.get('length')) : undefined;
    return {
      headers: { 'Content-Type': 'application/octet-stream', ...(q.has('cl') ? { 'Content-Length': q.get('cl')! } : {}) },
      body: { path: path.join(dir, name), ...(offset !== undefined ? { offset } : {}), ...(length !== undefined ? { length } : {}) },
    };
  };
  return { dir, big, app };
}

function httpGet(port: number, target: string, method = 'GET'): Promise<{ status: number; headers: Headers; body: Buffer }> {
  return fetch(`http://127.0.0.1:${port}${target}`, { method }).then(async (r) => ({
    status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()),
  }));
}

test('HTTP: a 12 MiB file arrives whole with its Content-Length; a range; an empty file; HEAD states the length', { timeout: 30_000 }, async () => {
  const { big, app } = setup();
  const logs = captureLog();
  const server = serve(app, { listen: '127.0.0.1:0', log: logs.log });
  const port = server.addresses[0]!.port!;
  try {
    const whole = await httpGet(port, '/big.bin');
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('content-length'), String(big.length));
    assert.equal(whole.body.length, big.length);
    assert.equal(sha(whole.body), sha(big));

    const part = await httpGet(port, '/big.bin?offset=1000&length=70000');
    assert.equal(part.headers.get('content-length'), '70000');
    assert.ok(part.body.equals(big.subarray(1000, 71000)));

    const tail = await httpGet(port, `/big.bin?offset=${big.length - 5}`);
    assert.ok(tail.body.equals(big.subarray(big.length - 5)));

    const empty = await httpGet(port, '/empty.txt');
    assert.equal(empty.status, 200);
    assert.equal(empty.headers.get('content-length'), '0');
    assert.equal(empty.body.length, 0);

    const head = await httpGet(port, '/big.bin', 'HEAD');
    assert.equal(head.headers.get('content-length'), String(big.length));
    assert.equal(head.body.length, 0);

    // Keep-alive goes on after a file: two files and a small one on one connection, pipelined.
    const r = await rawRequest(port, 'GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /big.bin?offset=5&length=100000 HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /small.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { timeoutMs: 5000 });
    const { responses } = parseResponses(r.data, { closed: r.closed });
    assert.equal(responses.length, 3);
    assert.equal(responses[0]!.body.toString(), 'hello from a file\n');
    assert.ok(responses[1]!.body.equals(big.subarray(5, 100005)));
    assert.equal(header(responses[1]!, 'content-length'), '100000');
    assert.equal(responses[2]!.body.toString(), 'hello from a file\n');
  } finally {
    await server.close();
  }
});

test('a missing file, a directory, a range past the end, a Content-Length that disagrees: 500 before the head, logged, and the server goes on', { timeout: 20_000 }, async () => {
  const { app } = setup();
  const logs = captureLog();
  const server = serve(app, { listen: '127.0.0.1:0', log: logs.log });
  const port = server.addresses[0]!.port!;
  try {
    for (const target of ['/nope.bin', '/', '/small.txt?offset=10&length=100', '/small.txt?offset=-1', '/small.txt?cl=3']) {
      const r = await httpGet(port, target);
      assert.equal(r.status, 500, target);
      assert.doesNotMatch(r.body.toString(), /ENOENT|\/tmp|at /, `${target}: no detail to the client`);
    }
    await logs.wait(/ENOENT/);
    await logs.wait(/not a regular file/);
    await logs.wait(/outside the file's 18 bytes/);
    await logs.wait(/Content-Length 3 but the range is 18 bytes/);
    assert.equal((await httpGet(port, '/small.txt')).body.toString(), 'hello from a file\n');
  } finally {
    await server.close();
  }
});

test('uwsgi and SCGI send the file with sendfile after the head; FastCGI streams it in STDOUT records', { timeout: 30_000 }, async () => {
  const { big, app } = setup();
  const dir = tempDir('tsgi-file-sock-');
  const server = serve(app, {
    listen: ['uwsgi://127.0.0.1:0', 'scgi://' + path.join(dir, 's.sock'), 'fastcgi://127.0.0.1:0'],
    log: () => {},
  });
  try {
    const at = (p: string): Target => targetOf(server, p);
    const u = await askCgi(at('uwsgi'), 'uwsgi', uwsgiRequest('/big.bin'), { timeoutMs: 10_000 });
    assert.equal(u.status, 200);
    assert.deepEqual(values(u, 'content-length'), [String(big.length)]);
    assert.equal(sha(u.body), sha(big));
    const s = await askCgi(at('scgi'), 'scgi', scgiGood('/big.bin?offset=7&length=3000000'), { timeoutMs: 10_000 });
    assert.ok(s.body.equals(big.subarray(7, 3000007)));
    const f = await askFcgi(at('fastcgi'), fcgiVars('/big.bin?offset=3&length=200000'), { timeoutMs: 10_000 });
    assert.equal(f.reply.status, 200);
    assert.ok(f.reply.body.equals(big.subarray(3, 200003)));
    assert.ok(f.stdoutRecords >= 4, 'over 65535 bytes: several STDOUT records');
  } finally {
    await server.close();
  }
});

test('a client that reads slowly gets every byte; clients that leave mid-file leave no fd open', { timeout: 30_000 }, async () => {
  const { big, app } = setup();
  const server = serve(app, { listen: '127.0.0.1:0', log: () => {} });
  const port = server.addresses[0]!.port!;
  try {
    await httpGet(port, '/small.txt');  // warm: lazily opened fds (the addon, libuv) are counted from here
    const before = openFds();
    // Slow: pause reading for a while after the first bytes, then read the rest.
    const got = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = net.connect(port, '127.0.0.1', () => s.write('GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      s.once('data', (c: Buffer) => {
        chunks.push(c);
        s.pause();
        setTimeout(() => s.resume(), 500);
        s.on('data', (d: Buffer) => chunks.push(d));
      });
      s.on('end', () => resolve(Buffer.concat(chunks)));
      s.on('error', reject);
    });
    const body = got.subarray(got.indexOf('\r\n\r\n') + 4);
    assert.equal(sha(body), sha(big));
    // Twenty clients that take a little and leave.
    await Promise.all(Array.from({ length: 20 }, () => new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n'));
      s.once('data', () => { s.destroy(); resolve(); });
      s.on('error', () => resolve());
    })));
    // The core notices each close on its next write; give it a moment.
    const started = Date.now();
    while (openFds() > before && Date.now() - started < 5000) await delay(50);
    assert.equal(openFds(), before, 'every file and socket fd was closed');
    assert.equal((await httpGet(port, '/small.txt')).body.toString(), 'hello from a file\n');
  } finally {
    await server.close();
  }
});
