// dispatch(): mount points by path prefix, over HTTP and over uwsgi. The app
// under a mount point sees SCRIPT_NAME grown by the mount point and PATH_INFO
// the rest (as WSGI and uWSGI mount), REQUEST_URI as sent; where the web server
// already sent a SCRIPT_NAME, the mount nests under it. Nothing that matches:
// a 404 text/plain that says so. A bad table throws at setup.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { dispatch, serve, TsgiError, type App, type Request, type ServerHandle } from 'tsgi';
import { rawRequest } from '../helpers/index.js';
import { ask, uwsgiRequest } from '../helpers/cgi-client.js';

/** An app that answers with what it saw, tagged with its name. */
function echo(name: string): App {
  return (req: Request) => ({
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      app: name,
      SCRIPT_NAME: req.SCRIPT_NAME,
      PATH_INFO: req.PATH_INFO,
      REQUEST_URI: req.REQUEST_URI,
      QUERY_STRING: req.QUERY_STRING,
      varScript: req.var('SCRIPT_NAME'),
      varPath: req.var('PATH_INFO'),
      varsScript: req.vars().SCRIPT_NAME,
      varsPath: req.vars().PATH_INFO,
      varsMethod: req.vars().REQUEST_METHOD,
      method: req.REQUEST_METHOD,
      host: req.header('host'),
      protocol: req.tsgi.protocol,
    }),
  });
}

interface Seen {
  app: string; SCRIPT_NAME: string; PATH_INFO: string; REQUEST_URI: string; QUERY_STRING: string;
  varScript: string; varPath: string; varsScript: string; varsPath: string; varsMethod: string;
  method: string; host: string; protocol: string;
}

interface Res { status: number; head: string; body: string }

async function httpGet(port: number, target: string, host = 't'): Promise<Res> {
  const r = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, { timeoutMs: 3000 });
  const text = r.data.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  assert.ok(split > 0, `no response head: ${JSON.stringify(text.slice(0, 200))}`);
  return { status: Number(text.slice(9, 12)), head: text.slice(0, split), body: text.slice(split + 4) };
}

async function uwsgiGet(port: number, uri: string, extra: Array<[string, string]> = []): Promise<Res> {
  const r = await ask(port, 'uwsgi', uwsgiRequest(uri, { extra }));
  return { status: r.status, head: r.head, body: r.body.toString('latin1') };
}

const inner = dispatch({ mounts: { '/v1': echo('inner-v1'), '/': echo('inner-root') } });
const table = {
  mounts: {
    '/': echo('root'),
    '/api': echo('api'),
    '/api/v2': echo('api-v2'),
    '/static/files': echo('files'),
    '/nested': inner,
  },
};
let server: ServerHandle;
let http = 0;
let uwsgi = 0;
const logs: string[] = [];

before(() => {
  server = serve(dispatch(table), { listen: ['127.0.0.1:0', 'uwsgi://127.0.0.1:0'], log: (l) => logs.push(l) });
  http = server.addresses.find((a) => a.protocol === 'http')!.port!;
  uwsgi = server.addresses.find((a) => a.protocol === 'uwsgi')!.port!;
});
after(() => server.close(2000));

const cases: Array<[string, string, string, string]> = [
  // request path, app, SCRIPT_NAME, PATH_INFO
  ['/', 'root', '', '/'],
  ['/other/x', 'root', '', '/other/x'],
  ['/api', 'api', '/api', ''],
  ['/api/', 'api', '/api', '/'],
  ['/api/users/7', 'api', '/api', '/users/7'],
  ['/apix', 'root', '', '/apix'],
  ['/api/v2', 'api-v2', '/api/v2', ''],
  ['/api/v2/x', 'api-v2', '/api/v2', '/x'],
  ['/api/v23', 'api', '/api', '/v23'],
  ['/static', 'root', '', '/static'],
  ['/static/files/a.css', 'files', '/static/files', '/a.css'],
  ['/nested/v1/x', 'inner-v1', '/nested/v1', '/x'],
  ['/nested/v2', 'inner-root', '/nested', '/v2'],
  ['/nested', 'inner-root', '/nested', ''],
];

test('HTTP: the longest mount point on a segment boundary wins; SCRIPT_NAME + PATH_INFO split there', async () => {
  for (const [p, app, script, info] of cases) {
    const r = await httpGet(http, `${p}?q=1`);
    assert.equal(r.status, 200, p);
    const seen = JSON.parse(r.body) as Seen;
    assert.deepEqual([seen.app, seen.SCRIPT_NAME, seen.PATH_INFO], [app, script, info], p);
    assert.equal(seen.REQUEST_URI, `${p}?q=1`, `${p}: REQUEST_URI is as sent`);
    assert.equal(seen.QUERY_STRING, 'q=1');
    assert.deepEqual([seen.varScript, seen.varPath, seen.varsScript, seen.varsPath], [script, info, script, info],
      `${p}: var() and vars() agree with the properties`);
    assert.equal(seen.varsMethod, 'GET', 'vars() still has the rest');
    assert.equal(seen.protocol, 'http');
  }
});

