// Requests the server must refuse: each gets its status (RFC 9110, 9112,
// 6585), `Connection: close`, the connection closed, and never reaches the
// app; the server goes on serving others.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type ServerHandle } from 'tsgi';
import type { App } from 'tsgi';
import { header, RawConnection, until } from '../helpers/index.js';

interface Case {
  name: string;
  request: string | Buffer;
  status: number;
  /** The app gets the request (errors found in the body, after the head). */
  reachesApp?: boolean;
}

const H = 'Host: example.com\r\n';

const headCases: Case[] = [
  // The request line (RFC 9112 3).
  { name: 'request line without target and version', request: 'GET\r\n\r\n', status: 400 },
  { name: 'request line with a fourth part', request: `GET / HTTP/1.1 extra\r\n${H}\r\n`, status: 400 },
  { name: 'two spaces after the method', request: `GET  / HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'lower-case version', request: `GET / http/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'garbage version', request: `GET / HTTP/1.x\r\n${H}\r\n`, status: 400 },
  { name: 'HTTP/2.0 in a request line', request: `GET / HTTP/2.0\r\n${H}\r\n`, status: 505 },
  { name: 'invalid character in method', request: `G@T / HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'method longer than any known', request: `${'A'.repeat(40)} / HTTP/1.1\r\n${H}\r\n`, status: 501 },
  { name: 'binary garbage', request: Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a]), status: 400 },
  { name: 'bare LF line ends', request: 'GET / HTTP/1.1\nHost: x\n\n', status: 400 },
  { name: 'CONNECT (authority-form)', request: `CONNECT example.com:443 HTTP/1.1\r\n${H}\r\n`, status: 501 },
  // The request-target (RFC 9112 3.2).
  { name: 'space inside the target', request: `GET /a b HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'control byte in the target', request: `GET /a\x01b HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'DEL in the target', request: `GET /a\x7fb HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'tab in the target', request: `GET /a\tb HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'non-ASCII byte in the target', request: Buffer.from(`GET /caf\xe9 HTTP/1.1\r\n${H}\r\n`, 'latin1'), status: 400 },
  { name: 'fragment in the target', request: `GET /a#frag HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'target that is no form at all', request: `GET example.com/ HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'asterisk-form with GET', request: `GET * HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'absolute-form with userinfo', request: `GET http://user@example.com/ HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'request-target over 16 KiB', request: `GET /${'a'.repeat(17 * 1024)} HTTP/1.1\r\n${H}\r\n`, status: 414 },
  // Host (RFC 9112 3.2).
  { name: 'HTTP/1.1 without Host', request: 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n', status: 400 },
  { name: 'two Host fields', request: `GET / HTTP/1.1\r\n${H}Host: other.com\r\n\r\n`, status: 400 },
  { name: 'Host with a space', request: 'GET / HTTP/1.1\r\nHost: exa mple.com\r\n\r\n', status: 400 },
  { name: 'Host with userinfo', request: 'GET / HTTP/1.1\r\nHost: user@example.com\r\n\r\n', status: 400 },
  { name: 'empty Host', request: 'GET / HTTP/1.1\r\nHost:\r\n\r\n', status: 400 },
  // RFC 3986 3.2.2-3.2.3: port = *DIGIT, one ':' after the host, an IP-literal closed by ']'.
  { name: 'Host with a non-numeric port', request: 'GET / HTTP/1.1\r\nHost: a:b\r\n\r\n', status: 400 },
  { name: 'Host with two ports', request: 'GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n', status: 400 },
  { name: 'Host with an unclosed IPv6 literal', request: 'GET / HTTP/1.1\r\nHost: [::1\r\n\r\n', status: 400 },
  // Field syntax (RFC 9110 5, RFC 9112 5).
  { name: 'whitespace before the colon', request: `GET / HTTP/1.1\r\n${H}X-Test : 1\r\n\r\n`, status: 400 },
  { name: 'tab before the colon', request: `GET / HTTP/1.1\r\n${H}X-Test\t: 1\r\n\r\n`, status: 400 },
  { name: 'bare CR in a field value', request: `GET / HTTP/1.1\r\n${H}X-Test: a\rb\r\n\r\n`, status: 400 },
  { name: 'bare CR ending a field line', request: `GET / HTTP/1.1\r\n${H}X-Test: a\r\r\n\r\n`, status: 400 },
  { name: 'NUL in a field value', request: `GET / HTTP/1.1\r\n${H}X-Test: a\x00b\r\n\r\n`, status: 400 },
  { name: 'obs-fold', request: `GET / HTTP/1.1\r\n${H}X-Test: a\r\n  folded\r\n\r\n`, status: 400 },
  { name: 'obs-fold with a tab', request: `GET / HTTP/1.1\r\n${H}X-Test: a\r\n\tfolded\r\n\r\n`, status: 400 },
  { name: 'whitespace before the first field', request: `GET / HTTP/1.1\r\n ${H}\r\n`, status: 400 },
  { name: '@ in a field name', request: `GET / HTTP/1.1\r\n${H}X@Y: 1\r\n\r\n`, status: 400 },
  { name: 'quote in a field name', request: `GET / HTTP/1.1\r\n${H}X"Y: 1\r\n\r\n`, status: 400 },
  { name: 'non-ASCII byte in a field name', request: Buffer.from(`GET / HTTP/1.1\r\n${H}X\xfcY: 1\r\n\r\n`, 'latin1'), status: 400 },
  { name: 'NUL in a field name', request: `GET / HTTP/1.1\r\n${H}X\x00Y: 1\r\n\r\n`, status: 400 },
  { name: 'empty field name', request: `GET / HTTP/1.1\r\n${H}: 1\r\n\r\n`, status: 400 },
  { name: 'field line without a colon', request: `GET / HTTP/1.1\r\n${H}NoColon\r\n\r\n`, status: 400 },
  { name: 'more than 200 fields (--max-headers)', request: `GET / HTTP/1.1\r\n${H}${'X-A: 1\r\n'.repeat(200)}\r\n`, status: 431 },
  // Framing (RFC 9112 6).
  { name: 'Content-Length and Transfer-Encoding', request: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'Transfer-Encoding and Content-Length', request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'two different Content-Length fields', request: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`, status: 400 },
  { name: 'a Content-Length list of different values', request: `POST / HTTP/1.1\r\n${H}Content-Length: 5, 6\r\n\r\nhello!`, status: 400 },
  { name: 'negative Content-Length', request: `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, status: 400 },
  { name: 'signed Content-Length', request: `POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello`, status: 400 },
  { name: 'hex Content-Length', request: `POST / HTTP/1.1\r\n${H}Content-Length: 0x5\r\n\r\nhello`, status: 400 },
  { name: 'Content-Length past 64 bits', request: `POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\n\r\n`, status: 400 },
  { name: 'Transfer-Encoding ending in gzip', request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'Transfer-Encoding without chunked', request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`, status: 400 },
  { name: 'chunked twice', request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'chunked in two fields, then identity', request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'Transfer-Encoding chunked with a space inside', request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chun ked\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'an unknown coding before chunked', request: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, status: 501 },
  { name: 'Transfer-Encoding in HTTP/1.0', request: 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', status: 400 },
  { name: 'Expect other than 100-continue', request: `POST / HTTP/1.1\r\n${H}Expect: 200-ok\r\nContent-Length: 0\r\n\r\n`, status: 417 },
  // Too large (RFC 6585 5, RFC 9110 15.5.14).
  { name: 'header block over the default 64 KiB', request: `GET / HTTP/1.1\r\n${H}` + `X-Big: ${'b'.repeat(8000)}\r\n`.repeat(10) + '\r\n', status: 431 },
  { name: 'Content-Length over maxBodySize', request: `POST / HTTP/1.1\r\n${H}Content-Length: 100001\r\n\r\n` + 'x'.repeat(1000), status: 413 },
];

const bodyCases: Case[] = [
  { name: 'bad chunk size', request: `POST /read HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`, status: 400, reachesApp: true },
  { name: 'chunk size with a sign', request: `POST /read HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n`, status: 400, reachesApp: true },
  { name: 'chunk size over 64 bits', request: `POST /read HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${'f'.repeat(17)}\r\nhello\r\n0\r\n\r\n`, status: 400, reachesApp: true },
  { name: 'chunk data longer than its size', request: `POST /read HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n`, status: 400, reachesApp: true },
  { name: 'bare LF after a chunk size', request: `POST /read HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n`, status: 400, reachesApp: true },
  { name: 'bad chunk extension', request: `POST /read HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;a=b c\r\nhello\r\n0\r\n\r\n`, status: 400, reachesApp: true },
  { name: 'obs-fold in a trailer', request: `POST /read HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n  more\r\n\r\n`, status: 400, reachesApp: true },
  { name: 'chunked body over maxBodySize', request: `POST /read HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n` + `1000\r\n${'y'.repeat(4096)}\r\n`.repeat(25) + '0\r\n\r\n', status: 413, reachesApp: true },
];

describe('malformed requests', () => {
  let server: ServerHandle;
  let small: ServerHandle;
  const calls: string[] = [];
  const bodyErrors: string[] = [];
  const app: App = async (req) => {
    calls.push(`${req.REQUEST_METHOD} ${req.REQUEST_URI}`);
    if (req.PATH_INFO === '/read') {
      try {
        await req.body.bytes(10 * 1024 * 1024);
      } catch (err) {
        bodyErrors.push((err as { code?: string }).code ?? String(err));
        throw err;
      }
    }
    return { body: 'fine' };
  };

  before(() => {
    server = serve(app, { listen: '127.0.0.1:0', maxBodySize: 100_000, log: () => {} });
    small = serve(app, { listen: '127.0.0.1:0', maxHeaderSize: 1024, log: () => {} });
  });
  after(async () => {
    await server.close();
    await small.close();
  });

  /** Sends the bad request, checks the refusal, then a good request; returns the app's calls for the bad one. */
  async function refused(s: ServerHandle, c: Case): Promise<string[]> {
    const port = s.addresses[0]!.port!;
    calls.length = 0;
    const conn = await RawConnection.open(port);
    try {
      await conn.write(c.request).catch(() => {});  // the server may close before reading it all
      const res = await conn.responses(1);
      assert.equal(res.length, 1, 'one response');
      assert.equal(res[0]!.status, c.status, `status for "${c.name}"`);
      assert.equal(header(res[0]!, 'connection'), 'close');
      assert.equal(await conn.waitClosed(2000), true, 'the server closes the connection');
      if (!c.reachesApp) assert.deepEqual(calls, [], 'the app never sees it');
    } finally {
      conn.destroy();
    }
    const seen = [...calls];
    // The same server still serves a good request.
    const good = await RawConnection.open(port);
    try {
      await good.write('GET /good HTTP/1.1\r\nHost: x\r\n\r\n');
      const [ok] = await good.responses(1);
      assert.equal(ok!.status, 200);
      assert.equal(ok!.body.toString(), 'fine');
    } finally {
      good.destroy();
    }
    return seen;
  }

  for (const c of headCases) {
    test(c.name, async () => {
      await refused(server, c);
    });
  }

  for (const c of bodyCases) {
    test(c.name, async () => {
      bodyErrors.length = 0;
      const seen = await refused(server, c);
      assert.deepEqual(seen, ['POST /read']);
      assert.equal(bodyErrors.length, 1, 'the app\'s body read failed');
      assert.equal(bodyErrors[0], c.status === 413 ? 'TSGI_ERR_BODY_TOO_LARGE' : 'TSGI_ERR_BODY_INVALID');
    });
  }

  test('header block over maxHeaderSize (1024)', async () => {
    await refused(small, {
      name: 'small limit', request: `GET / HTTP/1.1\r\n${H}X-Big: ${'b'.repeat(1100)}\r\n\r\n`, status: 431,
    });
  });

  test('header block over maxHeaderSize (1024), the blank line not yet sent', async () => {
    await refused(small, {
      name: 'small limit, partial', request: `GET / HTTP/1.1\r\n${H}X-Big: ${'b'.repeat(1100)}`, status: 431,
    });
  });

  test('a head just under maxHeaderSize (1024) is served', async () => {
    const head = `GET / HTTP/1.1\r\n${H}X-Fill: `;
    const request = head + 'f'.repeat(1024 - head.length - 4) + '\r\n\r\n';
    assert.equal(request.length, 1024);
    const conn = await RawConnection.open(small.addresses[0]!.port!);
    try {
      await conn.write(request);
      const [res] = await conn.responses(1);
      assert.equal(res!.status, 200);
    } finally {
      conn.destroy();
    }
  });

  test('header block over the default limit with a huge single field', async () => {
    await refused(server, {
      name: 'default limit, one field', request: `GET / HTTP/1.1\r\n${H}X-Big: ${'b'.repeat(70 * 1024)}\r\n\r\n`, status: 431,
    });
  });

  test('a body of exactly maxBodySize is served, by Content-Length and chunked', async () => {
    const port = server.addresses[0]!.port!;
    const conn = await RawConnection.open(port);
    try {
      await conn.write(`POST /read HTTP/1.1\r\n${H}Content-Length: 100000\r\n\r\n` + 'x'.repeat(100_000));
      await conn.write(`POST /read HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n` +
        `${(60_000).toString(16)}\r\n${'y'.repeat(60_000)}\r\n${(40_000).toString(16)}\r\n${'y'.repeat(40_000)}\r\n0\r\n\r\n`);
      const res = await conn.responses(2);
      assert.deepEqual(res.map((r) => r.status), [200, 200]);
    } finally {
      conn.destroy();
    }
  });

  // A chunk size that would take the body past maxBodySize is refused when its
  // line ends, as nginx does, not after maxBodySize of data has come in: the
  // client sends the size line alone and keeps the connection open.
  const oversizeChunks: [string, string][] = [
    ['a chunk size of sixteen F', 'FFFFFFFFFFFFFFFF\r\n'],
    ['a chunk size one over maxBodySize', `${(100_001).toString(16)}\r\n`],
    ['a chunk size over maxBodySize with an extension', `${(100_001).toString(16)};name=value\r\n`],
    ['a second chunk size that passes maxBodySize with the first', `ea60\r\n${'y'.repeat(60_000)}\r\n${(40_001).toString(16)}\r\n`],
  ];
  for (const [name, chunks] of oversizeChunks) {
    test(`${name} gets 413 from its size line alone`, async () => {
      bodyErrors.length = 0;
      calls.length = 0;
      const conn = await RawConnection.open(server.addresses[0]!.port!);
      try {
        const start = Date.now();
        await conn.write(`POST /read HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${chunks}`);
        const [res] = await conn.responses(1, { timeoutMs: 1000 });
        assert.equal(res!.status, 413);
        assert.ok(Date.now() - start < 1000, `413 after ${Date.now() - start} ms`);
        assert.equal(header(res!, 'connection'), 'close');
        assert.equal(await conn.waitClosed(1000), true, 'the server closes the connection');
        assert.deepEqual(calls, ['POST /read']);
        await until(() => bodyErrors.length > 0, 1000, 'the app\'s body read to fail');
        assert.deepEqual(bodyErrors, ['TSGI_ERR_BODY_TOO_LARGE']);
      } finally {
        conn.destroy();
      }
    });
  }

  test('Content-Length over maxBodySize, with a large body already on the way', async () => {
    // The client sends the whole body without waiting; it must still read the 413.
    await refused(server, {
      name: 'large body', request: `POST / HTTP/1.1\r\n${H}Content-Length: 2000000\r\n\r\n` + 'x'.repeat(2_000_000), status: 413,
    });
  });
});
