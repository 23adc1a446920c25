// nginx in front of tsgi: uwsgi_pass and scgi_pass, over a unix socket and
// TCP, and uwsgi mounted under /app, each configured with the snippet from
// docs/deploy.md and Debian's stock uwsgi_params / scgi_params.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type { TsgiProcess } from '../helpers/tsgi-process.js';
import {
  fetchRaw, fillSnippet, freePort, peerSuite, routeTests, selfSignedCert, startDocCommand, startNginx, tlsTest,
  type Backend, type Route,
} from '../helpers/peers.js';

interface NginxRoute extends Route {
  snippet: string;
  backendAddress: (b: Backend) => Record<string, string>;
}

const unix = (proto: 'uwsgi' | 'scgi') => (b: Backend) =>
  ({ 'unix:/run/app.sock': `unix:${proto === 'uwsgi' ? b.uwsgiSock : b.scgiSock}` });

const uwsgiTcp = (b: Backend) => ({ '127.0.0.1:3031': `127.0.0.1:${b.uwsgiPort}` });
const scgiTcp = (b: Backend) => ({ '127.0.0.1:4000': `127.0.0.1:${b.scgiPort}` });
const common = { front: 'nginx', port: 0 } as const;

const routes: NginxRoute[] = [
  { ...common, name: 'nginx uwsgi_pass over a unix socket', snippet: 'nginx-uwsgi-unix',
    protocol: 'uwsgi', prefix: '', backendAddress: unix('uwsgi'), accelBuffering: true },
  { ...common, name: 'nginx uwsgi_pass over TCP', snippet: 'nginx-uwsgi-tcp',
    protocol: 'uwsgi', prefix: '', backendAddress: uwsgiTcp },
  { ...common, name: 'nginx uwsgi_pass mounted under /app (SCRIPT_NAME, modifier1 30)', snippet: 'nginx-uwsgi-mount',
    protocol: 'uwsgi', prefix: '/app', backendAddress: unix('uwsgi') },
  { ...common, name: 'nginx scgi_pass over a unix socket', snippet: 'nginx-scgi-unix',
    protocol: 'scgi', prefix: '', backendAddress: unix('scgi'), accelBuffering: true },
  { ...common, name: 'nginx scgi_pass over TCP', snippet: 'nginx-scgi-tcp',
    protocol: 'scgi', prefix: '', backendAddress: scgiTcp },
];

const tls: Route = { name: 'nginx uwsgi_pass behind TLS', front: 'nginx', protocol: 'uwsgi', prefix: '', port: 0 };

// Not from the doc: the stock scgi_params alone, to show why the doc adds a line.
const stockScgi = { port: 0 };

// The doc's first command line, run as written (bin/tsgi for "tsgi", paths in
// the temp dir), behind the nginx-uwsgi-unix snippet.
const cli = { port: 0, sock: '', command: '', proc: undefined as TsgiProcess | undefined };

async function startCli(dir: string): Promise<void> {
  Object.assign(cli, await startDocCommand(dir, {
    block: 'tsgi-commands', prefix: 'tsgi --socket /run/app.sock ', sock: 'cli.sock',
    appSource: 'module.exports = (req) => ({ body: `cli ${req.tsgi.protocol} ${req.PATH_INFO}` });\n',
  }));
}

/** The gid of the group www-data (Debian's web server group). */
function wwwData(): number {
  const line = fs.readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.startsWith('www-data:'));
  assert.ok(line, 'no group www-data in /etc/group');
  return Number(line.split(':')[2]);
}

describe('nginx', () => {
  const { suite, peer } = peerSuite({
    program: 'nginx',
    debianPackage: 'nginx-light',
    // The CLI first, outside the config callback (which runs again if a port was taken).
    start: (backend) => startCli(backend.dir).then(() => startNginx(backend.dir, async () => {
      const servers = [];
      for (const r of routes) {
        r.port = await freePort();
        servers.push({
          port: r.port,
          config: fillSnippet(r.snippet, { 'listen 80;': `listen 127.0.0.1:${r.port};`, ...r.backendAddress(backend) }),
        });
      }
      const cert = selfSignedCert(backend.dir);
      if (cert) {
        tls.port = await freePort();
        servers.push({
          port: tls.port,
          config: fillSnippet('nginx-uwsgi-tls', {
            'listen 443 ssl;': `listen 127.0.0.1:${tls.port} ssl;`,
            '/etc/ssl/certs/example.com.pem': cert.cert,
            '/etc/ssl/private/example.com.key': cert.key,
            'unix:/run/app.sock': `unix:${backend.uwsgiSock}`,
          }),
        });
      }
      cli.port = await freePort();
      servers.push({
        port: cli.port,
        config: fillSnippet('nginx-uwsgi-unix', { 'listen 80;': `listen 127.0.0.1:${cli.port};`, 'unix:/run/app.sock': `unix:${cli.sock}` }),
      });
      stockScgi.port = await freePort();
      servers.push({
        port: stockScgi.port,
        config: [
          'server {',
          `    listen 127.0.0.1:${stockScgi.port};`,
          '    server_name example.com;',
          '    location / {',
          '        include scgi_params;',
          `        scgi_pass unix:${backend.scgiSock};`,
          '    }',
          '}',
        ].join('\n'),
      });
      return servers;
    })).then((p) => {
      for (const r of [...routes, tls]) r.peer = p;
      return p;
    }),
  });

  after(async () => {
    await cli.proc?.stop();
  });

  for (const route of routes) routeTests(route, suite);
  tlsTest(tls, suite);

  test('the doc\'s command line (tsgi --socket /run/app.sock --chown-socket :www-data --chmod-socket 660 app.js) serves behind nginx', async (t) => {
    if (!suite.require(t)) return;
    assert.equal(cli.command, 'tsgi --socket /run/app.sock --chown-socket :www-data --chmod-socket 660 app.js');
    assert.equal(fs.statSync(cli.sock).mode & 0o777, 0o660);
    // The web server's group (www-data as root, else the test's own: test/helpers/peers.ts).
    assert.equal(fs.statSync(cli.sock).gid, process.getuid!() === 0 ? wwwData() : process.getgid!());
    const r = await fetchRaw(`http://127.0.0.1:${cli.port}/some/where?x=1`);
    assert.equal(r.status, 200, `${r.body}\n${peer()?.log()}\n${cli.proc?.stderr()}`);
    assert.equal(r.body.toString(), 'cli uwsgi /some/where');
  });

  test('the mount: /app without the slash is redirected to /app/ by nginx', async (t) => {
    if (!suite.require(t)) return;
    const r = await fetchRaw(`http://127.0.0.1:${routes[2]!.port}/app`);
    assert.equal(r.status, 301, peer()?.log());
    assert.match(String(r.headers.location), /\/app\/$/);
  });

  test('with only the stock scgi_params, the app still gets its PATH_INFO (from DOCUMENT_URI)', async (t) => {
    if (!suite.require(t)) return;
    const r = await fetchRaw(`http://127.0.0.1:${stockScgi.port}/vars/a%20b?x=1`);
    assert.equal(r.status, 200, r.body.toString());
    const v = JSON.parse(r.body.toString()) as { props: Record<string, string> };
    assert.deepEqual({ SCRIPT_NAME: v.props.SCRIPT_NAME, PATH_INFO: v.props.PATH_INFO },
      { SCRIPT_NAME: '', PATH_INFO: '/vars/a b' });
  });
});
