// 1,000 SCGI connections at once, each one request: all are in the app at
// the same time and all are answered (a case shared with uwsgi,
// test/helpers/cgi-suite.ts); then every socket still serves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Request } from 'tsgi';
import { exchange, listenersOf, parseCgiReply, scgiGood, uwsgiRequest, withServer } from '../helpers/cgi-client.js';
import { concurrencyCases, SCGI } from '../helpers/cgi-suite.js';

concurrencyCases(SCGI);

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
