// `tsgi --cgi`: an app run as a CGI program, one request per process. First
// by hand (the environment and stdin a web server would give), then under
// the three ways web servers run CGI programs: Apache httpd mod_cgid, lighttpd
// mod_cgi, nginx + fcgiwrap, each through the two-line launcher of
// docs/cgi.md, serving a TSGI app and an Express app.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { delay, have, requirePeer, ROOT, tempDir } from '../helpers/index.js';
import { copyFastcgiParams, freePort, startApache, startLighttpd, startNginx, type Peer } from '../helpers/peers.js';

const TSGI = path.join(ROOT, 'bin', 'tsgi');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const TSGI_APP = `
module.exports = async (req) => {
  if (req.REQUEST_METHOD === 'POST' && req.PATH_INFO === '/read') {
    // read(into) from stdin's pieces, into memory smaller than they are.
    const into = Buffer.alloc(1000);
    const parts = [];
    for (let n; (n = await req.body.read(into)) > 0;) parts.push(Buffer.from(into.subarray(0, n)));
    return { headers: { 'Content-Type': 'application/octet-stream' }, body: Buffer.concat(parts) };
  }
  if (req.REQUEST_METHOD === 'POST') {
    const body = Buffer.from(await req.body.bytes(64 * 1024 * 1024));
    return { headers: { 'Content-Type': 'application/octet-stream', 'X-Length': String(body.length) }, body };
  }
  if (req.PATH_INFO === '/fail') throw new Error('the app failed on purpose');
  if (req.PATH_INFO === '/stream') return { headers: { 'Content-Type': 'text/plain' }, body: (async function* () { yield 'a'; yield 'b'; yield 'c\\n'; })() };
  return {
    headers: { 'Content-Type': 'application/json', 'Set-Cookie': ['a=1', 'b=2'] },
    body: JSON.stringify({ hello: 'tsgi', protocol: req.tsgi.protocol, run_once: req.tsgi.run_once, script: req.SCRIPT_NAME,
      path: req.PATH_INFO, query: req.QUERY_STRING, uri: req.REQUEST_URI, method: req.REQUEST_METHOD,
      gateway: req.var('GATEWAY_INTERFACE'), ua: req.header('user-agent') ?? null }),
  };
};
`;

const EXPRESS_APP = `
const express = require(${JSON.stringify(path.join(ROOT, 'node_modules', 'express'))});
// A Node app sees req.url below SCRIPT_NAME (docs/adapters.md): its routes
// start at "/" whatever the script's path in the cgi-bin.
const app = express();
app.use(express.raw({ type: '*/*', limit: '64mb' }));
app.get('/hi', (req, res) => res.json({ hello: 'express', path: req.path, q: req.query.q, url: req.originalUrl }));
app.post('/echo', (req, res) => res.type('application/octet-stream').send(req.body));
module.exports = app;
`;

/** The documented launcher, with absolute paths (tsgi and node need not be on the web server's PATH). */
function launcher(app: string): string {
  return `#!/usr/bin/env -S ${process.execPath} ${TSGI} --cgi\n${app}\n`;
}

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: Buffer }

