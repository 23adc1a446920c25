// nginx in front of tsgi over FastCGI: fastcgi_pass over a unix socket and
// TCP, each with and without fastcgi_keep_conn (an upstream with keepalive),
// and mounted under /app, each configured with the snippet from
// docs/deploy.md and Debian's stock fastcgi_params. Every route goes through
// the same checks as uwsgi and SCGI (test/helpers/peers.ts routeTests), plus
// what is FastCGI's own: a chunked upload streamed with
// fastcgi_request_buffering off (CONTENT_LENGTH "", the body ends at the
// empty STDIN record), and connections kept (or not) between requests.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { delay } from '../helpers/index.js';
import type { TsgiProcess } from '../helpers/tsgi-process.js';
import {
  copyFastcgiParams, fetchRaw, fillSnippet, freePort, peerSuite, routeTests, startDocCommand, startFcgiBackend,
  startNginx, type FcgiBackend, type Route,
} from '../helpers/peers.js';

interface NginxRoute extends Route {
  snippet: string;
  backendAddress: (b: FcgiBackend) => Record<string, string>;
  /** fastcgi_keep_conn on: requests share tsgi connections. */
  keepConn: boolean;
  tcp: boolean;
}

const unix = (b: FcgiBackend) => ({ 'unix:/run/app.sock': `unix:${b.fcgiSock}` });
const tcp = (b: FcgiBackend) => ({ '127.0.0.1:9000': `127.0.0.1:${b.fcgiPort}` });
const common = { front: 'nginx', port: 0, protocol: 'fastcgi' } as const;

const routes: NginxRoute[] = [
  { ...common, name: 'nginx fastcgi_pass over a unix socket', snippet: 'nginx-fastcgi-unix',
    prefix: '', backendAddress: unix, accelBuffering: true, keepConn: false, tcp: false },
  { ...common, name: 'nginx fastcgi_pass over TCP', snippet: 'nginx-fastcgi-tcp',
    prefix: '', backendAddress: tcp, keepConn: false, tcp: true },
  { ...common, name: 'nginx fastcgi_pass, fastcgi_keep_conn on, upstream keepalive, unix socket',
    snippet: 'nginx-fastcgi-keepalive', prefix: '', keepConn: true, tcp: false,
    backendAddress: (b) => ({ 'unix:/run/app.sock': `unix:${b.fcgiSock}`, tsgi_fastcgi: 'tsgi_fastcgi_unix' }) },
  { ...common, name: 'nginx fastcgi_pass, fastcgi_keep_conn on, upstream keepalive, TCP',
    snippet: 'nginx-fastcgi-keepalive', prefix: '', keepConn: true, tcp: true,
    backendAddress: (b) => ({ 'unix:/run/app.sock': `127.0.0.1:${b.fcgiPort}`, tsgi_fastcgi: 'tsgi_fastcgi_tcp' }) },
  { ...common, name: 'nginx fastcgi_pass mounted under /app (fastcgi_split_path_info)', snippet: 'nginx-fastcgi-mount',
    prefix: '/app', backendAddress: unix, keepConn: false, tcp: false },
];

// The doc's first command line, run as written (bin/tsgi for "tsgi", paths in
// the temp dir), behind the nginx-fastcgi-unix snippet.
const cli = { port: 0, sock: '', command: '', proc: undefined as TsgiProcess | undefined };

