// cgiHost(): real CGI scripts in sh, Python and Perl, generated into a temp
// dir and run per request, over HTTP and over uwsgi (the host is an app, so
// every listener serves it). RFC 3875: the meta-variables, the body on stdin,
// the four response kinds, NPH, and the operator's limits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { cgiHost, serve, type ServerHandle } from 'tsgi';
import { delay, rawRequest, tempDir, until } from '../helpers/index.js';
import { ask, uwsgiRequest } from '../helpers/cgi-client.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const PY = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : '/usr/bin/env python3';
const SECRET = 'tsgi-test-secret-' + randomBytes(6).toString('hex');

const SCRIPTS: Record<string, string> = {
  'hello.sh': `#!/bin/sh
printf 'Content-Type: text/plain\\n\\nhello from sh: %s|%s|%s\\n' "$SCRIPT_NAME" "$PATH_INFO" "$QUERY_STRING"
`,
  'env.pl': `#!/usr/bin/perl
print "Content-Type: text/plain\\r\\n\\r\\n";
print "$_=$ENV{$_}\\n" for sort keys %ENV;
`,
  'echo.py': `#!${PY}
import os, sys
n = int(os.environ.get('CONTENT_LENGTH') or 0)
out = sys.stdout.buffer
out.write(b'Content-Type: application/octet-stream\\r\\n\\r\\n')
while n > 0:
    chunk = sys.stdin.buffer.read(min(n, 65536))
    if not chunk:
        break
    n -= len(chunk)
    out.write(chunk)
`,
  'big.sh': `#!/bin/sh
printf 'Content-Type: application/octet-stream\\n\\n'
exec head -c ${50 * MiB} /dev/zero
`,
  'local.sh': `#!/bin/sh
printf 'Location: /cgi-bin/hello.sh/redirected?via=local\\n\\n'
`,
  'loop.sh': `#!/bin/sh
printf 'Location: /cgi-bin/loop.sh\\n\\n'
`,
  'client.pl': `#!/usr/bin/perl
print "Location: http://example.com/elsewhere\\n\\n";
`,
  'doc.py': `#!${PY}
import sys
sys.stdout.write('Status: 301 Moved Permanently\\nLocation: http://example.com/new\\nContent-Type: text/html\\n\\n<a href="http://example.com/new">moved</a>\\n')
`,
  'status.sh': `#!/bin/sh
printf 'Status: 418 I am a teapot\\nContent-Type: text/plain\\nX-Script: yes\\n\\nshort and stout\\n'
`,
  'nph-raw.sh': `#!/bin/sh
printf 'HTTP/1.1 203 Non-Authoritative Information\\r\\nContent-Type: text/plain\\r\\nX-Nph: 1\\r\\n\\r\\nunparsed headers\\n'
`,
  'hang.sh': `#!/bin/sh
sleep 300 &
echo $! > "$PID_DIR/grandchild.$$"
wait
`,
  'stderr.pl': `#!/usr/bin/perl
$| = 1;
print STDERR "first line to stderr\\nsecond line\\n";
print "Content-Type: text/plain\\n\\nok\\n";
`,
  'fail.sh': `#!/bin/sh
echo "giving up" >&2
exit 3
`,
  'malformed.sh': `#!/bin/sh
printf 'this is not a header\\n\\nbody\\n'
`,
  'noshebang.sh': 'touch "$PID_DIR/noshebang-ran"\n',
  'plain.txt': 'not executable\n',
};

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: Buffer }

