// The Node adapter's own contract, with plain listeners and Express: how
// req.url is made, what req and res carry, writeHead's forms, a 10 MiB
// upload streamed through Express, a client leaving (res 'close'), a slow
// reader (res.write returns false, 'drain' after the client reads), and the
// failures (a listener that throws, a promise that rejects).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as http from 'node:http';
import * as net from 'node:net';
import express from 'express';
import { fromNodeListener, type Reply, type Request } from 'tsgi';
import { delay, eventually } from '../helpers/index.js';
import { header, headers, PROTOCOLS, threeWays, type ThreeWays } from './fixtures/three-ways.js';

describe('plain listeners', () => {
  let t: ThreeWays;
  const events: string[] = [];

  before(() => {
    t = threeWays(fromNodeListener((req: IncomingMessage, res: ServerResponse) => {
      const u = new URL(req.url!, 'http://x');
      if (u.pathname.startsWith('/url')) {
        res.end(req.url);
        return;
      }
      switch (u.pathname) {
        case '/whoami': {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({
            method: req.method, url: req.url, httpVersion: req.httpVersion,
            major: req.httpVersionMajor, minor: req.httpVersionMinor, headers: req.headers,
            rawHeaders: req.rawHeaders, remoteAddress: req.socket.remoteAddress, remotePort: req.socket.remotePort,
            connectionSame: req.connection === req.socket, encrypted: (req.socket as { encrypted?: boolean }).encrypted ?? null,
            localPort: req.socket.localPort, localAddress: req.socket.localAddress ?? null,
            resSocketSame: res.socket === req.socket,
          }));
          return;
        }
        case '/head-array':
          res.writeHead(201, [['X-A', '1'], ['X-A', '2'], ['Set-Cookie', 'c=1'], ['Set-Cookie', 'd=2']]);
          res.end('pairs');
          return;
        case '/head-flat':
          res.setHeader('X-Before', 'kept');
          res.setHeader('X-Replaced', 'old');
          res.writeHead(202, 'Accepted Indeed', ['X-Replaced', 'new', 'X-Flat', 'a', 'X-Flat', 'b']);
          res.end(Buffer.from('flat'));
          return;
        case '/head-object': {
          const r = res.writeHead(203, { 'Content-Type': 'text/x-obj', 'X-Many': ['p', 'q'], 'X-Num': 5 });
          assert.equal(r, res, 'writeHead returns res');
          assert.equal(res.headersSent, true);
          assert.throws(() => res.setHeader('x-late', '1'), { code: 'ERR_HTTP_HEADERS_SENT' });
          res.write('obj ', 'utf8', () => { events.push('write cb'); });
          res.end('done', () => { events.push('end cb'); });
          return;
        }
        case '/encodings':
          res.write('68656c6c6f20', 'hex');
          res.write('d29ybGQ=', 'base64');
          res.end('!', 'latin1');
          return;
        case '/te-and-length':
          res.setHeader('Transfer-Encoding', 'chunked');
          res.setHeader('Content-Length', '999');
          res.write('the length was wrong');
          res.end();
          return;
        case '/flush':
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.flushHeaders();
          setTimeout(() => { res.write('data: 1\n\n'); res.end(); }, 30);
          return;
        case '/finish': {
          res.on('finish', () => { events.push(`finish ended=${res.writableEnded} finished=${res.writableFinished}`); });
          res.on('close', () => { events.push('close'); });
          res.end('x');
          events.push(`after end ended=${res.writableEnded} finished=${res.writableFinished}`);
          return;
        }
        case '/end-again': {
          // end(cb) before 'finish' waits for it; after it, cb gets an error.
          const code = (err?: Error | null): string => (err ? (err as Error & { code: string }).code : 'ok');
          res.on('finish', () => {
            events.push('finish');
            res.end((err?: Error | null) => { events.push(`late end cb ${code(err)} finished=${res.writableFinished}`); });
          });
          if (u.searchParams.has('stream')) res.write('streamed ');
          res.end('x', (err?: Error | null) => { events.push(`end cb ${code(err)}`); });
          res.end((err?: Error | null) => { events.push(`second end cb ${code(err)}`); });
          return;
        }
        case '/throw':
          throw new Error('listener threw');
        case '/reject':
          return Promise.reject(new Error('listener rejected'));
        case '/destroy':
          setTimeout(() => res.destroy(new Error('gave up')), 5);
          return;
        case '/upper': {
          res.setHeader('content-type', 'text/plain');
          req.setEncoding('utf8');
          let s = '';
          req.on('data', (c: string) => { s += c; });
          req.on('end', () => { res.end(s.toUpperCase()); });
          return;
        }
        default:
          res.statusCode = 404;
          res.end('no');
      }
    }));
  });

  after(async () => { await t.server.close(2000); });

  for (const proto of PROTOCOLS) {
    it(`${proto}: req carries method, url, version, headers as Node joins them, rawHeaders, the socket's addresses`, async () => {
      const a = await t.ask(proto, '/whoami?q=1', {
        headers: { 'X-Custom': 'hi', 'Cookie': 'a=1; b=2', 'content-type': 'text/plain' }, body: 'abc',
      });
      const j = JSON.parse(a.body.toString());
      assert.equal(j.method, 'POST');
      assert.equal(j.url, '/whoami?q=1');
      assert.equal(j.httpVersion, '1.1');
      assert.equal(j.major, 1);
      assert.equal(j.minor, 1);
      assert.equal(j.headers['x-custom'], 'hi');
      assert.equal(j.headers.cookie, 'a=1; b=2');
      assert.equal(j.headers['content-type'], 'text/plain');
      assert.equal(j.headers['content-length'], '3');
      assert.ok(j.rawHeaders.length % 2 === 0 && j.rawHeaders.length >= 8, JSON.stringify(j.rawHeaders));
      assert.equal(j.connectionSame, true);
      assert.equal(j.resSocketSame, true);
      assert.equal(j.encrypted, null);
      if (proto === 'http') {
        assert.equal(j.remoteAddress, '127.0.0.1');
        assert.ok(j.remotePort > 0);
        assert.equal(j.localPort, t.port('http'));
        assert.ok(j.rawHeaders.includes('X-Custom'), 'names as sent over HTTP');
      } else {
        assert.equal(j.remoteAddress, '192.0.2.10');
        assert.equal(j.remotePort, 40000);
        assert.equal(j.localPort, 80);
        assert.equal(j.localAddress, '192.0.2.1');
      }
    });

    it(`${proto}: writeHead with pairs, a flat array over set headers, an object; callbacks and encodings`, async () => {
      const a = await t.ask(proto, '/head-array');
      assert.equal(a.status, 201);
      assert.deepEqual(headers(a, 'x-a'), ['1', '2']);
      assert.deepEqual(headers(a, 'set-cookie'), ['c=1', 'd=2']);
      assert.equal(a.body.toString(), 'pairs');
      const b = await t.ask(proto, '/head-flat');
      assert.equal(b.status, 202);
      assert.equal(header(b, 'x-before'), 'kept');
      assert.equal(header(b, 'x-replaced'), 'new');
      assert.deepEqual(headers(b, 'x-flat'), ['a', 'b']);
      assert.equal(b.body.toString(), 'flat');
      events.length = 0;
      const c = await t.ask(proto, '/head-object');
      assert.equal(c.status, 203);
      assert.equal(header(c, 'content-type'), 'text/x-obj');
      assert.deepEqual(headers(c, 'x-many'), ['p', 'q']);
      assert.equal(header(c, 'x-num'), '5');
      assert.equal(c.body.toString(), 'obj done');
      await eventually(() => (events.length === 2 ? true : undefined), 2000, 'the callbacks');
      assert.deepEqual(events, ['write cb', 'end cb']);
      const d = await t.ask(proto, '/encodings');
      assert.equal(d.body.toString(), 'hello world!');
    });

    it(`${proto}: Transfer-Encoding with Content-Length: the length is dropped, the body streamed whole`, async () => {
      const a = await t.ask(proto, '/te-and-length');
      assert.equal(a.status, 200);
      assert.equal(header(a, 'content-length'), undefined);
      assert.equal(a.body.toString(), 'the length was wrong');
    });

    it(`${proto}: the request body as 'data' events with an encoding`, async () => {
      const a = await t.ask(proto, '/upper', { body: 'héllo wörld', headers: { 'content-type': 'text/plain' } });
      assert.equal(a.body.toString(), 'HÉLLO WÖRLD');
    });

    it(`${proto}: a listener that throws, rejects or destroys the response gets a 500`, async () => {
      for (const p of ['/throw', '/reject', '/destroy']) {
        const a = await t.ask(proto, p);
        assert.equal(a.status, 500, p);
        assert.equal(a.body.toString(), 'Internal Server Error\n', p);
      }
      assert.ok(t.logs.some((l) => /listener threw/.test(l)), t.logs.join('\n'));
      assert.ok(t.logs.some((l) => /listener rejected/.test(l)));
    });
  }

  it('http: flushHeaders sends the head before the body', async () => {
    const sock = net.connect(t.port('http'), '127.0.0.1');
    let got = '';
    sock.on('data', (c) => { got += c.toString('latin1'); });
    sock.write('GET /flush HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(() => (got.includes('\r\n\r\n') ? true : undefined), 2000, 'the head');
    assert.match(got, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(got, /content-type: text\/event-stream/i);
    assert.doesNotMatch(got, /data: 1/, 'the head came before the body was written');
    await eventually(() => (got.includes('data: 1') ? true : undefined), 2000, 'the event');
    sock.destroy();
  });

  it("'finish' then 'close'; writableFinished turns true at 'finish', writableEnded at end()", async () => {
    events.length = 0;
    const a = await t.ask('http', '/finish');
    assert.equal(a.body.toString(), 'x');
    await eventually(() => (events.includes('close') ? true : undefined), 2000, 'close');
    assert.deepEqual(events, ['after end ended=true finished=false', 'finish ended=true finished=true', 'close']);
  });

  for (const path of ['/end-again', '/end-again?stream']) {
    it(`${path}: end(cb) before 'finish' calls cb at 'finish'; after it, with ERR_STREAM_ALREADY_FINISHED`, async () => {
      events.length = 0;
      const a = await t.ask('http', path);
      assert.equal(a.body.toString(), path.endsWith('stream') ? 'streamed x' : 'x');
      await eventually(() => (events.some((e) => e.startsWith('late')) ? true : undefined), 2000, 'the late end cb');
      assert.deepEqual(events, ['finish', 'end cb ok', 'second end cb ok', 'late end cb ERR_STREAM_ALREADY_FINISHED finished=true']);
    });
  }

  for (const proto of ['uwsgi', 'fastcgi'] as const) {
    it(`${proto}: req.url is REQUEST_URI, or the part below a mount; without it SCRIPT_NAME + PATH_INFO (encoded) + ? QUERY_STRING`, async () => {
      const base = { REQUEST_URI: null } as Record<string, string | null>;
      const cases: Array<[Record<string, string | null>, string]> = [
        [{ REQUEST_URI: '/url/a%20b?x=1' }, '/url/a%20b?x=1'],
        [{ ...base, SCRIPT_NAME: '', PATH_INFO: '/url/a b', QUERY_STRING: 'x=1&y=%20' }, '/url/a%20b?x=1&y=%20'],
        // Apache's mod_proxy_fcgi: the whole path as SCRIPT_NAME, no PATH_INFO: not a mount.
        [{ ...base, SCRIPT_NAME: '/url/whole/path', PATH_INFO: null, QUERY_STRING: '' }, '/url/whole/path'],
        // Mounted at /mnt by the web server: the app sees the path below it, as under app.use('/mnt', app).
        [{ REQUEST_URI: '/mnt/url/a%20b?x=1', SCRIPT_NAME: '/mnt', PATH_INFO: '/url/a b', QUERY_STRING: 'x=1' }, '/url/a%20b?x=1'],
        [{ ...base, SCRIPT_NAME: '/mnt', PATH_INFO: '/url/50%?#', QUERY_STRING: '' }, '/url/50%25%3F%23'],
      ];
      for (const [vars, want] of cases) {
        const a = await t.ask(proto, '/url/ignored', { vars });
        assert.equal(a.body.toString(), want, JSON.stringify(vars));
      }
    });
  }
});

describe('Express: uploads, clients that leave, slow clients', () => {
  let t: ThreeWays;
  const closes: Array<{ finished: boolean; destroyed: boolean; reqAborted: boolean }> = [];
  const pumps: Array<{ falseAt: number[]; written: number; drains: number }> = [];
  const MiB = 1024 * 1024;

  before(() => {
    const app = express();
    app.put('/upload', (req, res, next) => {
      const hash = createHash('sha256');
      let n = 0;
      req.on('data', (c: Buffer) => { n += c.length; hash.update(c); });
      req.on('end', () => { res.json({ bytes: n, sha256: hash.digest('hex') }); });
      req.on('error', next);
    });
    app.get('/hang', (req, res) => {
      res.write('first');
      res.on('close', () => {
        closes.push({ finished: res.writableFinished, destroyed: res.destroyed, reqAborted: req.aborted });
      });
    });
    app.get('/pump', (req, res) => {
      const TOTAL = 32 * MiB;
      const chunk = Buffer.alloc(64 * 1024, 120);
      const state = { falseAt: [] as number[], written: 0, drains: 0 };
      pumps.push(state);
      res.setHeader('content-type', 'application/octet-stream');
      res.setHeader('content-length', String(TOTAL));
      const pump = (): void => {
        while (state.written < TOTAL) {
          state.written += chunk.length;
          if (!res.write(chunk)) {
            state.falseAt.push(state.written);
            res.once('drain', () => { state.drains++; pump(); });
            return;
          }
        }
        res.end();
      };
      pump();
    });
    t = threeWays(fromNodeListener(app));
  });

  after(async () => { await t.server.close(2000); });

  for (const proto of PROTOCOLS) {
    it(`${proto}: a 10 MiB upload streams through Express intact (sha256)`, async () => {
      const body = Buffer.alloc(10 * MiB);
      for (let i = 0; i < body.length; i += 4) body.writeUInt32LE((i * 2654435761) >>> 0, i);
      const want = createHash('sha256').update(body).digest('hex');
      const a = await t.ask(proto, '/upload', { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(a.status, 200, a.body.toString());
      assert.deepEqual(JSON.parse(a.body.toString()), { bytes: body.length, sha256: want });
    });
  }

  it("http: a client that leaves mid-reply fires res 'close' (and req is aborted)", async () => {
    closes.length = 0;
    const sock = net.connect(t.port('http'), '127.0.0.1');
    let got = '';
    sock.on('data', (c) => { got += c.toString('latin1'); });
    sock.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(() => (got.includes('first') ? true : undefined), 2000, 'the first chunk');
    assert.equal(closes.length, 0, 'no close while the client is there');
    sock.destroy();
    await eventually(() => (closes.length > 0 ? true : undefined), 3000, "res 'close'");
    assert.deepEqual(closes, [{ finished: false, destroyed: true, reqAborted: true }]);
  });

  it("uwsgi: the web server closing the connection fires res 'close' too", async () => {
    closes.length = 0;
    const { uwsgiPacket } = await import('../helpers/cgi-client.js');
    const { cgiVarsFor } = await import('./fixtures/three-ways.js');
    const sock = net.connect(t.port('uwsgi'), '127.0.0.1');
    let got = '';
    sock.on('data', (c) => { got += c.toString('latin1'); });
    sock.write(uwsgiPacket(cgiVarsFor('/hang')));
    await eventually(() => (got.includes('first') ? true : undefined), 2000, 'the first chunk');
    sock.destroy();
    await eventually(() => (closes.length > 0 ? true : undefined), 3000, "res 'close'");
    assert.equal(closes[0]!.finished, false);
  });

  it('http: a slow reader makes res.write return false; drain comes once the client reads', async () => {
    pumps.length = 0;
    const sock = net.connect(t.port('http'), '127.0.0.1');
    let received = 0;
    let headEnd = -1;
    let head = '';
    sock.on('data', (c: Buffer) => {
      if (headEnd === -1) {
        head += c.toString('latin1');
        headEnd = head.indexOf('\r\n\r\n');
        if (headEnd !== -1) received += Buffer.byteLength(head, 'latin1') - headEnd - 4;
      } else {
        received += c.length;
      }
    });
    sock.write('GET /pump HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await eventually(() => (headEnd !== -1 ? true : undefined), 2000, 'the head');
    sock.pause();
    await delay(300);
    const p = pumps[0]!;
    const writtenWhilePaused = p.written;
    const drainsWhilePaused = p.drains;
    assert.ok(p.falseAt.length > 0, 'write() returned false while the client did not read');
    assert.ok(writtenWhilePaused < 24 * MiB, `the app stopped writing (${writtenWhilePaused} bytes written)`);
    // The socket buffers are full by now: the app waits for a 'drain' that does not come.
    await delay(200);
    assert.equal(p.written, writtenWhilePaused, 'nothing more was written while the client did not read');
    assert.equal(p.drains, drainsWhilePaused, "no 'drain' while the client does not read");
    sock.resume();
    await new Promise<void>((resolve) => sock.on('close', () => resolve()));
    assert.equal(received, 32 * MiB);
    assert.ok(p.drains > drainsWhilePaused, "'drain' came after the client read");
    assert.match(head, /content-length: 33554432/i);
  });
});

/** The least of a TSGI request a listener needs, for calling the App directly. */
function fakeRequest(method: string, uri: string): Request {
  const signal = new AbortController().signal;
  return {
    REQUEST_METHOD: method, SCRIPT_NAME: '', PATH_INFO: uri, QUERY_STRING: '', REQUEST_URI: uri, CONTENT_TYPE: '',
    CONTENT_LENGTH: '', SERVER_NAME: 'x', SERVER_PORT: '80', SERVER_PROTOCOL: 'HTTP/1.1', REMOTE_ADDR: '192.0.2.5',
    REMOTE_PORT: '1234', var: () => undefined, vars: () => ({}), header: () => undefined,
    headers: [['Host', 'x'], ['Set-Cookie', 'a'], ['set-cookie', 'b']],
    body: { done: true } as Request['body'], signal,
    tsgi: { version: [0, 1], url_scheme: 'https', protocol: 'http', multiprocess: false, multithread: false, run_once: false },
  } as unknown as Request;
}

describe('the reply the App returns', () => {
  it('end() with the whole body, synchronously: a plain reply, returned without a promise', () => {
    const app = fromNodeListener((req, res) => {
      assert.equal((req.socket as { encrypted?: boolean }).encrypted, true);
      assert.deepEqual(req.headers['set-cookie'], ['a', 'b']);
      res.statusCode = 418;
      res.setHeader('X-Kind', 'teapot');
      res.setHeader('Set-Cookie', ['c=1', 'd=2']);
      res.end('short and stout');
    });
    const reply = app(fakeRequest('GET', '/tea')) as Reply;
    assert.equal(typeof (reply as unknown as Promise<Reply>).then, 'undefined', 'not a promise');
    assert.equal(reply.status, 418);
    assert.equal(reply.body, 'short and stout');
    assert.deepEqual(reply.headers, { 'X-Kind': 'teapot', 'Set-Cookie': ['c=1', 'd=2'] });
  });

  it('writeHead(status, headers) then end(buffer): the headers as given, the Buffer as the body', () => {
    const app = fromNodeListener((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 });
      res.end(Buffer.from('abc'));
    });
    const reply = app(fakeRequest('GET', '/')) as Reply;
    assert.deepEqual(reply.headers, { 'content-type': 'text/plain', 'content-length': 3 });
    assert.deepEqual(reply.body, Buffer.from('abc'));
  });

  it('a write() makes the body an async iterable of the chunks written', async () => {
    const app = fromNodeListener((req, res) => {
      res.write('a');
      setTimeout(() => { res.write(Buffer.from('b')); res.end('c'); }, 5);
    });
    const reply = await app(fakeRequest('GET', '/'));
    const got: string[] = [];
    for await (const c of reply.body as AsyncIterable<string | Uint8Array>) got.push(Buffer.from(c).toString());
    assert.deepEqual(got, ['a', 'b', 'c']);
  });
});

describe('fromNodeListener misuse', () => {
  it('needs a function', () => {
    assert.throws(() => fromNodeListener(42 as unknown as http.RequestListener), TypeError);
  });
});
