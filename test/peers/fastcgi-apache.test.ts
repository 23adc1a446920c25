// Apache httpd in front of tsgi over FastCGI: mod_proxy_fcgi over a unix
// socket and TCP, each configured with the snippet from docs/deploy.md.
// Apache's workers run as www-data (as in a real install), so the backend's
// unix socket is mode 0666 in a 0755 dir. Every route goes through the same
// checks as uwsgi and SCGI (test/helpers/peers.ts routeTests).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  fetchRaw, fillSnippet, freePort, peerSuite, routeTests, startApache, startFcgiBackend, type FcgiBackend, type Route,
} from '../helpers/peers.js';

interface ApacheRoute extends Route {
  snippet: string;
  backendAddress: (b: FcgiBackend) => Record<string, string>;
}

// Unlike mod_proxy_uwsgi and mod_proxy_scgi (411), mod_proxy_fcgi passes a
// chunked request body on as it arrives, with no CONTENT_LENGTH: the body
// ends at the empty STDIN record.
const common = { front: 'apache', port: 0, protocol: 'fastcgi', prefix: '', streamsChunkedUpload: true } as const;

const routes: ApacheRoute[] = [
  { ...common, name: 'Apache mod_proxy_fcgi over a unix socket', snippet: 'apache-fastcgi-unix',
    backendAddress: (b) => ({ 'unix:/run/app.sock': `unix:${b.fcgiSock}` }) },
  { ...common, name: 'Apache mod_proxy_fcgi over TCP', snippet: 'apache-fastcgi-tcp',
    backendAddress: (b) => ({ '127.0.0.1:9000': `127.0.0.1:${b.fcgiPort}` }) },
];

describe('Apache httpd over FastCGI', () => {
  const { suite, peer } = peerSuite<FcgiBackend>({
    program: 'apache2',
    debianPackage: 'apache2',
    backend: startFcgiBackend,
    start: (backend) => startApache(backend.dir, async () => {
      const sites = [];
      for (const r of routes) {
        r.port = await freePort();
        sites.push({
          port: r.port,
          config: fillSnippet(r.snippet, { '<VirtualHost *:80>': `<VirtualHost *:${r.port}>`, ...r.backendAddress(backend) }),
        });
      }
      return sites;
    }, { modules: ['proxy_fcgi', 'setenvif'] }).then((p) => {
      for (const r of routes) r.peer = p;
      return p;
    }),
  });

  for (const route of routes) {
    routeTests(route, suite);

    test(`${route.name}: a path with %0A and %20 arrives decoded and whole in PATH_INFO, SCRIPT_NAME ""`, { timeout: 30_000 }, async (t) => {
      if (!suite.require(t)) return;
      const r = await fetchRaw(`http://127.0.0.1:${route.port}/where/a%0Ab%20c`);
      assert.equal(r.status, 200, `${r.body}\n${peer()?.log(30)}`);
      assert.deepEqual(JSON.parse(r.body.toString()), { SCRIPT_NAME: '', PATH_INFO: '/where/a\nb c' });
    });
  }
});
