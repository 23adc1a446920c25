// Reply bodies given as strings over uwsgi (the HTTP-style reply StreamExchange
// writes, as for HTTP): the bytes and Content-Length at the sizes where the
// paths change, whole and streamed, and a 4 MiB reply read slowly by the web
// server, which the core keeps in the addon's encoded block meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { delay } from '../helpers/index.js';
import { CGI_CHARS as CHARS, cgiStringApp as app, stringOf } from '../helpers/string-bodies.js';
import { ask, open, parseCgiReply, uwsgiRequest, values, withServer } from '../helpers/cgi-client.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('string bodies of 0 to 1 MiB, whole and streamed: the bytes and Content-Length', { timeout: 60_000 }, async () => {
  await withServer(app, async ({ uwsgi }) => {
    for (const c of Object.keys(CHARS)) {
      for (const n of [0, 1, 16383, 16384, 16385, 1 << 20]) {
        for (const mode of ['whole', 'stream']) {
          const r = await ask(uwsgi, 'uwsgi', uwsgiRequest(`/${mode}?c=${c}&n=${n}`), { timeoutMs: 10_000 });
          const want = Buffer.from(stringOf(CHARS[c]!, n), 'utf8');
          assert.equal(r.status, 200);
          if (mode === 'whole') assert.deepEqual(values(r, 'content-length'), [String(n)]);
          assert.equal(r.body.length, n, `${mode} ${c} ${n}`);
          assert.equal(sha(r.body), sha(want), `${mode} ${c} ${n}`);
        }
      }
    }
  });
});

test('a web server that reads a 4 MiB string reply slowly gets every byte', { timeout: 60_000 }, async () => {
  await withServer(app, async ({ uwsgi }) => {
    const paths = ['/whole?c=mixed&n=4194304', '/stream?c=mixed&n=4194304', '/whole?c=ascii&n=4194304'];
    const conns = await Promise.all(paths.map(async (p) => {
      const c = await open(uwsgi);
      c.socket.pause();
      await c.write(uwsgiRequest(p));
      return c;
    }));
    try {
      await delay(300);
      await Promise.all(conns.map((c) => {
        c.socket.on('data', () => {
          c.socket.pause();
          setTimeout(() => c.socket.resume(), 1);
        });
        c.socket.resume();
        return c.waitClosed(30_000);
      }));
      for (let i = 0; i < paths.length; i++) {
        assert.ok(conns[i]!.closed, `${paths[i]}: the server closes after the reply`);
        const q = new URLSearchParams(paths[i]!.split('?')[1]);
        const want = Buffer.from(stringOf(CHARS[q.get('c')!]!, Number(q.get('n'))), 'utf8');
        const r = parseCgiReply(conns[i]!.data, 'uwsgi');
        assert.equal(r.body.length, want.length, paths[i]);
        assert.equal(sha(r.body), sha(want), paths[i]);
      }
    } finally {
      for (const c of conns) c.destroy();
    }
  });
});
