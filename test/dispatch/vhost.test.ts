// dispatch() by virtual host: the Host header (else SERVER_NAME), compared
// case-insensitively with the port ignored; "*.example.com" matches any
// subdomain; an exact name beats a wildcard, a longer wildcard a shorter one;
// each host may have its own mount table; unknown hosts go to the top-level
// mounts.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { dispatch, serve, type App, type Request, type ServerHandle } from 'tsgi';
import { rawRequest } from '../helpers/index.js';
import { ask, uwsgiPacket } from '../helpers/cgi-client.js';

const tag = (name: string): App => (req: Request) => ({ body: `${name} ${req.SCRIPT_NAME}|${req.PATH_INFO}` });

let server: ServerHandle;
let http = 0;
let uwsgi = 0;

before(() => {
  const app = dispatch({
    mounts: { '/': tag('default'), '/api': tag('default-api') },
    vhosts: {
      'example.com': tag('example'),
      'api.example.com': { mounts: { '/v1': tag('api-v1'), '/': tag('api-root') } },
      '*.example.com': tag('wild'),
      '*.deep.example.com': tag('deep-wild'),
      'only-mounts.test': { mounts: { '/x': tag('only-x') } },
      'with-fallback.test': { mounts: { '/x': tag('wf-x') }, fallback: tag('wf-fallback') },
      '[::1]': tag('v6'),
      'trailing.test.': tag('trailing'),
    },
  });
  server = serve(app, { listen: ['127.0.0.1:0', 'uwsgi://127.0.0.1:0'], log: () => {} });
  http = server.addresses[0]!.port!;
  uwsgi = server.addresses[1]!.port!;
});
after(() => server.close(2000));

async function get(host: string | undefined, target: string, version = '1.1'): Promise<{ status: number; body: string }> {
  const hostLine = host === undefined ? '' : `Host: ${host}\r\n`;
  const r = await rawRequest(http, `GET ${target} HTTP/${version}\r\n${hostLine}Connection: close\r\n\r\n`, { timeoutMs: 3000 });
  const text = r.data.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  assert.ok(split > 0, JSON.stringify(text));
  return { status: Number(text.slice(9, 12)), body: text.slice(split + 4) };
}

test('exact host, any case, any port', async () => {
  for (const host of ['example.com', 'EXAMPLE.com', 'example.com:8080', 'Example.Com:80', 'example.com.']) {
    assert.equal((await get(host, '/p')).body, 'example |/p', host);
  }
});

test('a wildcard matches subdomains at any depth, not the bare domain; exact beats it', async () => {
  assert.equal((await get('www.example.com', '/p')).body, 'wild |/p');
  assert.equal((await get('a.b.example.com:9', '/p')).body, 'wild |/p');
  assert.equal((await get('api.example.com', '/p')).body, 'api-root |/p', 'exact beats wildcard');
  assert.equal((await get('x.deep.example.com', '/p')).body, 'deep-wild |/p', 'the longer wildcard wins');
  assert.equal((await get('deep.example.com', '/p')).body, 'wild |/p');
  assert.equal((await get('example.com', '/p')).body, 'example |/p');
  assert.equal((await get('notexample.com', '/p')).body, 'default |/p', 'a suffix without the dot is no match');
});

test('mounts inside a host; unknown hosts use the top-level mounts', async () => {
  assert.equal((await get('api.example.com', '/v1/users')).body, 'api-v1 /v1|/users');
  assert.equal((await get('api.example.com', '/v1x')).body, 'api-root |/v1x');
  assert.equal((await get('other.test', '/api/z')).body, 'default-api /api|/z');
  assert.equal((await get('other.test', '/')).body, 'default |/');
  // The host's own table only: /api of the default host is not reachable from example.com.
  assert.equal((await get('example.com', '/api/z')).body, 'example |/api/z');
});

test('a host with no mount for the path: its fallback, else 404 (never the default host)', async () => {
  assert.equal((await get('only-mounts.test', '/x/1')).body, 'only-x /x|/1');
  const r = await get('only-mounts.test', '/y');
  assert.equal(r.status, 404);
  assert.equal(r.body, 'Not Found: no app is mounted for the path /y\n');
  assert.equal((await get('with-fallback.test', '/y')).body, 'wf-fallback |/y');
});

test('IPv6 literal hosts and trailing dots', async () => {
  assert.equal((await get('[::1]:8000', '/p')).body, 'v6 |/p');
  assert.equal((await get('trailing.test', '/p')).body, 'trailing |/p');
});

test('HTTP/1.0 without Host: SERVER_NAME (the local address) decides', async () => {
  assert.equal((await get(undefined, '/p', '1.0')).body, 'default |/p');
});

test('uwsgi: HTTP_HOST decides; without it, SERVER_NAME', async () => {
  const base: Array<[string, string]> = [['REQUEST_METHOD', 'GET'], ['PATH_INFO', '/v1/q'], ['REQUEST_URI', '/v1/q'],
    ['QUERY_STRING', ''], ['SERVER_PROTOCOL', 'HTTP/1.1'], ['SERVER_PORT', '80'], ['REMOTE_ADDR', '192.0.2.1']];
  let r = await ask(uwsgi, 'uwsgi', uwsgiPacket([...base, ['SERVER_NAME', '_'], ['HTTP_HOST', 'API.example.com:443']]));
  assert.equal(r.body.toString(), 'api-v1 /v1|/q');
  r = await ask(uwsgi, 'uwsgi', uwsgiPacket([...base, ['SERVER_NAME', 'www.example.com']]));
  assert.equal(r.body.toString(), 'wild |/v1/q');
  r = await ask(uwsgi, 'uwsgi', uwsgiPacket([...base, ['SERVER_NAME', 'nowhere.test']]));
  assert.equal(r.body.toString(), 'default |/v1/q');
});

test('vhosts as pairs; a table-level fallback answers unmatched paths on any host without its own', async () => {
  const app = dispatch({
    vhosts: [['a.test', { mounts: [['/in', tag('a-in')]] }], ['b.test', tag('b')]],
    fallback: tag('fb'),
  });
  const s = serve(app, { listen: '127.0.0.1:0', log: () => {} });
  try {
    const port = s.addresses[0]!.port!;
    const q = async (host: string, p: string) => {
      const r = await rawRequest(port, `GET ${p} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, { timeoutMs: 3000 });
      const t = r.data.toString();
      return t.slice(t.indexOf('\r\n\r\n') + 4);
    };
    assert.equal(await q('a.test', '/in/x'), 'a-in /in|/x');
    assert.equal(await q('a.test', '/out'), 'fb |/out');
    assert.equal(await q('b.test', '/out'), 'b |/out');
    assert.equal(await q('c.test', '/out'), 'fb |/out');
  } finally {
    await s.close(2000);
  }
});