test('uwsgi: the mount nests under the SCRIPT_NAME the web server sent', async () => {
  // nginx: location /app { uwsgi_param SCRIPT_NAME /app; uwsgi_modifier1 30; }
  // PATH_INFO below /app is what dispatch routes on.
  for (const [p, app, script, info] of cases) {
    const uri = `/app${p}`;
    // PATH_INFO is the full path; modifier1 30 makes tsgi take SCRIPT_NAME off it.
    const res = await ask(uwsgi, 'uwsgi', uwsgiRequest(uri, { extra: [['SCRIPT_NAME', '/app']], modifier1: 30 }));
    assert.equal(res.status, 200, uri);
    const seen = JSON.parse(res.body.toString()) as Seen;
    assert.deepEqual([seen.app, seen.SCRIPT_NAME, seen.PATH_INFO], [app, '/app' + script, info], uri);
    assert.equal(seen.REQUEST_URI, uri);
    assert.deepEqual([seen.varScript, seen.varPath, seen.varsScript, seen.varsPath],
      ['/app' + script, info, '/app' + script, info], uri);
    assert.equal(seen.protocol, 'uwsgi');
  }
});

test('uwsgi without SCRIPT_NAME routes on PATH_INFO as sent', async () => {
  const res = await uwsgiGet(uwsgi, '/api/v2/deep?x=y');
  const seen = JSON.parse(res.body) as Seen;
  assert.deepEqual([seen.app, seen.SCRIPT_NAME, seen.PATH_INFO, seen.REQUEST_URI],
    ['api-v2', '/api/v2', '/deep', '/api/v2/deep?x=y']);
});

test('PATH_INFO is matched decoded: /api%2Fx is under /api, /%61pi is /api', async () => {
  let seen = JSON.parse((await httpGet(http, '/%61pi/x')).body) as Seen;
  assert.deepEqual([seen.app, seen.SCRIPT_NAME, seen.PATH_INFO], ['api', '/api', '/x']);
  seen = JSON.parse((await httpGet(http, '/api%2Fx')).body) as Seen;
  assert.deepEqual([seen.app, seen.SCRIPT_NAME, seen.PATH_INFO], ['api', '/api', '/x']);
});

test('nothing mounted for the path: 404 text/plain that says so, no stack', async () => {
  const s = serve(dispatch({ mounts: { '/api': echo('api') } }), { listen: ['127.0.0.1:0', 'uwsgi://127.0.0.1:0'], log: () => {} });
  try {
    const port = s.addresses[0]!.port!;
    for (const p of ['/', '/apix', '/other/api']) {
      const r = await httpGet(port, p);
      assert.equal(r.status, 404, p);
      assert.match(r.head, /\r\ncontent-type: text\/plain; charset=utf-8/i);
      assert.equal(r.body, `Not Found: no app is mounted for the path ${p}\n`);
    }
    const u = await uwsgiGet(s.addresses[1]!.port!, '/nope', [['SCRIPT_NAME', '']]);
    assert.equal(u.status, 404);
    assert.match(u.body, /no app is mounted for the path \/nope/);
    assert.doesNotMatch(u.body, /at |Error/);
  } finally {
    await s.close(2000);
  }
});

test('a fallback answers what no mount point covers, with the request untouched', async () => {
  const s = serve(dispatch({ mounts: [['/api', echo('api')]], fallback: echo('fallback') }), { listen: '127.0.0.1:0', log: () => {} });
  try {
    const seen = JSON.parse((await httpGet(s.addresses[0]!.port!, '/elsewhere')).body) as Seen;
    assert.deepEqual([seen.app, seen.SCRIPT_NAME, seen.PATH_INFO], ['fallback', '', '/elsewhere']);
  } finally {
    await s.close(2000);
  }
});

test('the mounted request delegates the body, headers and signal; async apps work', async () => {
  const app: App = async (req) => {
    const body = await req.body.text();
    return { body: `${req.SCRIPT_NAME}|${req.PATH_INFO}|${body}|${req.header('x-a')}|${req.headers.length}|${req.signal.aborted}` };
  };
  const s = serve(dispatch({ mounts: { '/up': app } }), { listen: '127.0.0.1:0', log: () => {} });
  try {
    const r = await rawRequest(s.addresses[0]!.port!,
      'POST /up/load HTTP/1.1\r\nHost: t\r\nX-A: 1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello', { timeoutMs: 3000 });
    const text = r.data.toString();
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.ok(text.endsWith('\r\n\r\n/up|/load|hello|1|4|false'), text);
  } finally {
    await s.close(2000);
  }
});

test('an app that throws under a mount point gets the usual 500; the server goes on', async () => {
  const s = serve(dispatch({ mounts: { '/boom': () => { throw new Error('kaput'); }, '/': echo('root') } }),
    { listen: '127.0.0.1:0', log: () => {} });
  try {
    const port = s.addresses[0]!.port!;
    assert.equal((await httpGet(port, '/boom/x')).status, 500);
    assert.equal((await httpGet(port, '/ok')).status, 200);
  } finally {
    await s.close(2000);
  }
});