async function startCli(dir: string): Promise<void> {
  Object.assign(cli, await startDocCommand(dir, {
    block: 'fastcgi-commands', prefix: 'tsgi --fastcgi-socket /run/app.sock ', sock: 'cli-fcgi.sock',
    appSource: 'module.exports = (req) => ({ body: `cli ${req.tsgi.protocol} ${req.SCRIPT_NAME}|${req.PATH_INFO}` });\n',
  }));
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('nginx over FastCGI', () => {
  const { suite, peer, backend } = peerSuite<FcgiBackend>({
    program: 'nginx',
    debianPackage: 'nginx-light',
    backend: startFcgiBackend,
    start: (b) => startCli(b.dir).then(() => {
      copyFastcgiParams(b.dir);
      return startNginx(b.dir, async () => {
        const servers = [];
        for (const r of routes) {
          r.port = await freePort();
          servers.push({
            port: r.port,
            config: fillSnippet(r.snippet, { 'listen 80;': `listen 127.0.0.1:${r.port};`, ...r.backendAddress(b) }),
          });
        }
        cli.port = await freePort();
        servers.push({
          port: cli.port,
          config: fillSnippet('nginx-fastcgi-unix', { 'listen 80;': `listen 127.0.0.1:${cli.port};`, 'unix:/run/app.sock': `unix:${cli.sock}` }),
        });
        return servers;
      });
    }).then((p) => {
      for (const r of routes) r.peer = p;
      return p;
    }),
  });

  after(async () => {
    await cli.proc?.stop();
  });

  const logs = () => `\n${peer()?.log(30)}\n--- tsgi ---\n${backend()?.logs.slice(-20).join('\n')}`;

  for (const route of routes) {
    routeTests(route, suite);

    test(`${route.name}: a chunked upload with fastcgi_request_buffering off arrives whole, CONTENT_LENGTH ""`, { timeout: 30_000 }, async (t) => {
      if (!suite.require(t)) return;
      const data = randomBytes(3 * 1024 * 1024 + 17);
      const r = await fetchRaw(`http://127.0.0.1:${route.port}${route.prefix}/stream/upload`, { method: 'POST', body: data, chunked: true });
      assert.equal(r.status, 200, r.body.toString() + logs());
      // peerApp answers "<bytes read> <sha256> <CONTENT_LENGTH>".
      assert.equal(r.body.toString(), `${data.length} ${sha(data)} `);
      // And a chunked upload in the buffered location: nginx works out the length.
      const small = randomBytes(10_000);
      const b = await fetchRaw(`http://127.0.0.1:${route.port}${route.prefix}/upload`, { method: 'POST', body: small, chunked: true });
      assert.equal(b.body.toString(), `${small.length} ${sha(small)} ${small.length}`);
    });

    test(`${route.name}: req.errors reaches nginx's error log as "FastCGI sent in stderr"`, { timeout: 30_000 }, async (t) => {
      if (!suite.require(t)) return;
      const tag = `n${Math.random().toString(36).slice(2, 10)}`;
      const r = await fetchRaw(`http://127.0.0.1:${route.port}${route.prefix}/stderr?${tag}`);
      assert.equal(r.status, 200, r.body.toString() + logs());
      assert.equal(r.body.toString(), 'logged\n');
      const started = Date.now();
      while (!peer()!.log(200).includes(`FastCGI sent in stderr: "stderr probe ${tag}`)) {
        assert.ok(Date.now() - started < 3000, `nginx did not log the STDERR record${logs()}`);
        await delay(20);
      }
    });

    test(`${route.name}: a path with %0A and %20 arrives decoded and whole in PATH_INFO`, { timeout: 30_000 }, async (t) => {
      if (!suite.require(t)) return;
      const r = await fetchRaw(`http://127.0.0.1:${route.port}${route.prefix}/where/a%0Ab%20c`);
      assert.equal(r.status, 200, r.body.toString() + logs());
      assert.deepEqual(JSON.parse(r.body.toString()), { SCRIPT_NAME: route.prefix, PATH_INFO: '/where/a\nb c' });
    });

    test(`${route.name}: ${route.keepConn ? 'requests share a kept connection' : 'each request has its own connection'}`, { timeout: 30_000 }, async (t) => {
      if (!suite.require(t)) return;
      const peers: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await fetchRaw(`http://127.0.0.1:${route.port}${route.prefix}/peer`);
        assert.equal(r.status, 200, r.body.toString() + logs());
        const v = JSON.parse(r.body.toString()) as { peer: { address: string; port: number }; protocol: string; role: string };
        assert.equal(v.protocol, 'fastcgi');
        assert.equal(v.role, 'responder');
        peers.push(`${v.peer.address}:${v.peer.port}`);
      }
      if (!route.tcp) return; // a unix peer has no port to tell connections apart
      const distinct = new Set(peers).size;
      if (route.keepConn) assert.equal(distinct, 1, `nginx kept one connection: ${peers.join(' ')}`);
      else assert.equal(distinct, 5, `a connection per request: ${peers.join(' ')}`);
    });
  }

  test('the doc\'s command line (tsgi --fastcgi-socket /run/app.sock --chown-socket :www-data --chmod-socket 660 app.js) serves behind nginx', async (t) => {
    if (!suite.require(t)) return;
    assert.equal(cli.command, 'tsgi --fastcgi-socket /run/app.sock --chown-socket :www-data --chmod-socket 660 app.js');
    assert.equal(fs.statSync(cli.sock).mode & 0o777, 0o660);
    const r = await fetchRaw(`http://127.0.0.1:${cli.port}/some/where?x=1`);
    assert.equal(r.status, 200, `${r.body}\n${peer()?.log()}\n${cli.proc?.stderr()}`);
    assert.equal(r.body.toString(), 'cli fastcgi |/some/where');
  });

  test('the mount: a path outside /app/ is not passed to tsgi', async (t) => {
    if (!suite.require(t)) return;
    const r = await fetchRaw(`http://127.0.0.1:${routes[4]!.port}/elsewhere`);
    assert.equal(r.status, 404, peer()?.log());
  });
});
