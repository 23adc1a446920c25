// Apache httpd in front of tsgi: mod_proxy_uwsgi and mod_proxy_scgi, over a
// unix socket and TCP, and uwsgi mounted under /app, each configured with the
// snippet from docs/deploy.md. Apache's workers run as www-data (as in a
// real install), so the backend's sockets are mode 0666 in a 0755 dir.
import { describe } from 'node:test';
import {
  fillSnippet, freePort, peerSuite, routeTests, selfSignedCert, startApache, startBackend, tlsTest, type Backend, type Route,
} from '../helpers/peers.js';

interface ApacheRoute extends Route {
  snippet: string;
  backendAddress: (b: Backend) => Record<string, string>;
}

const unix = (proto: 'uwsgi' | 'scgi') => (b: Backend) =>
  ({ 'unix:/run/app.sock': `unix:${proto === 'uwsgi' ? b.uwsgiSock : b.scgiSock}` });
const uwsgiTcp = (b: Backend) => ({ '127.0.0.1:3031': `127.0.0.1:${b.uwsgiPort}` });
const scgiTcp = (b: Backend) => ({ '127.0.0.1:4000': `127.0.0.1:${b.scgiPort}` });

// Both modules answer a chunked request body with 411 themselves
// (ap_setup_client_block(r, REQUEST_CHUNKED_ERROR)).
const common = { front: 'apache', port: 0, refusesChunkedUpload: true } as const;

const routes: ApacheRoute[] = [
  { ...common, name: 'Apache mod_proxy_uwsgi over a unix socket', snippet: 'apache-uwsgi-unix',
    protocol: 'uwsgi', prefix: '', backendAddress: unix('uwsgi') },
  { ...common, name: 'Apache mod_proxy_uwsgi over TCP', snippet: 'apache-uwsgi-tcp',
    protocol: 'uwsgi', prefix: '', backendAddress: uwsgiTcp },
  { ...common, name: 'Apache mod_proxy_uwsgi mounted under /app', snippet: 'apache-uwsgi-mount',
    protocol: 'uwsgi', prefix: '/app', backendAddress: unix('uwsgi') },
  { ...common, name: 'Apache mod_proxy_scgi over TCP', snippet: 'apache-scgi-tcp',
    protocol: 'scgi', prefix: '', backendAddress: scgiTcp },
  { ...common, name: 'Apache mod_proxy_scgi over a unix socket', snippet: 'apache-scgi-unix',
    protocol: 'scgi', prefix: '', backendAddress: unix('scgi') },
];

const tls: Route = { name: 'Apache mod_proxy_uwsgi behind TLS', front: 'apache', protocol: 'uwsgi', prefix: '', port: 0 };

describe('Apache httpd', () => {
  const { suite } = peerSuite({
    program: 'apache2',
    debianPackage: 'apache2',
    // mod_proxy_scgi sends the whole path as SCRIPT_NAME and no PATH_INFO:
    // the backend splits it itself, as docs/deploy.md says to run it.
    backend: (dir) => startBackend(dir, { manageScriptName: true }),
    start: (backend) => startApache(backend.dir, async () => {
      const sites = [];
      for (const r of routes) {
        r.port = await freePort();
        sites.push({
          port: r.port,
          config: fillSnippet(r.snippet, { '<VirtualHost *:80>': `<VirtualHost *:${r.port}>`, ...r.backendAddress(backend) }),
        });
      }
      const cert = selfSignedCert(backend.dir);
      if (cert) {
        tls.port = await freePort();
        sites.push({
          port: tls.port,
          config: fillSnippet('apache-uwsgi-tls', {
            '<VirtualHost *:443>': `<VirtualHost *:${tls.port}>`,
            '/etc/ssl/certs/example.com.pem': cert.cert,
            '/etc/ssl/private/example.com.key': cert.key,
            'unix:/run/app.sock': `unix:${backend.uwsgiSock}`,
          }),
        });
      }
      return sites;
    }).then((p) => {
      for (const r of [...routes, tls]) r.peer = p;
      return p;
    }),
  });

  for (const route of routes) routeTests(route, suite);
  tlsTest(tls, suite);
});
