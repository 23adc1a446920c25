// Good uwsgi requests, as nginx's uwsgi_pass sends them: the variables reach
// the app by name, the body is read, and the reply is an HTTP/1.1 status line
// and headers without any hop-by-hop field, ended by closing the connection.
// After each case, every socket of the server still serves a good request.
// The cases SCGI shares are in test/helpers/cgi-suite.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Request } from 'tsgi';
import { deferred, within } from '../helpers/index.js';
import { ask, assertNoHopByHop, exchange, parseCgiReply, uwsgiPacket, values, withServer } from '../helpers/cgi-client.js';
import { requestCases, UWSGI } from '../helpers/cgi-suite.js';

test('the variables reach the app by name; HTTPS=on makes url_scheme https', async () => {
  const seen = deferred<Record<string, unknown>>();
  const app = async (req: Request) => {
    const body = await req.body.text();
    seen.resolve({
      REQUEST_METHOD: req.REQUEST_METHOD, PATH_INFO: req.PATH_INFO, QUERY_STRING: req.QUERY_STRING,
      REQUEST_URI: req.REQUEST_URI, CONTENT_TYPE: req.CONTENT_TYPE, CONTENT_LENGTH: req.CONTENT_LENGTH,
      SERVER_NAME: req.SERVER_NAME, SERVER_PORT: req.SERVER_PORT, SERVER_PROTOCOL: req.SERVER_PROTOCOL,
      REMOTE_ADDR: req.REMOTE_ADDR, REMOTE_PORT: req.REMOTE_PORT, SCRIPT_NAME: req.SCRIPT_NAME,
      DOCUMENT_ROOT: req.var('DOCUMENT_ROOT'), REQUEST_SCHEME: req.var('REQUEST_SCHEME'),
      UWSGI_SCHEME: req.var('UWSGI_SCHEME'), HTTPS: req.var('HTTPS'), custom: req.var('X_MY_CUSTOM_VAR'),
      missing: req.var('NO_SUCH_VAR'), ua: req.header('user-agent'), uaUpper: req.header('User-Agent'),
      ct: req.header('content-type'), scheme: req.tsgi.url_scheme, protocol: req.tsgi.protocol,
      varsCustom: req.vars()['X_MY_CUSTOM_VAR'], headers: req.headers.map(([n]) => n), body,
    });
    return { headers: { 'content-type': 'text/plain' }, body: `got ${body}` };
  };
  await withServer(app, async ({ uwsgi }) => {
    const vars: Array<[string, string]> = [
      ['REQUEST_METHOD', 'POST'], ['PATH_INFO', '/a/b c'], ['QUERY_STRING', 'x=1&y=%20'],
      ['REQUEST_URI', '/a/b%20c?x=1&y=%20'], ['CONTENT_TYPE', 'text/plain; charset=utf-8'], ['CONTENT_LENGTH', '5'],
      ['SERVER_NAME', 'www.example.org'], ['SERVER_PORT', '443'], ['SERVER_PROTOCOL', 'HTTP/1.1'],
      ['REMOTE_ADDR', '203.0.113.7'], ['REMOTE_PORT', '51234'], ['DOCUMENT_ROOT', '/srv/www'], ['HTTPS', 'on'],
      ['REQUEST_SCHEME', 'https'], ['UWSGI_SCHEME', 'https'], ['X_MY_CUSTOM_VAR', 'custom value'],
      ['HTTP_USER_AGENT', 'curl/8.5.0'], ['HTTP_HOST', 'www.example.org'],
    ];
    const r = await exchange(uwsgi, uwsgiPacket(vars, { body: 'hello' }));
    assert.ok(r.closed, 'the server closes the connection after the reply');
    assert.ok(r.data.toString('latin1').startsWith('HTTP/1.1 200 OK\r\n'), r.data.toString('latin1', 0, 40));
    const reply = parseCgiReply(r.data, 'uwsgi');
    assertNoHopByHop(reply);
    assert.deepEqual(values(reply, 'content-length'), ['9']);
    assert.equal(reply.body.toString(), 'got hello');
    const got = await within(seen.promise, 2000, 'the app');
    assert.deepEqual(got, {
      REQUEST_METHOD: 'POST', PATH_INFO: '/a/b c', QUERY_STRING: 'x=1&y=%20', REQUEST_URI: '/a/b%20c?x=1&y=%20',
      CONTENT_TYPE: 'text/plain; charset=utf-8', CONTENT_LENGTH: '5', SERVER_NAME: 'www.example.org',
      SERVER_PORT: '443', SERVER_PROTOCOL: 'HTTP/1.1', REMOTE_ADDR: '203.0.113.7', REMOTE_PORT: '51234',
      SCRIPT_NAME: '', DOCUMENT_ROOT: '/srv/www', REQUEST_SCHEME: 'https', UWSGI_SCHEME: 'https', HTTPS: 'on',
      custom: 'custom value', missing: undefined, ua: 'curl/8.5.0', uaUpper: 'curl/8.5.0',
      ct: 'text/plain; charset=utf-8', scheme: 'https', protocol: 'uwsgi', varsCustom: 'custom value',
      headers: ['user-agent', 'host'], body: 'hello',
    });
  });
});

