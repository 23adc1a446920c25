// toNodeListener(): one TSGI app served by node:http and by tsgi's own
// serve() answers every request alike (status, headers but Date and the
// connection fields, body), and sees the same CGI variables.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { serve, toNodeListener, type App, type Request, type ServerHandle } from 'tsgi';
import {
  delay, parseResponses, rawRequest, type RawResponse, captureLog, deferred, within,
} from '../helpers/index.js';

/** The CGI variables, with the two ports that differ between the servers taken out. */
function variables(req: Request): Record<string, string> {
  const v = req.vars();
  delete v.SERVER_PORT;
  delete v.REMOTE_PORT;
  delete v.HTTP_HOST;
  return {
    ...v,
    header_ua: req.header('user-agent') ?? '',
    header_cookie: req.header('Cookie') ?? '',
    headers: JSON.stringify(req.headers.filter(([n]) => n.toLowerCase() !== 'host')),
    protocol: req.tsgi.protocol,
    scheme: req.tsgi.url_scheme,
  };
}

const app: App = async (req) => {
  switch (req.PATH_INFO) {
    case '/':
      return { headers: { 'content-type': 'text/plain' }, body: 'Hello, World!\n' };
    case '/vars':
      return { headers: [['content-type', 'application/json']], body: JSON.stringify(variables(req)) };
    case '/echo': {
      const body = await req.body.bytes();
      return { status: 201, headers: [['content-type', req.CONTENT_TYPE || 'application/octet-stream'], ['x-length', req.CONTENT_LENGTH]], body };
    }
    case '/json':
      return { headers: { 'content-type': 'application/json' }, body: JSON.stringify(await req.body.json()) };
    case '/small':
      return { body: await req.body.bytes(16) };
    case '/stream':
      return {
        headers: { 'content-type': 'text/plain', 'x-kind': ['a', 'b'] },
        body: (async function* () {
          for (let i = 0; i < 4; i++) {
            yield `chunk ${i}\n`;
            await delay(5);
          }
          yield Buffer.from('bytes too\n');
        })(),
      };
    case '/sync-iter':
      return { body: ['a', 'b', new Uint8Array([99])] };
    case '/length':
      return { headers: { 'content-length': '6' }, body: (function* () { yield 'abc'; yield 'def'; })() };
    case '/too-long':
      return { headers: { 'content-length': '4' }, body: (function* () { yield 'ab'; yield 'cdef'; yield 'gh'; })() };
    case '/too-short':
      return { headers: { 'content-length': '10' }, body: (function* () { yield 'abc'; })() };
    case '/cookies':
      return { headers: [['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2'], ['X-Case', 'Kept']], body: '' };
    case '/redirect':
      return { headers: { location: '/elsewhere' } };
    case '/no-content':
      return { status: 204, body: 'ignored' };
    case '/not-modified':
      return { status: 304, headers: { etag: '"x"' } };
    case '/hop':
      return { headers: { 'keep-alive': 'timeout=1', 'transfer-encoding': 'gzip', te: 'x', upgrade: 'h2c', 'x-ok': '1' }, body: 'hop' };
    case '/throw':
      throw new Error('the app failed');
    case '/throw-stream':
      return { body: (async function* () { throw new Error('before the first chunk'); })() };
    case '/bad-header':
      return { headers: { 'x-bad': 'a\r\nInjected: yes' }, body: 'no' };
    case '/bad-status':
      return { status: 99, body: 'no' };
    default:
      return { status: 404, headers: { 'content-type': 'text/plain' }, body: `not found: ${req.PATH_INFO}\n` };
  }
};

const IGNORED = new Set(['date', 'connection', 'keep-alive']);

function comparable(res: RawResponse): { status: number; headers: string[]; body: string; framing: string } {
  return {
    status: res.status,
    headers: res.headers.filter(([n]) => !IGNORED.has(n.toLowerCase())).map(([n, v]) => `${n.toLowerCase()}: ${v}`).sort(),
    body: res.body.toString('latin1'),
    framing: res.framing,
  };
}

async function exchange(port: number, request: string): Promise<RawResponse> {
  const r = await rawRequest(port, request, { timeoutMs: 3000 });
  const { responses } = parseResponses(r.data, { closed: r.closed, head: request.startsWith('HEAD ') });
  assert.equal(responses.length, 1, `one response to ${JSON.stringify(request.slice(0, 40))}: ${r.data.toString('latin1')}`);
  return responses[0]!;
}