function request(port: number, target: string, body?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method: body ? 'POST' : 'GET', agent: false,
      headers: body ? { 'Content-Type': 'application/octet-stream', 'User-Agent': 'cgi-test' } : { 'User-Agent': 'cgi-test' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs `tsgi --cgi` as a web server would: a clean environment, the body on stdin. */
function runCgi(args: string[], env: Record<string, string>, stdin = Buffer.alloc(0)) {
  const r = spawnSync(TSGI, ['--cgi', ...args], {
    input: stdin,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TSGI_ADDON: '/nonexistent/the-addon-must-not-load.node', ...env },
  });
  const out = r.stdout;
  const end = out.indexOf('\r\n\r\n');
  const head = out.toString('latin1', 0, end).split('\r\n');
  return { code: r.status, head, body: out.subarray(end + 4), stderr: r.stderr.toString() };
}

describe('tsgi --cgi, run by hand', () => {
  let dir = '';
  before(() => {
    dir = tempDir('tsgi-cgi-run-');
    fs.writeFileSync(path.join(dir, 'app.js'), TSGI_APP);
    fs.writeFileSync(path.join(dir, 'hello.cgi'), launcher('app.js'), { mode: 0o755 });
    fs.writeFileSync(path.join(dir, 'uri.js'), 'module.exports = (req) => ({ headers: { "Content-Type": "application/json" }, ' +
      'body: JSON.stringify({ uri: req.REQUEST_URI, http: process.moduleLoadList.includes("NativeModule http") }) });\n');
    fs.writeFileSync(path.join(dir, 'url.js'), `const express = require(${JSON.stringify(path.join(ROOT, 'node_modules', 'express'))});\n` +
      'const app = express();\napp.use((req, res) => res.json({ url: req.url }));\nmodule.exports = app;\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a GET: Status, the fields, the body; protocol "cgi", run_once; exit 0; the addon is never loaded', () => {
    const r = runCgi([path.join(dir, 'app.js')], { REQUEST_METHOD: 'GET', SCRIPT_NAME: '/cgi-bin/app', PATH_INFO: '/x y',
      QUERY_STRING: 'a=1', SERVER_NAME: 'h', SERVER_PORT: '80', SERVER_PROTOCOL: 'HTTP/1.1', GATEWAY_INTERFACE: 'CGI/1.1',
      HTTP_USER_AGENT: 'ua/1' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.head[0], 'Status: 200 OK');
    assert.ok(r.head.includes('Set-Cookie: a=1') && r.head.includes('Set-Cookie: b=2'));
    assert.ok(r.head.includes(`Content-Length: ${r.body.length}`));
    assert.deepEqual(JSON.parse(r.body.toString()), { hello: 'tsgi', protocol: 'cgi', run_once: true, script: '/cgi-bin/app',
      path: '/x y', query: 'a=1', uri: '/cgi-bin/app/x%20y?a=1', method: 'GET', gateway: 'CGI/1.1', ua: 'ua/1' });
  });

  test('the body is exactly CONTENT_LENGTH bytes of stdin', () => {
    const body = randomBytes(300_000);
    const r = runCgi([path.join(dir, 'app.js')], { REQUEST_METHOD: 'POST', CONTENT_LENGTH: String(body.length) },
      Buffer.concat([body, Buffer.from('EXTRA BYTES NOT TO BE READ')]));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha(r.body), sha(body));
  });

  test('read(into) takes exactly CONTENT_LENGTH bytes of stdin, in pieces', () => {
    const body = randomBytes(300_000);
    const r = runCgi([path.join(dir, 'app.js')], { REQUEST_METHOD: 'POST', PATH_INFO: '/read', CONTENT_LENGTH: String(body.length) },
      Buffer.concat([body, Buffer.from('EXTRA BYTES NOT TO BE READ')]));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha(r.body), sha(body));
  });

  test('a streamed body; HEAD has none', () => {
    const r = runCgi([path.join(dir, 'app.js')], { REQUEST_METHOD: 'GET', PATH_INFO: '/stream' });
    assert.equal(r.body.toString(), 'abc\n');
    assert.ok(!r.head.some((h) => h.startsWith('Content-Length')));
    const h = runCgi([path.join(dir, 'app.js')], { REQUEST_METHOD: 'HEAD' });
    assert.equal(h.code, 0);
    assert.equal(h.body.length, 0);
  });

  test('an app error: a 500 CGI response, the error on stderr, a non-zero exit', () => {
    const r = runCgi([path.join(dir, 'app.js')], { REQUEST_METHOD: 'GET', PATH_INFO: '/fail' });
    assert.equal(r.code, 1);
    assert.equal(r.head[0], 'Status: 500 Internal Server Error');
    assert.match(r.stderr, /the app failed on purpose/);
  });

  // Node decodes the environment as UTF-8, so a rebuilt path is sent as UTF-8 bytes (not latin1, as the server's are).
  test('REQUEST_URI rebuilt from SCRIPT_NAME + PATH_INFO: a literal "%" as %25, non-ASCII as its UTF-8 bytes; node:http not loaded', () => {
    const r = runCgi([path.join(dir, 'uri.js')], { REQUEST_METHOD: 'GET', SCRIPT_NAME: '/cgi-bin/app',
      PATH_INFO: '/50%/100%25/café/\u{1F600}', QUERY_STRING: 'q=%25' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.body.toString()), { uri: '/cgi-bin/app/50%25/100%2525/caf%C3%A9/%F0%9F%98%80?q=%25', http: false });
  });

  test('Express: req.url from PATH_INFO, UTF-8 encoded, when REQUEST_URI spells SCRIPT_NAME differently', () => {
    const r = runCgi([path.join(dir, 'url.js')], { REQUEST_METHOD: 'GET', SCRIPT_NAME: '/cgi bin/app', PATH_INFO: '/50%/café',
      REQUEST_URI: '/cgi%20bin/app/50%25/caf%C3%A9?x=1', QUERY_STRING: 'x=1' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.body.toString()), { url: '/50%25/caf%C3%A9?x=1' });
  });

  test('the launcher: "#!" line, then the app module', () => {
    const r = spawnSync(path.join(dir, 'hello.cgi'), [], { env: { PATH: process.env.PATH ?? '', REQUEST_METHOD: 'GET' } });
    assert.equal(r.status, 0, r.stderr.toString());
    assert.match(r.stdout.toString(), /^Status: 200 OK\r\n[\s\S]*"hello":"tsgi"/);
  });
});

interface Site { name: string; port: number; cgiBin: string }

/** The same checks through each web server: TSGI app (hello, echo) and Express app (hi, echo). */
function peerChecks(site: () => Site | undefined, need: (t: { skip(msg?: string): void }) => boolean): void {
  test('TSGI hello and a 2 MiB echo', async (t) => {
    if (!need(t)) return;
    const s = site()!;
    const r = await request(s.port, `${s.cgiBin}/hello.cgi/p/q?x=1`);
    assert.equal(r.status, 200, r.body.toString());
    const j = JSON.parse(r.body.toString());
    assert.equal(j.protocol, 'cgi');
    assert.equal(j.script, `${s.cgiBin}/hello.cgi`);
    assert.equal(j.path, '/p/q');
    assert.equal(j.query, 'x=1');
    assert.equal(j.ua, 'cgi-test');
    assert.deepEqual(([] as string[]).concat(r.headers['set-cookie'] ?? []), ['a=1', 'b=2']);
    const body = randomBytes(2 * 1024 * 1024);
    const e = await request(s.port, `${s.cgiBin}/hello.cgi`, body);
    assert.equal(e.status, 200);
    assert.equal(e.headers['x-length'], String(body.length));
    assert.equal(sha(e.body), sha(body));
  });

  test('an app error is a 500', async (t) => {
    if (!need(t)) return;
    const s = site()!;
    assert.equal((await request(s.port, `${s.cgiBin}/hello.cgi/fail`)).status, 500);
  });

  test('Express through the launcher', async (t) => {
    if (!need(t)) return;
    const s = site()!;
    const r = await request(s.port, `${s.cgiBin}/express.cgi/hi?q=7`);
    assert.equal(r.status, 200, r.body.toString());
    assert.deepEqual(JSON.parse(r.body.toString()), { hello: 'express', path: '/hi', q: '7', url: '/hi?q=7' });
    const body = randomBytes(100_000);
    const e = await request(s.port, `${s.cgiBin}/express.cgi/echo`, body);
    assert.equal(e.status, 200);
    assert.equal(sha(e.body), sha(body));
  });
}

/** A cgi-bin of launchers; the dir is world-readable (Apache's workers run as www-data when we are root). */
function makeCgiBin(dir: string): string {
  fs.chmodSync(dir, 0o755);
  const bin = path.join(dir, 'cgi-bin');
  fs.mkdirSync(bin, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'app.js'), TSGI_APP, { mode: 0o644 });
  fs.writeFileSync(path.join(dir, 'express.js'), EXPRESS_APP, { mode: 0o644 });
  fs.writeFileSync(path.join(bin, 'hello.cgi'), launcher('../app.js'), { mode: 0o755 });
  fs.writeFileSync(path.join(bin, 'express.cgi'), launcher('../express.js'), { mode: 0o755 });
  return bin;
}

describe('tsgi --cgi under Apache httpd mod_cgid', () => {
  const present = have('apache2') || fs.existsSync('/usr/sbin/apache2');
  const need = (t: { skip(msg?: string): void }) => present || requirePeer(t, 'apache2', 'apache2');
  let dir = '';
  let peer: Peer | undefined;
  let port = 0;
  before(async () => {
    if (!present) return;
    dir = tempDir('tsgi-cgi-apache-');
    const bin = makeCgiBin(dir);
    peer = await startApache(dir, async () => {
      port = await freePort();
      return [{ port, config: [
        `ScriptSock "${path.join(dir, 'cgid.sock')}"`,
        `<VirtualHost 127.0.0.1:${port}>`,
        `  ScriptAlias /cgi-bin/ "${bin}/"`,
        `  <Directory "${bin}">`,
        '    Require all granted',
        '  </Directory>',
        '</VirtualHost>',
      ].join('\n') }];
    }, { modules: ['cgid', 'alias'] });
  });
  after(async () => {
    await peer?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  peerChecks(() => ({ name: 'apache', port, cgiBin: '/cgi-bin' }), need);
});

describe('tsgi --cgi under lighttpd mod_cgi', () => {
  const present = have('lighttpd');
  const need = (t: { skip(msg?: string): void }) => present || requirePeer(t, 'lighttpd', 'lighttpd');
  let dir = '';
  let peer: Peer | undefined;
  let port = 0;
  before(async () => {
    if (!present) return;
    dir = tempDir('tsgi-cgi-lighttpd-');
    const bin = makeCgiBin(dir);
    peer = await startLighttpd(dir, async () => {
      port = await freePort();
      return { port, config: [
        'server.modules += ( "mod_alias", "mod_cgi" )',
        `alias.url = ( "/cgi-bin/" => "${bin}/" )`,
        '$HTTP["url"] =~ "^/cgi-bin/" { cgi.assign = ( "" => "" ) }',
      ].join('\n') };
    });
  });
  after(async () => {
    await peer?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  peerChecks(() => ({ name: 'lighttpd', port, cgiBin: '/cgi-bin' }), need);
});

describe('tsgi --cgi under nginx + fcgiwrap', () => {
  const present = have('nginx') && fs.existsSync('/usr/sbin/fcgiwrap');
  const need = (t: { skip(msg?: string): void }) =>
    present || (requirePeer(t, 'nginx', 'nginx-light') && requirePeer(t, 'fcgiwrap', 'fcgiwrap'));
  let dir = '';
  let peer: Peer | undefined;
  let wrap: ChildProcess | undefined;
  let port = 0;
  before(async () => {
    if (!present) return;
    dir = tempDir('tsgi-cgi-nginx-');
    const bin = makeCgiBin(dir);
    const sock = path.join(dir, 'fcgiwrap.sock');
    wrap = spawn('/usr/sbin/fcgiwrap', ['-c', '4', '-s', `unix:${sock}`], { stdio: 'ignore', detached: true });
    for (let i = 0; i < 200 && !fs.existsSync(sock); i++) await delay(10);
    copyFastcgiParams(dir);
    peer = await startNginx(dir, async () => {
      port = await freePort();
      return [{ port, config: `
    server {
        listen 127.0.0.1:${port};
        client_max_body_size 64m;
        location /cgi-bin/ {
            fastcgi_split_path_info ^(/cgi-bin/[^/]+)(/.*)?$;
            include fastcgi_params;
            fastcgi_param SCRIPT_FILENAME ${dir}$fastcgi_script_name;
            fastcgi_param PATH_INFO $fastcgi_path_info;
            fastcgi_pass unix:${sock};
        }
    }` }];
    });
  });
  after(async () => {
    await peer?.stop();
    // fcgiwrap -c forks workers into its process group: stop them all.
    if (wrap?.pid !== undefined) try { process.kill(-wrap.pid, 'SIGTERM'); } catch { /* gone */ }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  peerChecks(() => ({ name: 'nginx', port, cgiBin: '/cgi-bin' }), need);
});