test('url_scheme: HTTPS=on alone, REQUEST_SCHEME alone, UWSGI_SCHEME alone give https; none gives http', async () => {
  const app = (req: Request) => ({ body: req.tsgi.url_scheme });
  await withServer(app, async ({ uwsgi }) => {
    const cases: Array<[Array<[string, string]>, string]> = [
      [[['HTTPS', 'on']], 'https'],
      [[['REQUEST_SCHEME', 'https']], 'https'],
      [[['UWSGI_SCHEME', 'https']], 'https'],
      [[], 'http'],
      [[['HTTPS', 'off']], 'http'],
    ];
    for (const [extra, want] of cases) {
      const vars: Array<[string, string]> = [['REQUEST_METHOD', 'GET'], ['PATH_INFO', '/s'], ...extra];
      const reply = await ask(uwsgi, 'uwsgi', uwsgiPacket(vars));
      assert.equal(reply.body.toString(), want, JSON.stringify(extra));
    }
  });
});

test('modifier1 30: SCRIPT_NAME is taken off the front of PATH_INFO', async () => {
  const app = (req: Request) => ({ body: JSON.stringify([req.SCRIPT_NAME, req.PATH_INFO, req.var('PATH_INFO')]) });
  await withServer(app, async ({ uwsgi }) => {
    const vars = (script: string, p: string): Array<[string, string]> =>
      [['REQUEST_METHOD', 'GET'], ['SCRIPT_NAME', script], ['PATH_INFO', p], ['REQUEST_URI', p]];
    const r30 = await ask(uwsgi, 'uwsgi', uwsgiPacket(vars('/app', '/app/x'), { modifier1: 30 }));
    assert.deepEqual(JSON.parse(r30.body.toString()), ['/app', '/x', '/x']);
    const r0 = await ask(uwsgi, 'uwsgi', uwsgiPacket(vars('/app', '/app/x'), { modifier1: 0 }));
    assert.deepEqual(JSON.parse(r0.body.toString()), ['/app', '/app/x', '/app/x'], 'modifier1 0 leaves PATH_INFO as sent');
    const other = await ask(uwsgi, 'uwsgi', uwsgiPacket(vars('/app', '/other/x'), { modifier1: 30 }));
    assert.deepEqual(JSON.parse(other.body.toString()), ['/app', '/other/x', '/other/x'], 'no prefix, nothing stripped');
  });
});

test('a repeated variable other than HTTP_* (nginx < 1.23): the first one counts', async () => {
  const app = (req: Request) => ({ body: JSON.stringify([req.header('x-dup'), req.header('cookie'), req.var('X_ONE')]) });
  await withServer(app, async ({ uwsgi }) => {
    const vars: Array<[string, string]> = [['REQUEST_METHOD', 'GET'], ['PATH_INFO', '/dup'],
      ['HTTP_X_DUP', 'a'], ['HTTP_COOKIE', 'c=1'], ['HTTP_X_DUP', 'b'], ['HTTP_COOKIE', 'd=2'],
      ['X_ONE', 'first'], ['X_ONE', 'second']];
    const reply = await ask(uwsgi, 'uwsgi', uwsgiPacket(vars));
    assert.deepEqual(JSON.parse(reply.body.toString()), ['a, b', 'c=1; d=2', 'first']);
  });
});

requestCases(UWSGI);
