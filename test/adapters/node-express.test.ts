// An unmodified Express 5 app through fromNodeListener, over HTTP, uwsgi and
// FastCGI: routing with params, express.json(), express.static with a Range,
// two cookies, a response written over time, an async route that throws into
// the error handler, and the 404 of finalhandler.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import express from 'express';
import { fromNodeApp, fromNodeListener } from 'tsgi';
import { tempDir } from '../helpers/index.js';
import { header, headers, PROTOCOLS, threeWays, type ThreeWays } from './fixtures/three-ways.js';

describe('Express 5 through fromNodeListener', () => {
  let dir: string;
  let t: ThreeWays;
  const fileBody = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz\n'.repeat(100));
  const bigBody = randomBytes(3 * 1024 * 1024 + 17);
  const seen: Array<{ req: boolean; res: boolean; httpReq: boolean; httpRes: boolean }> = [];

  before(() => {
    dir = tempDir('tsgi-express-');
    fs.writeFileSync(path.join(dir, 'file.txt'), fileBody);
    fs.writeFileSync(path.join(dir, 'big.bin'), bigBody);
    const app = express();
    app.use((req, res, next) => {
      seen.push({
        req: req instanceof http.IncomingMessage, res: res instanceof http.ServerResponse,
        httpReq: Object.getPrototypeOf(Object.getPrototypeOf(Object.getPrototypeOf(req))) === http.IncomingMessage.prototype,
        httpRes: Object.getPrototypeOf(Object.getPrototypeOf(Object.getPrototypeOf(res))) === http.ServerResponse.prototype,
      });
      next();
    });
    app.use('/static', express.static(dir));
    app.get('/users/:id/books/:book', (req, res) => {
      res.json({ params: req.params, query: req.query, url: req.url, originalUrl: req.originalUrl,
        protocol: req.protocol, secure: req.secure, ip: req.ip, hostname: req.hostname, method: req.method });
    });
    app.post('/echo', express.json(), (req, res) => {
      res.status(201).json({ got: req.body, type: req.get('content-type') });
    });
    app.get('/cookies', (req, res) => {
      res.cookie('a', '1', { httpOnly: true });
      res.cookie('b', 'two', { path: '/x' });
      res.send('cookies set');
    });
    app.get('/slow', (req, res) => {
      res.type('text/plain');
      let n = 0;
      const tick = () => {
        n++;
        if (n <= 3) {
          res.write(`part ${n}\n`);
          setTimeout(tick, 20);
        } else {
          res.end('done\n');
        }
      };
      tick();
    });
    app.get('/boom', async () => {
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('kaboom');
    });
    app.get('/sync-boom', () => {
      throw new Error('sync kaboom');
    });
    app.use((err: Error, req: express.Request, res: express.Response, next: express.NextFunction) => {
      void next;
      res.status(500).type('text/plain').send(`handled: ${err.message}`);
    });
    t = threeWays(fromNodeListener(app));
  });

  after(async () => {
    await t.server.close(2000);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is recognised by fromNodeApp as a listener', () => {
    assert.equal(typeof fromNodeApp(express()), 'function');
    assert.equal(fromNodeApp({}), undefined);
    assert.equal(fromNodeApp((req: unknown) => req), undefined);
    assert.equal(fromNodeApp(42), undefined);
  });

  for (const proto of PROTOCOLS) {
    it(`${proto}: routes with params and a query; req and res are node:http's own kinds`, async () => {
      seen.length = 0;
      const a = await t.ask(proto, '/users/42/books/dune%20messiah?x=1&y=two', { headers: { 'x-test': 'yes' } });
      assert.equal(a.status, 200);
      assert.match(header(a, 'content-type')!, /^application\/json/);
      const j = JSON.parse(a.body.toString());
      assert.deepEqual(j.params, { id: '42', book: 'dune messiah' });
      assert.deepEqual(j.query, { x: '1', y: 'two' });
      assert.equal(j.url, '/users/42/books/dune%20messiah?x=1&y=two');
      assert.equal(j.protocol, 'http');
      assert.equal(j.secure, false);
      assert.equal(j.method, 'GET');
      assert.equal(j.ip, proto === 'http' ? '127.0.0.1' : '192.0.2.10');
      assert.equal(j.hostname, proto === 'http' ? '127.0.0.1' : 'example.test');
      assert.deepEqual(seen, [{ req: true, res: true, httpReq: true, httpRes: true }]);
      assert.equal(header(a, 'x-powered-by'), 'Express');
      assert.equal(Number(header(a, 'content-length')), a.body.length);
    });

    it(`${proto}: express.json() reads a POST body and the reply echoes it`, async () => {
      const body = JSON.stringify({ name: 'tsgi', list: [1, 2, 3], nested: { ok: true } });
      const a = await t.ask(proto, '/echo', { body, headers: { 'content-type': 'application/json' } });
      assert.equal(a.status, 201);
      assert.deepEqual(JSON.parse(a.body.toString()), { got: JSON.parse(body), type: 'application/json' });
    });

    it(`${proto}: express.static serves a file, whole and by Range`, async () => {
      const whole = await t.ask(proto, '/static/file.txt');
      assert.equal(whole.status, 200);
      assert.deepEqual(whole.body, fileBody);
      assert.equal(header(whole, 'accept-ranges'), 'bytes');
      assert.ok(header(whole, 'etag'));
      const part = await t.ask(proto, '/static/file.txt', { headers: { range: 'bytes=10-19' } });
      assert.equal(part.status, 206);
      assert.equal(header(part, 'content-range'), `bytes 10-19/${fileBody.length}`);
      assert.equal(part.body.toString(), fileBody.subarray(10, 20).toString());
      // Larger than any buffer on the way: send's fs.createReadStream(f).pipe(res) under backpressure.
      const big = await t.ask(proto, '/static/big.bin');
      assert.equal(big.status, 200);
      assert.equal(Number(header(big, 'content-length')), bigBody.length);
      assert.ok(big.body.equals(bigBody), 'the big file arrives intact');
      const missing = await t.ask(proto, '/static/nope.txt');
      assert.equal(missing.status, 404);
    });

    it(`${proto}: two cookies are two Set-Cookie fields`, async () => {
      const a = await t.ask(proto, '/cookies');
      assert.equal(a.status, 200);
      assert.deepEqual(headers(a, 'set-cookie'), ['a=1; Path=/; HttpOnly', 'b=two; Path=/x']);
      assert.equal(a.body.toString(), 'cookies set');
    });

    it(`${proto}: a response written over time arrives whole, streamed`, async () => {
      const a = await t.ask(proto, '/slow');
      assert.equal(a.status, 200);
      assert.equal(a.body.toString(), 'part 1\npart 2\npart 3\ndone\n');
      assert.equal(header(a, 'content-length'), undefined);
      if (proto === 'http') assert.equal(header(a, 'transfer-encoding'), 'chunked');
    });

    it(`${proto}: an async route that throws reaches the error handler; so does a sync one`, async () => {
      const a = await t.ask(proto, '/boom');
      assert.equal(a.status, 500);
      assert.equal(a.body.toString(), 'handled: kaboom');
      const b = await t.ask(proto, '/sync-boom');
      assert.equal(b.status, 500);
      assert.equal(b.body.toString(), 'handled: sync kaboom');
    });

    it(`${proto}: an unknown path is finalhandler's 404, also for a POST with a body`, async () => {
      const a = await t.ask(proto, '/no/such/page');
      assert.equal(a.status, 404);
      assert.match(a.body.toString(), /Cannot GET \/no\/such\/page/);
      const b = await t.ask(proto, '/nothing', { body: 'x'.repeat(100_000), headers: { 'content-type': 'text/plain' } });
      assert.equal(b.status, 404);
      assert.match(b.body.toString(), /Cannot POST \/nothing/);
    });

    it(`${proto}: HEAD gets the GET's headers and no body`, async () => {
      const a = await t.ask(proto, '/cookies', { method: 'HEAD' });
      assert.equal(a.status, 200);
      assert.equal(a.body.length, 0);
      assert.equal(header(a, 'content-length'), '11');
    });
  }

  it('uwsgi: HTTPS=on makes req.protocol https and req.secure true', async () => {
    const a = await t.ask('uwsgi', '/users/1/books/2', { vars: { HTTPS: 'on', REQUEST_SCHEME: 'https' } });
    const j = JSON.parse(a.body.toString());
    assert.equal(j.protocol, 'https');
    assert.equal(j.secure, true);
  });
});
