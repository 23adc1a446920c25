// 1,000 SCGI connections at once, each one request: all are in the app at
// the same time and all are answered; then every socket still serves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Request } from 'tsgi';
import { type RawConnection } from '../helpers/index.js';
import { exchange, listenersOf, open, parseCgiReply, scgiGood, uwsgiRequest, withServer } from '../helpers/cgi-client.js';

test('1,000 concurrent SCGI connections, each one request, are all answered', async () => {
  const N = 1000;
  let inApp = 0;
  let maxInApp = 0;
  let release!: () => void;
  const allIn = new Promise<void>((resolve) => { release = resolve; });
  const bound = setTimeout(() => release(), 10_000);
  const app = async (req: Request) => {
    if (req.PATH_INFO.startsWith('/c/')) {
      inApp++;
      maxInApp = Math.max(maxInApp, inApp);
      if (inApp === N) release();
      await allIn;
      inApp--;
    }
    return { body: `${req.PATH_INFO} ${await req.body.text()}` };
  };
  try {
    await withServer(app, async ({ scgi }) => {
      const conns: RawConnection[] = [];
      try {
        for (let i = 0; i < N; i += 200) {
          conns.push(...await Promise.all(Array.from({ length: Math.min(200, N - i) }, () => open(scgi))));
        }
        await Promise.all(conns.map((c, i) => c.write(scgiGood(`/c/${i}`, { body: `b${i}` }))));
        await Promise.all(conns.map((c) => c.waitUntil(() => c.closed, 20_000, 'the reply and close')));
        conns.forEach((c, i) => {
          const reply = parseCgiReply(c.data, 'scgi');
          assert.equal(reply.status, 200, `connection ${i}`);
          assert.equal(reply.body.toString(), `/c/${i} b${i}`);
        });
        assert.equal(maxInApp, N, 'all requests were in the app at once');
      } finally {
        for (const c of conns) c.destroy();
      }
    });
  } finally {
    clearTimeout(bound);
  }
});

test('1,000 SCGI and uwsgi requests mixed over the TCP and unix sockets are all answered', async () => {
  await withServer((req: Request) => ({ body: req.PATH_INFO }), async ({ server }) => {
    const ls = listenersOf(server);
    const results = await Promise.all(Array.from({ length: 1000 }, async (_, i) => {
      const l = ls[i % ls.length]!;
      const data = l.protocol === 'scgi' ? scgiGood(`/m/${i}`) : uwsgiRequest(`/m/${i}`);
      const r = await exchange(l.target, data, { timeoutMs: 20_000 });
      assert.ok(r.closed, `request ${i} on ${l.label}`);
      return parseCgiReply(r.data, l.protocol as 'uwsgi' | 'scgi').body.toString();
    }));
    results.forEach((body, i) => assert.equal(body, `/m/${i}`));
  });
});
