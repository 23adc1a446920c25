// Static files with real clients and behind nginx: curl's ranges (-r),
// decompression of a precompressed sibling (--compressed) and time
// conditions (-z); nginx in front over proxy_pass, uwsgi_pass, scgi_pass and
// fastcgi_pass, ranges and conditionals passing through.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { serve, type ServerHandle } from 'tsgi';
import { requirePeer, tempDir } from '../helpers/index.js';
import { freePort, startNginx } from '../helpers/peers.js';

const dir = tempDir('tsgi-static-peers-');
const pub = path.join(dir, 'public');
const text = 'tsgi static files\n'.repeat(4000);
const big = Buffer.alloc(2 * 1024 * 1024);
for (let i = 0; i < big.length; i += 4) big.writeUInt32BE(i, i);
let server: ServerHandle;
const ports: Record<string, number> = {};
const sock = (p: string) => path.join(dir, `${p}.sock`);

before(async () => {
  fs.mkdirSync(pub);
  fs.writeFileSync(path.join(pub, 'text.txt'), text);
  fs.writeFileSync(path.join(pub, 'text.txt.gz'), zlib.gzipSync(text));
  fs.writeFileSync(path.join(pub, 'text.txt.br'), zlib.brotliCompressSync(text));
  fs.writeFileSync(path.join(pub, 'big.bin'), big);
  fs.utimesSync(path.join(pub, 'text.txt'), 1_700_000_000, 1_700_000_000);
  server = await serve(() => ({ body: 'app' }), {
    listen: ['127.0.0.1:0', `uwsgi://${sock('uwsgi')}`, `scgi://${sock('scgi')}`, `fastcgi://${sock('fastcgi')}`],
    log: () => {},
    static: { map: { '/static': pub } },
  });
  ports.http = server.addresses[0]!.port!;
});

after(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

// Asynchronous: the server under test runs in this process's event loop.
function curl(args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-s', '--max-time', '10', ...args], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
      (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

describe('curl', () => {
  test('-r: one range and several', async (t) => {
    if (!requirePeer(t, 'curl', 'curl')) return;
    const url = `http://127.0.0.1:${ports.http}/static/big.bin`;
    assert.ok((await curl(['-r', '1000-1999', url])).equals(big.subarray(1000, 2000)));
    assert.ok((await curl(['-r', '-100', url])).equals(big.subarray(big.length - 100)));
    const multi = (await curl(['-r', '0-9,100-109', url])).toString('latin1');
    assert.match(multi, /Content-Range: bytes 0-9\/2097152/);
    assert.match(multi, /Content-Range: bytes 100-109\/2097152/);
    assert.equal((await curl(['-o', '/dev/null', '-w', '%{http_code}', '-r', '3000000-', url])).toString(), '416');
  });

  test('--compressed: a precompressed sibling, decoded to the same text', async (t) => {
    if (!requirePeer(t, 'curl', 'curl')) return;
    const url = `http://127.0.0.1:${ports.http}/static/text.txt`;
    const head = (await curl(['--compressed', '-D', '-', '-o', '/dev/null', url])).toString();
    assert.match(head, /content-encoding: (br|gzip)/i);
    assert.match(head, /vary: Accept-Encoding/i);
    assert.equal((await curl(['--compressed', url])).toString(), text);
    assert.equal((await curl(['-H', 'Accept-Encoding: gzip', url])).length, zlib.gzipSync(text).length);
  });

  test('-z: If-Modified-Since, both ways', async (t) => {
    if (!requirePeer(t, 'curl', 'curl')) return;
    const url = `http://127.0.0.1:${ports.http}/static/text.txt`;
    const code = async (since: string) => (await curl(['-o', '/dev/null', '-w', '%{http_code}', '-z', since, url])).toString();
    assert.equal(await code('Tue, 14 Nov 2023 22:13:20 GMT'), '304');
    assert.equal(await code('Tue, 14 Nov 2023 22:13:19 GMT'), '200');
    assert.equal((await curl(['-z', '-Tue, 14 Nov 2023 22:13:19 GMT', '-o', '/dev/null', '-w', '%{http_code}', url])).toString(), '412');
  });
});

describe('behind nginx', () => {
  test('proxy_pass, uwsgi_pass, scgi_pass, fastcgi_pass: whole files, ranges, 304', async (t) => {
    if (!requirePeer(t, 'nginx', 'nginx-light') || !requirePeer(t, 'curl', 'curl')) return;
    const front: Record<string, number> = {};
    for (const p of ['http', 'uwsgi', 'scgi', 'fastcgi']) front[p] = await freePort();
    const pass: Record<string, string> = {
      http: `proxy_pass http://127.0.0.1:${ports.http}; proxy_http_version 1.1; proxy_set_header Connection "";`,
      uwsgi: `include uwsgi_params; uwsgi_pass unix:${sock('uwsgi')};`,
      scgi: `include scgi_params; scgi_pass unix:${sock('scgi')};`,
      fastcgi: `include /etc/nginx/fastcgi_params; fastcgi_param PATH_INFO $document_uri; fastcgi_pass unix:${sock('fastcgi')};`,
    };
    const nginx = await startNginx(dir, async () => Object.entries(front).map(([p, port]) => ({
      port, config: `server { listen 127.0.0.1:${port}; location / { ${pass[p]} } }`,
    })));
    try {
      for (const [p, port] of Object.entries(front)) {
        const url = `http://127.0.0.1:${port}/static/big.bin`;
        assert.ok((await curl([url])).equals(big), `${p}: whole`);
        assert.ok((await curl(['-r', '500000-599999', url])).equals(big.subarray(500000, 600000)), `${p}: range`);
        const tu = `http://127.0.0.1:${port}/static/text.txt`;
        const code = (await curl(['-o', '/dev/null', '-w', '%{http_code}', '-z', 'Tue, 14 Nov 2023 22:13:20 GMT', tu])).toString();
        assert.equal(code, '304', `${p}: If-Modified-Since`);
        assert.equal((await curl(['--compressed', tu])).toString(), text, `${p}: --compressed`);
        assert.equal((await curl(['-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/static/none`])).toString(), '404');
      }
    } catch (err) {
      throw new Error(`${String(err)}\nnginx:\n${nginx.log()}`);
    } finally {
      await nginx.stop();
    }
  });
});
