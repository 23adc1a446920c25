// STDIN against CONTENT_LENGTH. The application reads at most CONTENT_LENGTH
// bytes of STDIN (FastCGI 1.0 section 6.2; docs/protocols.md lists it among
// the connection's jobs), and a STDIN that ends before CONTENT_LENGTH is a
// body cut short, which the app must not mistake for a whole one (over HTTP,
// uwsgi and SCGI a short body is an error for the app). An empty
// CONTENT_LENGTH means no stated length: the body ends with STDIN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Request } from 'tsgi';
import { ask, fcgiVars, withFcgiServer } from '../helpers/fcgi-client.js';

/** Answers "len=N" with the body it read, or 599 "error ..." if reading failed. */
const reader = async (req: Request) => {
  try {
    const body = await req.body.text();
    return { body: `len=${body.length}` };
  } catch (err) {
    return { status: 599, body: `error ${(err as Error).message}` };
  }
};

test('STDIN that matches CONTENT_LENGTH, or ends an empty CONTENT_LENGTH, is read whole', { timeout: 10_000 }, async () => {
  await withFcgiServer(reader, async ({ tcp }) => {
    const exact = await ask(tcp, fcgiVars('/x', { method: 'POST', body: 'hello' }), { body: 'hello', stdin: { cuts: [2] } });
    assert.equal(exact.reply.body.toString(), 'len=5');
    const vars = fcgiVars('/x', { method: 'POST' }).map(([k, v]) => (k === 'CONTENT_LENGTH' ? [k, ''] : [k, v]) as [string, string]);
    const open = await ask(tcp, vars, { body: 'hello world', stdin: { cuts: [4] } });
    assert.equal(open.reply.body.toString(), 'len=11');
    const none = await ask(tcp, fcgiVars('/x'));
    assert.equal(none.reply.body.toString(), 'len=0');
  });
});

test('STDIN longer than CONTENT_LENGTH: refused with 400 (the two framings disagree), logged', { timeout: 10_000 }, async () => {
  await withFcgiServer(reader, async ({ tcp, logs }) => {
    for (const cuts of [[], [5], [3, 7]]) {
      const a = await ask(tcp, fcgiVars('/x', { method: 'POST', body: 'hello' }), { body: 'helloEXTRA', stdin: { cuts } });
      assert.equal(a.reply.status, 400, `cuts ${cuts}: ${a.reply.head}${a.reply.body}`);
      assert.notEqual(a.reply.body.toString(), 'len=10', 'the app read more than CONTENT_LENGTH');
      assert.equal(a.end.protocolStatus, 0);
    }
    await logs.wait(/STDIN is longer than CONTENT_LENGTH/);
  });
});

test('STDIN that ends before CONTENT_LENGTH: the app\'s body read fails; it never sees a short body as whole', { timeout: 10_000 }, async () => {
  await withFcgiServer(reader, async ({ tcp }) => {
    for (const cuts of [[], [2]]) {
      const a = await ask(tcp, fcgiVars('/x', { method: 'POST', body: '0123456789' }), { body: 'hello', stdin: { cuts } });
      assert.equal(a.reply.status, 599, `cuts ${cuts}: ${a.reply.head}${a.reply.body}`);
      assert.match(a.reply.body.toString(), /^error /);
    }
  });
});

test('the error a short FastCGI body gives the app names the cause, not chunked encoding', {
  timeout: 10_000,
}, async () => {
  await withFcgiServer(reader, async ({ tcp }) => {
    const a = await ask(tcp, fcgiVars('/x', { method: 'POST', body: '0123456789' }), { body: 'hello' });
    assert.equal(a.reply.status, 599);
    assert.doesNotMatch(a.reply.body.toString(), /chunked/);
    assert.match(a.reply.body.toString(), /CONTENT_LENGTH|shorter|incomplete|cut short|ended/i);
  });
});