function get(port: number, target: string, opts: { method?: string; body?: Buffer; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method: opts.method ?? (opts.body ? 'POST' : 'GET'),
      headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function gone(pid: number): boolean {
  try {
    // A zombie no one reaps (no init in a container) counts as gone.
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return true;
  }
}

describe('cgiHost: CGI scripts per request', () => {
  let dir = '';
  let pidDir = '';
  let server: ServerHandle | undefined;
  let port = 0;
  let uwsgiPort = 0;
  const lines: string[] = [];

  before(() => {
    dir = tempDir('tsgi-cgi-host-');
    const bin = path.join(dir, 'cgi-bin');
    pidDir = path.join(dir, 'pids');
    fs.mkdirSync(bin);
    fs.mkdirSync(pidDir);
    fs.mkdirSync(path.join(bin, 'sub'));
    for (const [name, text] of Object.entries(SCRIPTS)) {
      fs.writeFileSync(path.join(bin, name), text, { mode: name === 'plain.txt' ? 0o644 : 0o755 });
    }
    fs.writeFileSync(path.join(bin, 'sub', 'deep.sh'), SCRIPTS['hello.sh']!, { mode: 0o755 });
    // Outside the mapped directory: a script that must never run.
    fs.writeFileSync(path.join(dir, 'outside.sh'), `#!/bin/sh\ntouch "${dir}/outside-ran"\nprintf 'Content-Type: text/plain\\n\\nescaped\\n'\n`, { mode: 0o755 });
    fs.symlinkSync(path.join(dir, 'outside.sh'), path.join(bin, 'link-out.sh'));
    fs.symlinkSync(path.join(bin, 'hello.sh'), path.join(bin, 'link-in.sh'));
    process.env.TSGI_TEST_SECRET = SECRET;  // the server's environment: must not reach a script
    const app = cgiHost({
      map: { '/cgi-bin': bin },
      env: { PID_DIR: pidDir },
      timeout: 1500,
      maxProcs: 4,
      log: (line) => lines.push(line),
    });
    server = serve(app, { listen: ['http://127.0.0.1:0', 'uwsgi://127.0.0.1:0'], log: (line) => lines.push(line) });
    port = server.addresses[0]!.port!;
    uwsgiPort = server.addresses[1]!.port!;
  });

  after(async () => {
    delete process.env.TSGI_TEST_SECRET;
    await server?.close(1000);
    for (const f of fs.readdirSync(pidDir)) {
      const pid = Number(fs.readFileSync(path.join(pidDir, f), 'utf8'));
      if (pid > 0 && !gone(pid)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a shell script answers; SCRIPT_NAME and PATH_INFO are split at the script (3.3)', async () => {
    const r = await get(port, '/cgi-bin/hello.sh/a/b%20c?x=1');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain');
    assert.equal(r.body.toString(), 'hello from sh: /cgi-bin/hello.sh|/a/b c|x=1\n');
    const deep = await get(port, '/cgi-bin/sub/deep.sh/more');
    assert.equal(deep.body.toString(), 'hello from sh: /cgi-bin/sub/deep.sh|/more|\n');
  });

  test('the environment: every required meta-variable, headers as HTTP_*, nothing of ours but PATH and --cgi-env', async () => {
    const r = await get(port, '/cgi-bin/env.pl/extra/path?q=1&r=2', {
      body: Buffer.from('abc'),
      headers: { 'Content-Type': 'text/x-test', 'X-Custom': 'one', 'Proxy': 'http://evil.example:1', 'Authorization': 'Basic eDp5',
        'X_Under_Score': 'spoof', 'Cookie': 'a=1' },
    });
    assert.equal(r.status, 200);
    const env = new Map(r.body.toString().trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const expect: Record<string, string> = {
      GATEWAY_INTERFACE: 'CGI/1.1', SERVER_PROTOCOL: 'HTTP/1.1', SERVER_PORT: String(port), REQUEST_METHOD: 'POST',
      QUERY_STRING: 'q=1&r=2', SCRIPT_NAME: '/cgi-bin/env.pl', PATH_INFO: '/extra/path', REMOTE_ADDR: '127.0.0.1',
      REMOTE_HOST: '127.0.0.1', CONTENT_LENGTH: '3', CONTENT_TYPE: 'text/x-test', HTTP_X_CUSTOM: 'one', HTTP_COOKIE: 'a=1',
      REQUEST_URI: '/cgi-bin/env.pl/extra/path?q=1&r=2', PID_DIR: pidDir,
    };
    for (const [k, v] of Object.entries(expect)) assert.equal(env.get(k), v, k);
    assert.match(env.get('SERVER_SOFTWARE')!, /^tsgi\//);
    assert.ok(env.get('SERVER_NAME'));
    assert.ok(env.get('PATH_TRANSLATED')!.endsWith('/extra/path'));
    assert.ok(fs.realpathSync(env.get('SCRIPT_FILENAME')!).endsWith('/cgi-bin/env.pl'));
    assert.equal(env.get('PATH'), process.env.PATH);
    for (const k of ['HTTP_PROXY', 'HTTP_AUTHORIZATION', 'HTTP_CONTENT_TYPE', 'HTTP_CONTENT_LENGTH', 'HTTP_X_UNDER_SCORE', 'TSGI_TEST_SECRET', 'HOME']) {
      assert.equal(env.has(k), false, `${k} must not be set`);
    }
    for (const [k, v] of env) assert.ok(!v.includes(SECRET), `${k} leaks the server's secret`);
    const allowed = /^(HTTP_[A-Z0-9_]+|GATEWAY_INTERFACE|SERVER_[A-Z]+|REQUEST_[A-Z]+|QUERY_STRING|SCRIPT_NAME|SCRIPT_FILENAME|PATH_INFO|PATH_TRANSLATED|PATH|DOCUMENT_ROOT|REMOTE_[A-Z]+|CONTENT_[A-Z]+|PID_DIR)$/;
    for (const k of env.keys()) assert.match(k, allowed, `unexpected variable ${k}`);
  });

  test('a 10 MiB upload is streamed to a Python script and back (sha256)', async () => {
    const up = randomBytes(10 * MiB);
    const r = await get(port, '/cgi-bin/echo.py', { body: up, headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, up.length);
    assert.equal(sha(r.body), sha(up));
  });

  test('50 MiB of output is streamed', async () => {
    const r = await get(port, '/cgi-bin/big.sh');
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 50 * MiB);
    assert.equal(sha(r.body), sha(Buffer.alloc(50 * MiB)));
  });

  test('a local redirect (Location: /path, no Status) is served internally (6.2.2)', async () => {
    const r = await get(port, '/cgi-bin/local.sh');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'hello from sh: /cgi-bin/hello.sh|/redirected|via=local\n');
    const loop = await get(port, '/cgi-bin/loop.sh');
    assert.equal(loop.status, 500);
    assert.ok(lines.some((l) => /more than 10 local redirects/.test(l)));
  });

  test('a client redirect (absolute Location) is a 302; with a document, its Status and body pass (6.2.3, 6.2.4)', async () => {
    const r = await get(port, '/cgi-bin/client.pl');
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, 'http://example.com/elsewhere');
    const d = await get(port, '/cgi-bin/doc.py');
    assert.equal(d.status, 301);
    assert.equal(d.headers.location, 'http://example.com/new');
    assert.equal(d.headers['content-type'], 'text/html');
    assert.match(d.body.toString(), /moved/);
    const s = await get(port, '/cgi-bin/status.sh');
    assert.equal(s.status, 418);
    assert.equal(s.headers['x-script'], 'yes');
    assert.equal(s.body.toString(), 'short and stout\n');
  });

  test('an NPH script: its status line and fields are relayed, its body unbuffered', async () => {
    const r = await get(port, '/cgi-bin/nph-raw.sh');
    assert.equal(r.status, 203);
    assert.equal(r.headers['x-nph'], '1');
    assert.equal(r.body.toString(), 'unparsed headers\n');
  });

  test('a hanging script is killed with its whole process group at the timeout: 504', async () => {
    const before = new Set(fs.readdirSync(pidDir));
    const started = Date.now();
    const r = await get(port, '/cgi-bin/hang.sh');
    assert.equal(r.status, 504);
    assert.ok(Date.now() - started >= 1400, 'not before the timeout');
    const file = fs.readdirSync(pidDir).find((f) => f.startsWith('grandchild.') && !before.has(f));
    assert.ok(file, 'the script recorded its background child');
    const grandchild = Number(fs.readFileSync(path.join(pidDir, file), 'utf8'));
    await until(() => gone(grandchild), 3000, `grandchild sleep ${grandchild} killed`);
    assert.ok(lines.some((l) => /hang\.sh: still running after 1500 ms/.test(l)));
  });

  test('a client that leaves kills the script', async () => {
    const before = new Set(fs.readdirSync(pidDir));
    await rawRequest(port, 'GET /cgi-bin/hang.sh HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 300 });
    const file = await (async () => {
      for (let i = 0; i < 100; i++) {
        const f = fs.readdirSync(pidDir).find((n) => n.startsWith('grandchild.') && !before.has(n));
        if (f) return f;
        await delay(20);
      }
      return undefined;
    })();
    assert.ok(file);
    const script = Number(file.split('.')[1]);
    const grandchild = Number(fs.readFileSync(path.join(pidDir, file), 'utf8'));
    await until(() => gone(script) && gone(grandchild), 1200, 'the script and its child killed before the timeout');
  });

  test('stderr goes to the log, line by line, named by the script', async () => {
    const r = await get(port, '/cgi-bin/stderr.pl');
    assert.equal(r.status, 200);
    await until(() => lines.some((l) => l === 'cgi /cgi-bin/stderr.pl: second line'), 2000, 'stderr lines');
    assert.ok(lines.includes('cgi /cgi-bin/stderr.pl: first line to stderr'));
  });

  test('a script that exits non-zero before any output: 502 and a log line', async () => {
    const r = await get(port, '/cgi-bin/fail.sh');
    assert.equal(r.status, 502);
    await until(() => lines.some((l) => /fail\.sh: exited with status 3 before any output/.test(l)), 2000, 'log line');
    assert.ok(lines.includes('cgi /cgi-bin/fail.sh: giving up'));
  });

  test('a malformed header block: 502 and a log line', async () => {
    const r = await get(port, '/cgi-bin/malformed.sh');
    assert.equal(r.status, 502);
    assert.ok(lines.some((l) => /malformed\.sh: malformed header block/.test(l)));
  });

  test('path traversal, symlink escapes, non-executables, directories and shell guessing are refused', async () => {
    for (const target of ['/cgi-bin/../outside.sh', '/cgi-bin/%2e%2e/outside.sh', '/cgi-bin/sub/%2E%2E/../outside.sh', '/cgi-bin/./hello.sh']) {
      const raw = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.match(raw.data.toString('latin1'), /^HTTP\/1\.1 400 /, target);
    }
    assert.equal((await get(port, '/cgi-bin/link-out.sh')).status, 403);
    assert.equal((await get(port, '/cgi-bin/link-in.sh')).status, 200, 'a symlink inside the directory is fine');
    assert.equal((await get(port, '/cgi-bin/plain.txt')).status, 403);
    assert.equal((await get(port, '/cgi-bin/sub')).status, 403);
    assert.equal((await get(port, '/cgi-bin/missing.sh')).status, 404);
    assert.equal((await get(port, '/elsewhere')).status, 404);
    assert.equal((await get(port, '/cgi-bin/noshebang.sh')).status, 500);
    assert.equal(fs.existsSync(path.join(dir, 'outside-ran')), false, 'the outside script never ran');
    assert.equal(fs.existsSync(path.join(pidDir, 'noshebang-ran')), false, 'no shell guessed at a file without "#!"');
  });

  test('beyond maxProcs scripts at once: 503', async () => {
    const hanging = [1, 2, 3, 4].map(() => get(port, '/cgi-bin/hang.sh'));
    await delay(300);
    const r = await get(port, '/cgi-bin/hello.sh');
    assert.equal(r.status, 503);
    assert.equal(r.headers['retry-after'], '1');
    assert.deepEqual((await Promise.all(hanging)).map((h) => h.status), [504, 504, 504, 504]);
    await delay(100);
    assert.equal((await get(port, '/cgi-bin/hello.sh')).status, 200, 'slots come back');
  });

  test('behind uwsgi too: a script and a body', async () => {
    const r = await ask(uwsgiPort, 'uwsgi', uwsgiRequest('/cgi-bin/hello.sh/via-uwsgi?u=1'));
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'hello from sh: /cgi-bin/hello.sh|/via-uwsgi|u=1\n');
    const body = randomBytes(200_000);
    const e = await ask(uwsgiPort, 'uwsgi', uwsgiRequest('/cgi-bin/echo.py', { body }));
    assert.equal(e.status, 200);
    assert.equal(sha(e.body), sha(body));
  });
});
