// Unmodified Koa 3 and Fastify 5 apps through fromNodeApp, over HTTP, uwsgi
// and FastCGI. Koa: an async middleware chain, a stream body, a JSON body,
// ctx.throw(400). Fastify: routes with params, JSON schema validation failing
// with 400, onRequest and onSend hooks, reply.send of a stream.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import Koa from 'koa';
import Fastify, { type FastifyInstance } from 'fastify';
import { fromNodeApp } from 'tsgi';
import { header, PROTOCOLS, threeWays, type ThreeWays } from './fixtures/three-ways.js';

function slowStream(parts: string[], ms: number): Readable {
  return Readable.from((async function* () {
    for (const p of parts) {
      await new Promise((r) => setTimeout(r, ms));
      yield Buffer.from(p);
    }
  })());
}

describe('Koa 3 through fromNodeApp', () => {
  let t: ThreeWays;

  before(() => {
    const app = new Koa();
    app.use(async (ctx, next) => {
      const order: string[] = ['outer in'];
      ctx.state.order = order;
      await next();
      order.push('outer out');
      ctx.set('x-order', order.join(','));
    });
    app.use(async (ctx, next) => {
      ctx.state.order.push('inner in');
      await new Promise((r) => setTimeout(r, 2));
      await next();
      ctx.state.order.push('inner out');
    });
    app.use(async (ctx) => {
      if (ctx.path === '/json') {
        ctx.body = { hello: 'koa', method: ctx.method, query: ctx.query, ip: ctx.ip, protocol: ctx.protocol };
      } else if (ctx.path === '/stream') {
        ctx.type = 'text/plain';
        ctx.body = slowStream(['one ', 'two ', 'three'], 10);
      } else if (ctx.path === '/bad') {
        ctx.throw(400, 'bad input here');
      } else if (ctx.path === '/upload') {
        let n = 0;
        for await (const c of ctx.req) n += (c as Buffer).length;
        ctx.body = { bytes: n };
      }
    });
    app.silent = true;
    const adapted = fromNodeApp(app);
    assert.ok(adapted, 'a Koa app is recognised');
    t = threeWays(adapted);
  });

  after(async () => { await t.server.close(2000); });

  for (const proto of PROTOCOLS) {
    it(`${proto}: the async middleware chain runs in order; ctx.body JSON`, async () => {
      const a = await t.ask(proto, '/json?a=1');
      assert.equal(a.status, 200);
      assert.equal(header(a, 'x-order'), 'outer in,inner in,inner out,outer out');
      assert.match(header(a, 'content-type')!, /^application\/json/);
      assert.deepEqual(JSON.parse(a.body.toString()), {
        hello: 'koa', method: 'GET', query: { a: '1' }, ip: proto === 'http' ? '127.0.0.1' : '192.0.2.10', protocol: 'http',
      });
    });

    it(`${proto}: ctx.body as a stream is streamed`, async () => {
      const a = await t.ask(proto, '/stream');
      assert.equal(a.status, 200);
      assert.equal(a.body.toString(), 'one two three');
      assert.equal(header(a, 'content-type'), 'text/plain; charset=utf-8');
    });

    it(`${proto}: ctx.throw(400) answers 400 with its message; an unhandled path is 404`, async () => {
      const a = await t.ask(proto, '/bad');
      assert.equal(a.status, 400);
      assert.equal(a.body.toString(), 'bad input here');
      const b = await t.ask(proto, '/nothing-here');
      assert.equal(b.status, 404);
    });

    it(`${proto}: the request body is read from ctx.req`, async () => {
      const a = await t.ask(proto, '/upload', { body: Buffer.alloc(300_000, 7) });
      assert.equal(a.status, 200);
      assert.deepEqual(JSON.parse(a.body.toString()), { bytes: 300_000 });
    });
  }
});

describe('Fastify 5 through fromNodeApp', () => {
  let t: ThreeWays;
  let fastify: FastifyInstance;
  const hooks: string[] = [];

  before(() => {
    fastify = Fastify({ logger: false });
    fastify.addHook('onRequest', async (req) => { hooks.push(`onRequest ${req.url}`); });
    fastify.addHook('onSend', async (req, reply, payload) => {
      reply.header('x-on-send', 'yes');
      return payload;
    });
    fastify.get<{ Params: { id: string; name: string } }>('/items/:id/:name', async (req) => ({
      id: req.params.id, name: req.params.name, query: req.query, ip: req.ip, protocol: req.protocol,
    }));
    fastify.post('/items', {
      schema: {
        body: {
          type: 'object', required: ['name', 'count'],
          properties: { name: { type: 'string' }, count: { type: 'integer', minimum: 1 } },
        },
      },
    }, async (req, reply) => {
      reply.code(201);
      return { created: req.body };
    });
    fastify.get('/stream', (req, reply) => {
      reply.type('text/plain').send(slowStream(['alpha ', 'beta ', 'gamma'], 10));
    });
    fastify.get('/sync', (req, reply) => { reply.send('plain sync'); });
    const adapted = fromNodeApp(fastify);
    assert.ok(adapted, 'a Fastify instance is recognised');
    t = threeWays(adapted);
  });

  after(async () => {
    await t.server.close(2000);
    await fastify.close();
  });

  for (const proto of PROTOCOLS) {
    it(`${proto}: routes with params; the onRequest and onSend hooks run`, async () => {
      hooks.length = 0;
      const a = await t.ask(proto, '/items/7/widget?color=red');
      assert.equal(a.status, 200);
      assert.equal(header(a, 'x-on-send'), 'yes');
      assert.deepEqual(JSON.parse(a.body.toString()), {
        id: '7', name: 'widget', query: { color: 'red' }, ip: proto === 'http' ? '127.0.0.1' : '192.0.2.10', protocol: 'http',
      });
      assert.deepEqual(hooks, ['onRequest /items/7/widget?color=red']);
      const s = await t.ask(proto, '/sync');
      assert.equal(s.body.toString(), 'plain sync');
      assert.equal(header(s, 'content-length'), '10');
    });

    it(`${proto}: a body that passes the schema is accepted; one that fails is 400`, async () => {
      const good = await t.ask(proto, '/items', { body: JSON.stringify({ name: 'x', count: 2 }),
        headers: { 'content-type': 'application/json' } });
      assert.equal(good.status, 201);
      assert.deepEqual(JSON.parse(good.body.toString()), { created: { name: 'x', count: 2 } });
      const bad = await t.ask(proto, '/items', { body: JSON.stringify({ name: 'x', count: 0 }),
        headers: { 'content-type': 'application/json' } });
      assert.equal(bad.status, 400);
      const err = JSON.parse(bad.body.toString());
      assert.equal(err.code, 'FST_ERR_VALIDATION');
      assert.match(err.message, /count/);
    });

    it(`${proto}: reply.send of a stream is streamed`, async () => {
      const a = await t.ask(proto, '/stream');
      assert.equal(a.status, 200);
      assert.equal(a.body.toString(), 'alpha beta gamma');
      assert.equal(header(a, 'x-on-send'), 'yes');
    });

    it(`${proto}: an unknown route is Fastify's 404`, async () => {
      const a = await t.ask(proto, '/nope');
      assert.equal(a.status, 404);
      assert.equal(JSON.parse(a.body.toString()).error, 'Not Found');
    });
  }
});
