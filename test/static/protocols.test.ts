// The same static files over every protocol: uwsgi and SCGI (PATH_INFO maps;
// the CGI head frames the reply), FastCGI (the file read in pieces into
// STDOUT records, as fast as the web server takes them), and HTTP/1.1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serve, type ServerHandle } from 'tsgi';
import { tempDir } from '../helpers/index.js';
import { ask as askCgi, cgiVars, exchange, scgiRequest, uwsgiPacket, values, type Style, type Vars } from '../helpers/cgi-client.js';
import { ask as askFcgi, fcgiVars, request as fcgiRequest } from '../helpers/fcgi-client.js';
import * as net from 'node:net';

const dir = tempDir('tsgi-static-proto-');
const big = Buffer.alloc(3 * 1024 * 1024 + 16);
for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i);
let server: ServerHandle;
let appCalls = 0;
const ports: Record<string, number> = {};

before(async () => {
  fs.mkdirSync(path.join(dir, 'public'));
  fs.writeFileSync(path.join(dir, 'public', 'big.bin'), big);
  fs.writeFileSync(path.join(dir, 'public', 'small.txt'), 'small file\n');
  server = await serve(() => {
    appCalls++;
    return { body: 'app' };
  }, {
    listen: ['127.0.0.1:0', 'uwsgi://127.0.0.1:0', 'scgi://127.0.0.1:0', 'fastcgi://127.0.0.1:0'],
    log: () => {},
    static: { map: { '/static': path.join(dir, 'public') } },
  });
  for (const a of server.addresses) ports[a.protocol] = a.port!;
});

after(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function cgiAsk(style: Style, vars: Vars) {
  const data = style === 'uwsgi' ? uwsgiPacket(vars)
    : scgiRequest([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ...vars.filter(([k]) => k !== 'CONTENT_LENGTH')]);
  return askCgi(ports[style]!, style, data, { timeoutMs: 10000 });
}

for (const style of ['uwsgi', 'scgi'] as const) {
  describe(`${style}`, () => {
    test('a large file, whole, framed by the CGI head; the app not called', async () => {
      const calls = appCalls;
      const r = await cgiAsk(style, cgiVars('/static/big.bin'));
      assert.equal(r.status, 200);
      assert.equal(values(r, 'content-length')[0], String(big.length));
      assert.ok(r.body.equals(big));
      assert.equal(appCalls, calls);
    });

    test('PATH_INFO maps, not REQUEST_URI', async () => {
      const vars = cgiVars('/mounted/static/small.txt').map(([k, v]): [string, string] =>
        k === 'PATH_INFO' ? [k, '/static/small.txt'] : [k, v]);
      const r = await cgiAsk(style, [...vars, ['SCRIPT_NAME', '/mounted']]);
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'small file\n');
    });

    test('PATH_INFO is not decoded again', async () => {
      const r = await cgiAsk(style, cgiVars('/static/small%2etxt'));
      assert.equal(r.status, 404);
    });

    test('Range, If-None-Match and HEAD from HTTP_ variables', async () => {
      const r = await cgiAsk(style, cgiVars('/static/big.bin', { extra: [['HTTP_RANGE', 'bytes=1000-1999']] }));
      assert.equal(r.status, 206);
      assert.equal(values(r, 'content-range')[0], `bytes 1000-1999/${big.length}`);
      assert.ok(r.body.equals(big.subarray(1000, 2000)));
      const tag = values(await cgiAsk(style, cgiVars('/static/small.txt')), 'etag')[0]!;
      const n = await cgiAsk(style, cgiVars('/static/small.txt', { extra: [['HTTP_IF_NONE_MATCH', tag]] }));
      assert.equal(n.status, 304);
      const data = style === 'uwsgi' ? uwsgiPacket(cgiVars('/static/big.bin', { method: 'HEAD' }))
        : scgiRequest([['CONTENT_LENGTH', '0'], ['SCGI', '1'], ...cgiVars('/static/big.bin', { method: 'HEAD' })
          .filter(([k]) => k !== 'CONTENT_LENGTH')]);
      const h = (await exchange(ports[style]!, data)).data.toString('latin1');
      assert.match(h, /^(HTTP\/1\.1|Status:) 200 /);
      assert.match(h, new RegExp(`\r\nContent-Length: ${big.length}\r\n`, 'i'));
      assert.ok(h.endsWith('\r\n\r\n'), 'no body after HEAD');
    });
  });
}

