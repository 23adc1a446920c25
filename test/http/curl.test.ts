// curl as a real client: GET, an uploaded file, HTTP/1.0, and connection
// reuse across two URLs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serve, type ServerHandle } from 'tsgi';
import type { App } from 'tsgi';
import { requirePeer, tempDir } from '../helpers/index.js';

function curl(args: string[]): Promise<{ stdout: Buffer; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['--silent', '--show-error', '--max-time', '20', ...args],
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
        if (err && code === -1) reject(err);
        else resolve({ stdout, stderr: stderr.toString(), code });
      });
  });
}

describe('curl', () => {
  let server: ServerHandle;
  let base: string;
  const app: App = async (req) => {
    if (req.REQUEST_METHOD === 'POST' && req.PATH_INFO === '/whole') {
      const limit = Number(req.QUERY_STRING || 4 * 1024 * 1024);
      try {
        const b = await req.body.bytes(limit);
        return { body: `${b.byteLength} ${createHash('sha256').update(b).digest('hex')}` };
      } catch (err) {
        return { status: 413, body: String((err as { code?: string }).code) };
      }
    }
    if (req.REQUEST_METHOD === 'POST') {
      const hash = createHash('sha256');
      let n = 0;
      for await (const p of req.body) {
        hash.update(p);
        n += p.byteLength;
      }
      return { headers: { 'Content-Type': 'text/plain' }, body: `${n} ${hash.digest('hex')}` };
    }
    return {
      headers: [['Content-Type', 'text/plain'], ['X-Protocol', req.SERVER_PROTOCOL], ['X-Port', req.REMOTE_PORT]],
      body: `hello ${req.PATH_INFO}${req.QUERY_STRING ? '?' + req.QUERY_STRING : ''}`,
    };
  };

  before(() => {
    server = serve(app, { listen: '127.0.0.1:0', log: () => {} });
    base = `http://127.0.0.1:${server.addresses[0]!.port}`;
  });
  after(() => server.close());

  test('GET', async (t) => {
    if (!requirePeer(t, 'curl', 'curl')) return;
    const r = await curl(['--include', `${base}/a/b?x=1`]);
    assert.equal(r.code, 0, r.stderr);
    const text = r.stdout.toString();
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /\r\nX-Protocol: HTTP\/1\.1\r\n/);
    assert.ok(text.endsWith('\r\n\r\nhello /a/b?x=1'));
  });

  test('POST --data-binary @file', async (t) => {
    if (!requirePeer(t, 'curl', 'curl')) return;
    const dir = tempDir();
    try {
      const file = path.join(dir, 'upload.bin');
      const data = randomBytes(3 * 1024 * 1024 + 17);
      fs.writeFileSync(file, data);
      const r = await curl(['--data-binary', `@${file}`, '-H', 'Content-Type: application/octet-stream', `${base}/upload`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), `${data.length} ${createHash('sha256').update(data).digest('hex')}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('POST with Transfer-Encoding: chunked (and Expect: 100-continue for the large file)', async (t) => {
    if (!requirePeer(t, 'curl', 'curl')) return;
    const dir = tempDir();
    try {
      const file = path.join(dir, 'upload.bin');
      const data = randomBytes(300_000);
      fs.writeFileSync(file, data);
      const r = await curl(['-X', 'POST', '-H', 'Transfer-Encoding: chunked', '--data-binary', `@${file}`, `${base}/chunked`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), `${data.length} ${createHash('sha256').update(data).digest('hex')}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('POST with Transfer-Encoding: chunked read whole with bytes(), within and past its limit', async (t) => {
    if (!requirePeer(t, 'curl', 'curl')) return;
    const dir = tempDir();
    try {
      for (const n of [0, 1, 16 * 1024, 16 * 1024 + 1, 1024 * 1024]) {
        const file = path.join(dir, `upload-${n}.bin`);
        const data = randomBytes(n);
        fs.writeFileSync(file, data);
        const r = await curl(['-H', 'Transfer-Encoding: chunked', '--data-binary', `@${file}`, `${base}/whole`]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.toString(), `${data.length} ${createHash('sha256').update(data).digest('hex')}`, `${n} bytes`);
      }
      const file = path.join(dir, 'large.bin');
      fs.writeFileSync(file, randomBytes(200_000));
      const r = await curl(['-H', 'Transfer-Encoding: chunked', '--data-binary', `@${file}`, `${base}/whole?100000`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), 'TSGI_ERR_BODY_TOO_LARGE');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('HTTP/1.0 (-0)', async (t) => {
    if (!requirePeer(t, 'curl', 'curl')) return;
    const r = await curl(['-0', '--include', `${base}/old`]);
    assert.equal(r.code, 0, r.stderr);
    const text = r.stdout.toString();
    assert.match(text, /\r\nX-Protocol: HTTP\/1\.0\r\n/);
    assert.match(text, /\r\nContent-Length: 10\r\n/);
    assert.ok(text.endsWith('\r\n\r\nhello /old'));
  });

  test('--http1.1 reuses the connection for a second URL', async (t) => {
    if (!requirePeer(t, 'curl', 'curl')) return;
    const r = await curl(['--http1.1', '-v', '--include', `${base}/one`, `${base}/two`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Re-using existing connection/);
    const text = r.stdout.toString();
    assert.ok(text.includes('hello /one') && text.includes('hello /two'));
    const ports = [...text.matchAll(/\r\nX-Port: (\d+)\r\n/g)].map((m) => m[1]);
    assert.equal(ports.length, 2);
    assert.equal(ports[0], ports[1], 'both requests came over one connection');
  });

  test('HEAD (-I)', async (t) => {
    if (!requirePeer(t, 'curl', 'curl')) return;
    const r = await curl(['-I', `${base}/head`]);
    assert.equal(r.code, 0, r.stderr);
    const text = r.stdout.toString();
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /\r\nContent-Length: 11\r\n/);
  });
});
