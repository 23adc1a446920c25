// One limit on the number of request header fields for every protocol
// (--max-headers, default 200): the same request is served, or refused with
// 431, whether it comes over HTTP or through uwsgi.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type ServerHandle } from 'tsgi';
import { rawRequest, parseResponses } from '../helpers/index.js';
import { ask, uwsgiRequest } from '../helpers/cgi-client.js';

function httpWith(n: number): string {
  let head = 'GET /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n';
  for (let i = 0; i < n; i++) head += `X-Field-${i}: ${i}\r\n`;
  return head + '\r\n';
}

for (const [name, limit] of [['the default (200)', undefined], ['--max-headers 20', 20]] as const) {
  describe(`header fields at most: ${name}`, () => {
    let server: ServerHandle;
    let http = 0;
    let uwsgi = 0;
    before(() => {
      server = serve((req) => ({ body: String(req.headers.length) }),
        { listen: ['127.0.0.1:0', 'uwsgi://127.0.0.1:0'], log: () => {}, ...(limit ? { maxHeaders: limit } : {}) });
      http = server.addresses[0]!.port!;
      uwsgi = server.addresses[1]!.port!;
    });
    after(() => server.close());
    const max = limit ?? 200;

    test(`HTTP: ${max} fields are served, ${max + 1} get 431`, async () => {
      const ok = parseResponses((await rawRequest(http, httpWith(max - 2))).data, { closed: true }).responses[0]!;
      assert.equal(ok.status, 200);
      assert.equal(ok.body.toString(), String(max));
      const over = parseResponses((await rawRequest(http, httpWith(max - 1))).data, { closed: true }).responses[0]!;
      assert.equal(over.status, 431);
    });

    test(`uwsgi: ${max} header variables are served`, async () => {
      const extra: Array<[string, string]> = [];
      for (let i = 0; i < max - 1; i++) extra.push([`HTTP_X_FIELD_${i}`, String(i)]);
      const res = await ask(uwsgi, 'uwsgi', uwsgiRequest('/h', { extra }));
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), String(max));
    });
  });
}
