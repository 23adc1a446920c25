// Reply bodies given as strings over FastCGI: the core splits a large one
// into STDOUT records that reference the addon's encoded block, written at
// once and, for a web server that reads slowly, kept in that block (pinned)
// rather than copied. The bytes and Content-Length at the sizes where the
// paths change, whole and streamed, and a 4 MiB reply read slowly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { values } from '../helpers/cgi-client.js';
import { FcgiConnection, fcgiVars, parseStdout, request, withFcgiServer } from '../helpers/fcgi-client.js';
import { delay } from '../helpers/index.js';
import { CGI_CHARS as CHARS, cgiStringApp as app, stringOf } from '../helpers/string-bodies.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('string bodies of 0 to 1 MiB, whole and streamed: the bytes and Content-Length', { timeout: 60_000 }, async () => {
  await withFcgiServer(app, async ({ tcp, unix }) => {
    for (const c of Object.keys(CHARS)) {
      for (const n of [0, 1, 16383, 16384, 16385, 1 << 20]) {
        for (const [mode, target] of [['whole', tcp], ['stream', unix]] as const) {
          const conn = await FcgiConnection.open(target);
          try {
            await conn.write(request(1, fcgiVars(`/${mode}?c=${c}&n=${n}`)));
            const a = await conn.answer(1, 10_000);
            const r = parseStdout(a.stdout);
            const want = Buffer.from(stringOf(CHARS[c]!, n), 'utf8');
            assert.equal(r.status, 200);
            if (mode === 'whole') assert.deepEqual(values(r, 'content-length'), [String(n)]);
            assert.equal(r.body.length, n, `${mode} ${c} ${n}`);
            assert.equal(sha(r.body), sha(want), `${mode} ${c} ${n}`);
          } finally {
            conn.destroy();
          }
        }
      }
    }
  });
});

test('a web server that reads a 4 MiB string reply slowly gets every byte', { timeout: 60_000 }, async () => {
  await withFcgiServer(app, async ({ tcp }) => {
    const paths = ['/whole?c=mixed&n=4194304', '/stream?c=mixed&n=4194304', '/whole?c=ascii&n=4194304'];
    const conns = await Promise.all(paths.map(async (p) => {
      const c = await FcgiConnection.open(tcp);
      c.raw.socket.pause();
      await c.write(request(1, fcgiVars(p)));
      return c;
    }));
    try {
      await delay(300);
      const answers = await Promise.all(conns.map((c) => {
        c.raw.socket.on('data', () => {
          c.raw.socket.pause();
          setTimeout(() => c.raw.socket.resume(), 1);
        });
        c.raw.socket.resume();
        return c.answer(1, 30_000);
      }));
      for (let i = 0; i < paths.length; i++) {
        const q = new URLSearchParams(paths[i]!.split('?')[1]);
        const want = Buffer.from(stringOf(CHARS[q.get('c')!]!, Number(q.get('n'))), 'utf8');
        const r = parseStdout(answers[i]!.stdout);
        assert.equal(r.body.length, want.length, paths[i]);
        assert.equal(sha(r.body), sha(want), paths[i]);
      }
    } finally {
      for (const c of conns) c.destroy();
    }
  });
});
