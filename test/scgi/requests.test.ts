// Good SCGI requests, as nginx's scgi_pass sends them (CONTENT_LENGTH first,
// SCGI=1): the variables reach the app, the body is read, and the reply is a
// CGI-style head (a Status header, no status line, no hop-by-hop field),
// ended by closing the connection. After each case, every socket of the
// server still serves a good request. The cases uwsgi shares are in
// test/helpers/cgi-suite.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Request } from 'tsgi';
import { deferred, within } from '../helpers/index.js';
import { ask, assertNoHopByHop, exchange, parseCgiReply, scgiRequest, values, withServer } from '../helpers/cgi-client.js';
import { requestCases, SCGI } from '../helpers/cgi-suite.js';

test('a good request: the variables reach the app; the reply starts with "Status: 200 OK", then close', async () => {
  const seen = deferred<Record<string, unknown>>();
  const app = async (req: Request) => {
    const body = await req.body.text();
    seen.resolve({
      REQUEST_METHOD: req.REQUEST_METHOD, PATH_INFO: req.PATH_INFO, QUERY_STRING: req.QUERY_STRING,
      REQUEST_URI: req.REQUEST_URI, CONTENT_TYPE: req.CONTENT_TYPE, CONTENT_LENGTH: req.CONTENT_LENGTH,
      SERVER_NAME: req.SERVER_NAME, SERVER_PORT: req.SERVER_PORT, REMOTE_ADDR: req.REMOTE_ADDR,
      REMOTE_PORT: req.REMOTE_PORT, SCGI: req.var('SCGI'), DOCUMENT_ROOT: req.var('DOCUMENT_ROOT'),
      custom: req.var('X_CUSTOM'), ua: req.header('user-agent'), scheme: req.tsgi.url_scheme,
      protocol: req.tsgi.protocol, body,
    });
    return {
      headers: [['content-type', 'text/plain'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']] as [string, string][],
      body: `got ${body}`,
    };
  };
  await withServer(app, async ({ scgi }) => {
    const vars: Array<[string, string]> = [
      ['CONTENT_LENGTH', '5'], ['SCGI', '1'], ['REQUEST_METHOD', 'PUT'], ['PATH_INFO', '/p/q'],
      ['QUERY_STRING', 'k=v'], ['REQUEST_URI', '/p/q?k=v'], ['CONTENT_TYPE', 'text/plain'],
      ['SERVER_NAME', 'example.org'], ['SERVER_PORT', '8443'], ['REMOTE_ADDR', '198.51.100.4'],
      ['REMOTE_PORT', '6000'], ['DOCUMENT_ROOT', '/srv'], ['HTTPS', 'on'], ['X_CUSTOM', 'yes'],
      ['HTTP_USER_AGENT', 'agent/2'],
    ];
    const r = await exchange(scgi, scgiRequest(vars, { body: 'hello' }));
    assert.ok(r.closed, 'the server closes the connection after the reply');
    const text = r.data.toString('latin1');
    assert.ok(text.startsWith('Status: 200 OK\r\n'), JSON.stringify(text.slice(0, 40)));
    assert.doesNotMatch(text.split('\r\n\r\n')[0]!, /^HTTP\//m, 'no status line');
    const reply = parseCgiReply(r.data, 'scgi');
    assertNoHopByHop(reply);
    assert.deepEqual(values(reply, 'set-cookie'), ['a=1', 'b=2']);
    assert.deepEqual(values(reply, 'content-length'), ['9']);
    assert.deepEqual(values(reply, 'status'), [], 'Status only once, as the first line');
    assert.equal(reply.body.toString(), 'got hello');
    assert.deepEqual(await within(seen.promise, 2000, 'the app'), {
      REQUEST_METHOD: 'PUT', PATH_INFO: '/p/q', QUERY_STRING: 'k=v', REQUEST_URI: '/p/q?k=v', CONTENT_TYPE: 'text/plain',
      CONTENT_LENGTH: '5', SERVER_NAME: 'example.org', SERVER_PORT: '8443', REMOTE_ADDR: '198.51.100.4',
      REMOTE_PORT: '6000', SCGI: '1', DOCUMENT_ROOT: '/srv', custom: 'yes', ua: 'agent/2', scheme: 'https',
      protocol: 'scgi', body: 'hello',
    });
  });
});

test('SCGI=1 may come anywhere (lighttpd puts it last); CONTENT_LENGTH "0" without a body', async () => {
  await withServer((req: Request) => ({ body: `${req.REQUEST_METHOD} ${req.PATH_INFO} [${req.CONTENT_LENGTH}]` }), async ({ scgi }) => {
    const reply = await ask(scgi, 'scgi', scgiRequest([['CONTENT_LENGTH', '0'], ['REQUEST_METHOD', 'GET'],
      ['PATH_INFO', '/last'], ['SCGI', '1']]));
    assert.equal(reply.first, 'Status: 200 OK');
    assert.equal(reply.body.toString(), 'GET /last [0]');
  });
});

requestCases(SCGI);