const REQUESTS: Array<[string, string]> = [
  ['GET', 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
  ['HEAD', 'HEAD / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
  ['variables', 'GET /vars/../vars?x=1&y=%20 HTTP/1.1\r\nHost: example.test:1234\r\nUser-Agent: parity/1\r\n' +
    'Cookie: a=1\r\nCookie: b=2\r\nX-Forwarded_For: dropped\r\nConnection: close\r\n\r\n'],
  ['HTTP/1.0', 'GET /vars HTTP/1.0\r\nHost: localhost\r\n\r\n'],
  ['POST echo', 'POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world'],
  ['POST chunked echo', 'POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n'],
  ['POST JSON', 'POST /json HTTP/1.1\r\nHost: localhost\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{"a":[1]}'],
  ['bad JSON: 400', 'POST /json HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nConnection: close\r\n\r\n{no}'],
  ['over the reader limit: 413', 'POST /small HTTP/1.1\r\nHost: localhost\r\nContent-Length: 20\r\nConnection: close\r\n\r\n01234567890123456789'],
  ['streaming', 'GET /stream HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
  ['streaming to HTTP/1.0', 'GET /stream HTTP/1.0\r\nHost: localhost\r\n\r\n'],
  ['HEAD of a stream', 'HEAD /stream HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
  ['sync iterable', 'GET /sync-iter HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
  ['stream with Content-Length', 'GET /length HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
  ['stream longer than its Content-Length: cut there', 'GET /too-long HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
  ['two Set-Cookie', 'GET /cookies HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
  ['Location without status: 302', 'GET /redirect HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
  ['204 without body', 'GET /no-content HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
  ['304 without body', 'GET /not-modified HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
  ['hop-by-hop fields dropped', 'GET /hop HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
  ['throw: 500', 'GET /throw HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
  ['stream throws first: 500', 'GET /throw-stream HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
  ['header with CRLF: 500', 'GET /bad-header HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
  ['status 99: 500', 'GET /bad-status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
  ['404', 'GET /nothing%20here HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
];

describe('the same TSGI app on node:http (toNodeListener) and on serve()', () => {
  let tsgi: ServerHandle;
  let node: http.Server;
  let tsgiPort = 0;
  let nodePort = 0;
  const tsgiLogs = captureLog();
  const nodeLogs = captureLog();

  before(async () => {
    tsgi = serve(app, { listen: '127.0.0.1:0', log: tsgiLogs.log });
    tsgiPort = tsgi.addresses[0]!.port!;
    node = http.createServer(toNodeListener(app, { log: nodeLogs.log }));
    await new Promise<void>((resolve) => node.listen(0, '127.0.0.1', resolve));
    nodePort = (node.address() as AddressInfo).port;
  });
  after(async () => {
    await tsgi.close(2000);
    node.closeAllConnections();
    await new Promise((resolve) => node.close(resolve));
  });

  for (const [name, request] of REQUESTS) {
    test(name, async () => {
      const a = comparable(await exchange(tsgiPort, request));
      const b = comparable(await exchange(nodePort, request));
      assert.deepEqual(b, a, `node:http (actual) vs serve() (expected) for ${JSON.stringify(request.split('\r\n')[0])}`);
      assert.notEqual(a.status, 0);
    });
  }

  test('a stream shorter than its Content-Length: the client sees the connection close early', async () => {
    for (const port of [tsgiPort, nodePort]) {
      const r = await rawRequest(port, 'GET /too-short HTTP/1.1\r\nHost: localhost\r\n\r\n', { timeoutMs: 3000 });
      assert.ok(r.closed, `port ${port}: closed`);
      const text = r.data.toString('latin1');
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(text, /\r\nContent-Length: 10\r\n/i);
      assert.ok(text.endsWith('\r\n\r\nabc'), `port ${port}: ${JSON.stringify(text)}`);
    }
  });

  test('both log an app error with the method and URI, never a stack to the client', async () => {
    const a = await exchange(tsgiPort, 'GET /throw?n=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const b = await exchange(nodePort, 'GET /throw?n=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    for (const res of [a, b]) {
      assert.equal(res.status, 500);
      assert.equal(res.body.toString(), 'Internal Server Error\n');
    }
    await tsgiLogs.wait(/app error on GET \/throw\?n=2: Error: the app failed/);
    await nodeLogs.wait(/app error on GET \/throw\?n=2: Error: the app failed/);
  });

  test('keep-alive: several requests on one connection', async () => {
    const one = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
    for (const port of [tsgiPort, nodePort]) {
      const r = await rawRequest(port, one + one + 'GET /vars HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const { responses } = parseResponses(r.data, { closed: r.closed });
      assert.deepEqual(responses.map((x) => x.status), [200, 200, 200], `port ${port}`);
    }
  });
});

test('toNodeListener: the signal fires and a stream stops when the client goes away', async () => {
  const aborted = deferred<void>();
  const stopped = deferred<void>();
  const started = deferred<void>();
  const node = http.createServer(toNodeListener((req) => {
    req.signal.addEventListener('abort', () => aborted.resolve());
    return {
      body: (async function* () {
        try {
          started.resolve();
          for (;;) {
            yield 'x'.repeat(1024);
            await delay(5);
          }
        } finally {
          stopped.resolve();
        }
      })(),
    };
  }));
  await new Promise<void>((resolve) => node.listen(0, '127.0.0.1', resolve));
  try {
    const sock = net.connect((node.address() as AddressInfo).port, '127.0.0.1');
    sock.on('error', () => {});
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await within(started.promise, 2000, 'the stream started');
    await delay(30);
    sock.destroy();
    await within(aborted.promise, 2000, 'req.signal fired');
    await within(stopped.promise, 2000, 'the generator was stopped');
  } finally {
    node.closeAllConnections();
    await new Promise((resolve) => node.close(resolve));
  }
});
