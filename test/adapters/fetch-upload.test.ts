// A 10 MiB upload to a fetch handler, read whole (request.arrayBuffer()) and
// as a stream (request.body), over HTTP with Content-Length and chunked, and
// over FastCGI: the bytes the handler hashes are the bytes the client sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import { fromFetch, serve } from 'tsgi';
import { captureLog } from '../helpers/index.js';
import { ask as askFcgi, fcgiVars } from '../helpers/fcgi-client.js';

const SIZE = 10 * 1024 * 1024;
const DATA = randomBytes(SIZE);
const SHA = createHash('sha256').update(DATA).digest('hex');

async function handler(request: Request): Promise<Response> {
  const hash = createHash('sha256');
  let size = 0;
  if (new URL(request.url).pathname === '/whole') {
    const buf = new Uint8Array(await request.arrayBuffer());
    hash.update(buf);
    size = buf.byteLength;
  } else {
    const reader = request.body!.getReader();
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      hash.update(r.value);
      size += r.value.byteLength;
    }
  }
  return Response.json({ size, sha256: hash.digest('hex') });
}

function post(port: number, path: string, chunked: boolean): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, method: 'POST', path, agent: false,
      headers: chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(SIZE) },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    // In pieces, as a client streaming a file would send it.
    for (let at = 0; at < SIZE; at += 256 * 1024) req.write(DATA.subarray(at, at + 256 * 1024));
    req.end();
  });
}

test('10 MiB through request.arrayBuffer() and request.body, over HTTP and FastCGI', async () => {
  const logs = captureLog();
  const server = serve(fromFetch(handler), { listen: ['127.0.0.1:0', 'fastcgi://127.0.0.1:0'], log: logs.log });
  try {
    const port = server.addresses[0]!.port!;
    for (const path of ['/whole', '/stream']) {
      for (const chunked of [false, true]) {
        const r = await post(port, path, chunked);
        assert.equal(r.status, 200, `${path} chunked=${chunked}: ${r.body}`);
        assert.deepEqual(JSON.parse(r.body), { size: SIZE, sha256: SHA }, `${path} chunked=${chunked}`);
      }
    }
    const fcgi = { host: '127.0.0.1', port: server.addresses[1]!.port! };
    for (const path of ['/whole', '/stream']) {
      const a = await askFcgi(fcgi, fcgiVars(path, { method: 'POST', body: DATA }), { body: DATA, timeoutMs: 20_000 });
      assert.equal(a.reply.status, 200, `FastCGI ${path}: ${a.reply.body.toString()}`);
      assert.deepEqual(JSON.parse(a.reply.body.toString()), { size: SIZE, sha256: SHA }, `FastCGI ${path}`);
    }
    assert.deepEqual(logs.lines, []);
  } finally {
    await server.close(2000);
  }
});
