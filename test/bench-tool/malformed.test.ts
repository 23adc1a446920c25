// Replies from a raw server that break the rules count as errors of their
// kind, never as requests: a body shorter than its Content-Length, bytes
// past it, a bad status line, a bad chunk, a FastCGI record of another
// version, an END_REQUEST that is not REQUEST_COMPLETE, a record for a
// request id not in flight, a uwsgi reply cut short; and a server that never
// answers times out, a closed port stops the run (refused).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/peers.js';
import { bench, fcgiReply, fcgiRequestEnd, rawServer, result, uwsgiRequestEnd } from './helpers.js';

const HELLO = 'Hello, World!\n';
const ok = `HTTP/1.1 200 OK\r\nContent-Length: ${HELLO.length}\r\n\r\n${HELLO}`;

async function against(reply: Buffer | string | null, args: string[],
  opts: { close?: boolean; requestEnd?: (d: Buffer) => number } = {}) {
  const srv = await rawServer(reply, opts);
  try {
    return result(await bench(['-c', '2', '-d', '500ms', '--timeout', '2s', ...args, `127.0.0.1:${srv.port}`]));
  } finally {
    await srv.stop();
  }
}

function onlyErrors(r: ReturnType<typeof result>, kind: string): void {
  assert.equal(r.requests, 0, `no reply counts: ${JSON.stringify(r.errors)}`);
  assert.ok(r.errors[kind]! > 0, `${kind} errors: ${JSON.stringify(r.errors)}`);
  assert.equal(r.errors.total, r.errors[kind], `only ${kind}: ${JSON.stringify(r.errors)}`);
}

test('the raw server itself: a good reply counts', async () => {
  const r = await against(ok, []);
  assert.ok(r.requests > 0);
  assert.equal(r.errors.total, 0);
});

test('HTTP: a body shorter than Content-Length, then close: short_body', async () => {
  onlyErrors(await against(`HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n${HELLO}`, [], { close: true }), 'short_body');
});

test('HTTP: bytes past Content-Length: framing', async () => {
  onlyErrors(await against(`HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n${HELLO}`, []), 'framing');
});

test('HTTP: a bad status line, two Content-Lengths, a bad chunk size: framing', async () => {
  onlyErrors(await against(`HTTP/1.1 2OO OK\r\nContent-Length: 14\r\n\r\n${HELLO}`, []), 'framing');
  onlyErrors(await against(`HTTP/1.1 200 OK\r\nContent-Length: 14\r\nContent-Length: 15\r\n\r\n${HELLO}`, []), 'framing');
  onlyErrors(await against('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n', []), 'framing');
});

test('HTTP: a status other than the expected one: status; a wrong length: length', async () => {
  onlyErrors(await against(`HTTP/1.1 503 Busy\r\nContent-Length: 14\r\n\r\n${HELLO}`, []), 'status');
  onlyErrors(await against(ok, ['--expect-body-length', '15']), 'length');
});

test('HTTP: a server that never answers: timeout; a closed port: the run stops, refused', async () => {
  onlyErrors(await against(null, ['--timeout', '300ms']), 'timeout');
  const port = await freePort();
  const r = await bench(['-c', '2', '-d', '300ms', `127.0.0.1:${port}`]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /connection refused \(Connection refused\)/);
});

test('FastCGI: a record of version 2: framing; protocolStatus 1: protocol; another request id: protocol', async () => {
  const fcgi = ['-p', 'fastcgi'];
  const end = { requestEnd: fcgiRequestEnd };
  const good = `Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n${HELLO}`;
  const r = await against(fcgiReply(good), fcgi, end);
  assert.ok(r.requests > 0 && r.errors.total === 0, `the good reply counts: ${JSON.stringify(r.errors)}`);
  onlyErrors(await against(fcgiReply(good, { version: 2 }), fcgi, end), 'framing');
  onlyErrors(await against(fcgiReply(good, { protocolStatus: 1 }), fcgi, end), 'protocol');
  onlyErrors(await against(fcgiReply(good, { id: 7 }), fcgi, end), 'protocol');
  onlyErrors(await against(fcgiReply(`Status: 200\r\nContent-Length: 99\r\n\r\n${HELLO}`), fcgi, end), 'short_body');
  onlyErrors(await against(fcgiReply('no head at all'), fcgi, end), 'short_body');
  onlyErrors(await against(fcgiReply(`Status: 2x0\r\n\r\n${HELLO}`), fcgi, end), 'framing');
});

test('uwsgi and SCGI: a reply cut short of its Content-Length: short_body; an empty reply: read', async () => {
  const cut = `HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n${HELLO}`;
  onlyErrors(await against(cut, ['-p', 'uwsgi'], { close: true, requestEnd: uwsgiRequestEnd }), 'short_body');
  onlyErrors(await against('', ['-p', 'uwsgi'], { close: true, requestEnd: uwsgiRequestEnd }), 'read');
  const scgiEnd = (d: Buffer) => {
    const colon = d.indexOf(':');
    const n = Number(d.subarray(0, colon).toString());
    return colon > 0 && d.length >= colon + n + 2 ? colon + n + 2 : -1;
  };
  onlyErrors(await against(`Status: 200 OK\r\nContent-Length: 3\r\n\r\n${HELLO}`, ['-p', 'scgi'],
    { close: true, requestEnd: scgiEnd }), 'length');
});