test('a bad table throws a TsgiError at setup, naming the problem', () => {
  const ok = echo('x');
  const bad: Array<[unknown, RegExp]> = [
    [{ mounts: { api: ok } }, /mount point "api" must start with "\/"/],
    [{ mounts: { '/api/': ok } }, /mount point "\/api\/" must not end with "\/"/],
    [{ mounts: { '': ok } }, /mount point "" must start with "\/"/],
    [{ mounts: [['/a', ok], ['/a', ok]] }, /mount point "\/a" given twice/],
    [{ mounts: { '/a': 42 } }, /the app at "\/a" is number, not an app function/],
    [{ mounts: [['/a']] }, /pairs must be \[string, app\]/],
    [{ mount: { '/a': ok } }, /unknown key "mount"/],
    [{ fallback: 'x' }, /fallback is string/],
    [{ vhosts: { 'example.com:8080': ok } }, /without a port/],
    [{ vhosts: { '[::1]:8080': ok } }, /without a port/],
    [{ vhosts: { 'a.*.com': ok } }, /wildcard/],
    [{ vhosts: { '': ok } }, /names no host/],
    [{ vhosts: { 'Example.com': ok, 'example.COM': ok } }, /example\.com given twice/],
    [{ vhosts: { 'example.com': { mounts: { 'x': ok } } } }, /virtual host example\.com: mount point "x"/],
    [{ vhosts: { 'example.com': { mount: {} } } }, /unknown key "mount"/],
    [{ vhosts: { 'example.com': null } }, /virtual host example\.com is null/],
    [null, /expected an object/],
  ];
  for (const [t, re] of bad) {
    assert.throws(() => dispatch(t as never), (err: unknown) => {
      assert.ok(err instanceof TsgiError, `not a TsgiError: ${String(err)}`);
      assert.match(err.message, re);
      assert.match(err.message, /dispatch table/);
      return true;
    }, JSON.stringify(t));
  }
});

test('a table with no mounts at all answers 404 to everything', async () => {
  const s = serve(dispatch({}), { listen: '127.0.0.1:0', log: () => {} });
  try {
    const r = await httpGet(s.addresses[0]!.port!, '/x');
    assert.equal(r.status, 404);
  } finally {
    await s.close(2000);
  }
});

test('no error was logged by the shared server', () => {
  assert.deepEqual(logs, []);
});

test('manageScriptName: mount points match SCRIPT_NAME + PATH_INFO, and the split is made anew', async () => {
  const seen: Array<[string, string, string]> = [];
  const tag = (name: string): App => (req) => {
    seen.push([name, req.SCRIPT_NAME, req.PATH_INFO]);
    return { body: name };
  };
  const app = dispatch({ mounts: { '/app': tag('app'), '/': tag('root') }, manageScriptName: true });
  const plain = dispatch({ mounts: { '/app': tag('app'), '/': tag('root') } });
  // Only what dispatch() reads; everything else would be delegated.
  const fake = (SCRIPT_NAME: string, PATH_INFO: string) =>
    ({ SCRIPT_NAME, PATH_INFO, SERVER_NAME: 't', header: () => undefined }) as unknown as Request;
  const cases: Array<[string, string, string, string, string]> = [
    // sent SCRIPT_NAME, sent PATH_INFO -> app, SCRIPT_NAME, PATH_INFO
    ['/vars/a b', '', 'root', '', '/vars/a b'],   // Apache mod_proxy_scgi: the whole path as SCRIPT_NAME
    ['/app/x', '', 'app', '/app', '/x'],          // the same under a prefix
    ['/app', '/x', 'app', '/app', '/x'],          // nginx's split: already right
    ['', '/app/x', 'app', '/app', '/x'],          // a root front: split at the mount
    ['/appx', '', 'root', '', '/appx'],           // segment boundaries still count
    ['', '', 'root', '', ''],
  ];
  for (const [script, info, name, wantScript, wantInfo] of cases) {
    seen.length = 0;
    await app(fake(script, info));
    assert.deepEqual(seen, [[name, wantScript, wantInfo]], `${JSON.stringify(script)} + ${JSON.stringify(info)}`);
  }
  // A request split right already reaches the app as it is (no view object).
  const right = fake('/app', '/x');
  let got: Request | undefined;
  await dispatch({ mounts: { '/app': (req) => { got = req; return { body: '' }; } }, manageScriptName: true })(right);
  assert.equal(got, right);
  // Without the option the web server's split stands and mounts cut PATH_INFO only.
  seen.length = 0;
  await plain(fake('/vars/a b', ''));
  await plain(fake('/app', '/x'));
  assert.deepEqual(seen, [['root', '/vars/a b', ''], ['root', '/app', '/x']]);
});