test('SCGI as nginx sends it: DOCUMENT_URI, no PATH_INFO', async () => {
  const vars = cgiVars('/static/small.txt').filter(([k]) => k !== 'PATH_INFO');
  const r = await cgiAsk('scgi', [...vars, ['DOCUMENT_URI', '/static/small.txt']]);
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'small file\n');
});

describe('FastCGI', () => {
  test('a large file in STDOUT records, read in pieces as the client takes them', async () => {
    const calls = appCalls;
    const a = await askFcgi(ports.fastcgi!, fcgiVars('/static/big.bin'), { timeoutMs: 20000 });
    assert.equal(a.reply.status, 200);
    assert.equal(values(a.reply, 'content-length')[0], String(big.length));
    assert.ok(a.reply.body.equals(big));
    assert.ok(a.stdoutRecords > big.length / 65535, `${a.stdoutRecords} records`);
    assert.equal(a.end.appStatus, 0);
    assert.equal(appCalls, calls);
  });

  test('ranges, one and several', async () => {
    const one = await askFcgi(ports.fastcgi!, fcgiVars('/static/big.bin', { extra: [['HTTP_RANGE', 'bytes=-100']] }));
    assert.equal(one.reply.status, 206);
    assert.ok(one.reply.body.equals(big.subarray(big.length - 100)));
    const many = await askFcgi(ports.fastcgi!, fcgiVars('/static/big.bin',
      { extra: [['HTTP_RANGE', 'bytes=0-9,2000000-2999999']] }), { timeoutMs: 20000 });
    assert.equal(many.reply.status, 206);
    assert.match(values(many.reply, 'content-type')[0]!, /^multipart\/byteranges; boundary=/);
    assert.ok(many.reply.body.includes(big.subarray(2000000, 3000000)));
  });

  test('a web server gone in the middle of a file: each transfer ends, the next is whole', async () => {
    // A reset at a different point of each transfer: the piece being read
    // and the descriptor are dropped, and nothing stays behind to pump.
    const fds = () => (process.platform === 'linux' ? fs.readdirSync('/proc/self/fd').length : 0);
    const before = fds();
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve, reject) => {
        const s = net.connect(ports.fastcgi!, '127.0.0.1', () => s.write(fcgiRequest(1, fcgiVars('/static/big.bin'))));
        let got = 0;
        s.on('data', (c: Buffer) => {
          got += c.length;
          if (got > 100_000 + i * 10_000) {
            s.resetAndDestroy();
            resolve();
          }
        });
        s.on('error', reject);
        s.on('close', () => resolve());
      });
    }
    const a = await askFcgi(ports.fastcgi!, fcgiVars('/static/big.bin'), { timeoutMs: 20000 });
    assert.ok(a.reply.body.equals(big));
    // Each transfer held a descriptor of its own: all closed (a little slack for Node's own).
    assert.ok(fds() <= before + 3, `descriptors ${before} -> ${fds()}`);
  });

  test('a small file, a 404, a 405', async () => {
    assert.equal((await askFcgi(ports.fastcgi!, fcgiVars('/static/small.txt'))).reply.body.toString(), 'small file\n');
    assert.equal((await askFcgi(ports.fastcgi!, fcgiVars('/static/none'))).reply.status, 404);
    assert.equal((await askFcgi(ports.fastcgi!, fcgiVars('/static/small.txt', { method: 'DELETE' }))).reply.status, 405);
  });
});
