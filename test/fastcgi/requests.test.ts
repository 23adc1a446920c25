// Good FastCGI traffic over raw sockets (test/helpers/fcgi-client.ts): PARAMS
// and STDIN cut however a web server cuts them, padded or not, bodies of
// known and unknown length, KEEP_CONN, multiplexed requests, the management
// records (GET_VALUES, an unknown type), ABORT_REQUEST, the AUTHORIZER and
// FILTER roles, the STDERR stream, and a reply longer than one record. After each case both
// listeners (TCP and unix) still serve a good request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Request } from 'tsgi';
import { values } from '../helpers/cgi-client.js';
import { serve } from 'tsgi';
import {
  ask, beginRequest, FcgiConnection, fcgiVars, getValues, pairs, parseStdout, PROTOCOL_STATUS, readPairs, record,
  request, ROLE, stream, T, withFcgiServer,
} from '../helpers/fcgi-client.js';
import { delay, captureLog, deferred, within } from '../helpers/index.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Answers with what it saw: a JSON object of the variables and the body's length and hash. */
const reflect = async (req: Request) => {
  const body = await req.body.bytes();
  return {
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      vars: req.vars(), method: req.REQUEST_METHOD, path: req.PATH_INFO, query: req.QUERY_STRING,
      contentLength: req.CONTENT_LENGTH, bodyLength: body.length, bodySha: sha(Buffer.from(body)),
      protocol: req.tsgi.protocol, role: req.tsgi.role ?? null,
    }),
  };
};

interface Reflected {
  vars: Record<string, string>; method: string; path: string; query: string; contentLength: string;
  bodyLength: number; bodySha: string; protocol: string; role: string | null;
}

const json = (stdout: Buffer): Reflected => {
  const reply = parseStdout(stdout);
  assert.equal(reply.status, 200, reply.head + reply.body.toString());
  return JSON.parse(reply.body.toString()) as Reflected;
};

test('PARAMS split over several records, and at every byte of one pair, arrive whole', { timeout: 30_000 }, async () => {
  await withFcgiServer(reflect, async ({ tcp, unix }) => {
    const long = 'v'.repeat(300); // a four-byte value length
    const vars: Array<[string, string]> = [...fcgiVars('/split/here?q=1'), ['HTTP_X_LONG', long], ['HTTP_X_AFTER', 'after']];
    // The pair HTTP_X_LONG: where it starts and ends in the stream.
    const before = pairs(vars.slice(0, -2)).length;
    const pairLen = pairs([['HTTP_X_LONG', long]]).length;
    const check = (r: Reflected, what: string) => {
      assert.equal(r.vars.HTTP_X_LONG, long, what);
      assert.equal(r.vars.HTTP_X_AFTER, 'after', what);
      assert.equal(r.path, '/split/here', what);
      assert.equal(r.query, 'q=1', what);
      assert.equal(r.method, 'GET', what);
      assert.equal(r.protocol, 'fastcgi', what);
    };
    // Several records: every 7 bytes, and one byte per record.
    for (const maxRecord of [7, 1]) {
      const a = await ask(tcp, vars, { params: { maxRecord } });
      check(json(a.stdout), `records of ${maxRecord} bytes`);
    }
    // Two records, cut at every byte of the pair (length bytes, name, value), on one kept connection.
    const c = await FcgiConnection.open(unix);
    try {
      for (let cut = before; cut <= before + pairLen; cut++) {
        const id = 1 + (cut % 7);
        await c.write(request(id, vars, { keepConn: true, params: { cuts: [cut] } }));
        const a = await c.answer(id);
        check(json(a.stdout), `cut at byte ${cut} of the PARAMS stream`);
        // The next request may reuse the id only after this END_REQUEST: read past it.
        c.records().splice(0);
      }
      assert.equal(c.closed, false, 'KEEP_CONN: the connection stays open');
    } finally {
      c.destroy();
    }
  });
});

test('STDIN: a body in records of assorted sizes is echoed whole, with CONTENT_LENGTH, into one Buffer', { timeout: 20_000 }, async () => {
  const app = async (req: Request) => {
    const body = await req.body.bytes();
    // Its own memory, exactly the body: not a view into a larger block.
    const own = body.byteOffset === 0 && body.buffer.byteLength === body.byteLength;
    return {
      headers: { 'Content-Type': 'application/octet-stream', 'X-Length': req.CONTENT_LENGTH, 'X-Own': String(own) },
      body,
    };
  };
  await withFcgiServer(app, async ({ tcp, unix }) => {
    for (const [target, size, maxRecord] of [[tcp, 5, 65535], [unix, 100_000, 65535], [tcp, 300_000, 1000],
      [unix, 70_000, 8]] as const) {
      const body = randomBytes(size);
      const a = await ask(target, fcgiVars('/echo', { method: 'PUT', body }), { body, stdin: { maxRecord } });
      assert.equal(a.reply.status, 200, a.reply.head);
      assert.deepEqual(values(a.reply, 'x-length'), [String(size)]);
      // (A small one may share Node's Buffer pool.)
      if (size > 8192) assert.deepEqual(values(a.reply, 'x-own'), ['true']);
      assert.equal(a.reply.body.length, size);
      assert.ok(a.reply.body.equals(body), `body of ${size} bytes in records of ${maxRecord}`);
      assert.deepEqual(a.end, { appStatus: 0, protocolStatus: 0 });
      assert.ok(a.stdoutEnded, 'the empty STDOUT record before END_REQUEST');
    }
  });
});

test('a body of unknown length (CONTENT_LENGTH empty, as nginx streams a chunked upload) ends at the empty STDIN record', { timeout: 20_000 }, async () => {
  const started = deferred<void>();
  const app = async (req: Request) => {
    started.resolve();
    const chunks: number[] = [];
    let all = Buffer.alloc(0);
    for await (const piece of req.body) {
      chunks.push(piece.byteLength);
      all = Buffer.concat([all, Buffer.from(piece)]);
    }
    return { body: JSON.stringify({ cl: req.CONTENT_LENGTH, hasHeader: req.header('content-length') ?? null,
      te: req.header('transfer-encoding') ?? null, length: all.length, sha: sha(all) }) };
  };
  await withFcgiServer(app, async ({ tcp }) => {
    const vars = fcgiVars('/upload', { method: 'POST', extra: [['HTTP_TRANSFER_ENCODING', 'chunked']] })
      .map(([k, v]) => (k === 'CONTENT_LENGTH' ? [k, ''] : [k, v]) as [string, string]);
    const pieces = [randomBytes(1000), randomBytes(70_000), Buffer.from('last piece, with "chunked"\r\n0\r\n\r\n')];
    const c = await FcgiConnection.open(tcp);
    try {
      await c.write(Buffer.concat([beginRequest(1), stream(T.PARAMS, 1, pairs(vars))]));
      await within(started.promise, 3000, 'the app starts before the body is in');
      for (const p of pieces) {
        await c.write(stream(T.STDIN, 1, p, { end: false, padding: 'pad8' }));
        await delay(30);
      }
      assert.equal(c.endOf(1), undefined, 'no reply before the body ends');
      await c.write(record(T.STDIN, 1));
      const a = await c.answer(1);
      const all = Buffer.concat(pieces);
      const r = parseStdout(a.stdout);
      assert.equal(r.status, 200, r.head);
      assert.deepEqual(JSON.parse(r.body.toString()),
        { cl: '', hasHeader: null, te: 'chunked', length: all.length, sha: sha(all) });
      assert.ok(await c.waitClosed(), 'closed: no KEEP_CONN');
    } finally {
      c.destroy();
    }
  });
});

test('records with and without padding (0, 8-byte alignment, 255) are read alike', { timeout: 20_000 }, async () => {
  await withFcgiServer(reflect, async ({ tcp, unix }) => {
    const body = Buffer.from('a body of 29 bytes, padded!!!');
    const vars = fcgiVars('/pad', { method: 'POST', body });
    for (const padding of [0, 'pad8', 255, 1] as const) {
      for (const target of [tcp, unix]) {
        const a = await ask(target, vars, { body, padding, stdin: { maxRecord: 10 }, params: { maxRecord: 50 } });
        const r = json(a.stdout);
        assert.equal(r.path, '/pad', `padding ${padding}`);
        assert.equal(r.bodyLength, body.length, `padding ${padding}`);
        assert.equal(r.bodySha, sha(body), `padding ${padding}`);
      }
    }
  });
});

test('KEEP_CONN: three requests in turn on one connection; without it the connection closes after the reply', { timeout: 20_000 }, async () => {
  let served = 0;
  const app = (req: Request) => ({ body: `#${++served} ${req.PATH_INFO}` });
  await withFcgiServer(app, async ({ tcp, unix }) => {
    for (const target of [tcp, unix]) {
      const c = await FcgiConnection.open(target);
      try {
        for (let i = 1; i <= 3; i++) {
          // nginx uses request id 1 every time: END_REQUEST frees it.
          await c.write(request(1, fcgiVars(`/k${i}`), { keepConn: true }));
          await c.waitUntil(() => c.records().filter((r) => r.type === T.END_REQUEST).length === i, 3000, `reply ${i}`);
          assert.equal(c.closed, false, `open after request ${i}`);
        }
        const ends = c.records().filter((r) => r.type === T.END_REQUEST);
        assert.equal(ends.length, 3);
        const bodies = c.records().filter((r) => r.type === T.STDOUT && r.content.length > 0)
          .map((r) => r.content.toString()).join('');
        for (let i = 1; i <= 3; i++) assert.match(bodies, new RegExp(` /k${i}`));
        await delay(100);
        assert.equal(c.closed, false, 'still open while idle');
        // A fourth request without KEEP_CONN: answered, then closed.
        await c.write(request(2, fcgiVars('/last')));
        const a = await c.answer(2);
        assert.match(parseStdout(a.stdout).body.toString(), / \/last$/);
        assert.ok(await c.waitClosed(2000), 'closed after a request without KEEP_CONN');
      } finally {
        c.destroy();
      }
    }
  });
});

test('multiplexing: three requests interleaved on one connection each get their own STDOUT and END_REQUEST', { timeout: 20_000 }, async () => {
  const app = async (req: Request) => {
    const n = Number(req.PATH_INFO.slice(-1));
    const body = await req.body.text();
    await delay((4 - n) * 150); // request 1 waits longest: replies come back 3, 2, 1
    return { headers: { 'X-Request': String(n) }, body: `reply ${n}: ${body}` };
  };
  await withFcgiServer(app, async ({ tcp }) => {
    const c = await FcgiConnection.open(tcp);
    try {
      const ids = [1, 2, 3];
      const streams = ids.map((id) => ({
        begin: beginRequest(id, { keepConn: true }),
        params: stream(T.PARAMS, id, pairs(fcgiVars(`/m${id}`, { method: 'POST', body: `body ${id}`.repeat(id) })), { maxRecord: 40 }),
        stdin: stream(T.STDIN, id, `body ${id}`.repeat(id), { maxRecord: 3 }),
      }));
      // Interleave record by record: BEGIN 1, 2, 3, then PARAMS pieces round-robin, then STDIN.
      const split = (b: Buffer): Buffer[] => {
        const out: Buffer[] = [];
        for (let at = 0; at < b.length;) {
          const len = 8 + b.readUInt16BE(at + 4) + b[at + 6]!;
          out.push(b.subarray(at, at + len));
          at += len;
        }
        return out;
      };
      const order: Buffer[] = [];
      for (const s of streams) order.push(s.begin);
      for (const part of ['params', 'stdin'] as const) {
        const lists = streams.map((s) => split(s[part]));
        for (let i = 0; lists.some((l) => i < l.length); i++) for (const l of lists) if (i < l.length) order.push(l[i]!);
      }
      await c.write(Buffer.concat(order));
      const answers = await Promise.all(ids.map((id) => c.answer(id, 5000)));
      for (const id of ids) {
        const r = parseStdout(answers[id - 1]!.stdout);
        assert.equal(r.status, 200);
        assert.deepEqual(values(r, 'x-request'), [String(id)]);
        assert.equal(r.body.toString(), `reply ${id}: ${`body ${id}`.repeat(id)}`);
        assert.deepEqual(answers[id - 1]!.end, { appStatus: 0, protocolStatus: 0 });
      }
      const endOrder = c.records().filter((r) => r.type === T.END_REQUEST).map((r) => r.id);
      assert.deepEqual(endOrder, [3, 2, 1], 'the replies were not held back behind one another');
      assert.equal(c.closed, false);
    } finally {
      c.destroy();
    }
  });
});

test('GET_VALUES is answered with FCGI_MAX_CONNS, FCGI_MAX_REQS and FCGI_MPXS_CONNS=1, names asked only', { timeout: 10_000 }, async () => {
  await withFcgiServer(reflect, async ({ tcp, unix }) => {
    for (const target of [tcp, unix]) {
      const c = await FcgiConnection.open(target);
      try {
        await c.write(getValues(['FCGI_MAX_CONNS', 'FCGI_MAX_REQS', 'FCGI_MPXS_CONNS', 'FCGI_SOMETHING_ELSE']));
        const r = await c.management(T.GET_VALUES_RESULT);
        const got = Object.fromEntries(readPairs(r.content));
        assert.deepEqual(Object.keys(got), ['FCGI_MAX_CONNS', 'FCGI_MAX_REQS', 'FCGI_MPXS_CONNS']);
        assert.equal(got.FCGI_MAX_CONNS, '50');
        assert.equal(got.FCGI_MAX_REQS, String(50 * 64));
        assert.equal(got.FCGI_MPXS_CONNS, '1');
        // Only what was asked.
        await c.write(getValues(['FCGI_MPXS_CONNS'], { padding: 'pad8' }));
        await c.waitUntil(() => c.records().filter((x) => x.type === T.GET_VALUES_RESULT).length === 2, 3000, 'the second answer');
        const second = c.records().filter((x) => x.type === T.GET_VALUES_RESULT)[1]!;
        assert.deepEqual(readPairs(second.content), [['FCGI_MPXS_CONNS', '1']]);
        // The connection goes on to serve a request.
        await c.write(request(1, fcgiVars('/after-values')));
        assert.equal(json((await c.answer(1)).stdout).path, '/after-values');
      } finally {
        c.destroy();
      }
    }
  }, { maxConnections: 50 });
});

test('a management record of an unknown type is answered with UNKNOWN_TYPE, and the connection goes on', { timeout: 10_000 }, async () => {
  await withFcgiServer(reflect, async ({ tcp }) => {
    const c = await FcgiConnection.open(tcp);
    try {
      await c.write(record(200, 0, 'whatever content', { padding: 'pad8' }));
      const r = await c.management(T.UNKNOWN_TYPE);
      assert.equal(r.content.length, 8);
      assert.equal(r.content[0], 200);
      assert.deepEqual([...r.content.subarray(1)], [0, 0, 0, 0, 0, 0, 0]);
      await c.write(record(0, 0));
      await c.waitUntil(() => c.records().filter((x) => x.type === T.UNKNOWN_TYPE).length === 2, 3000, 'UNKNOWN_TYPE for type 0');
      assert.equal(c.records().filter((x) => x.type === T.UNKNOWN_TYPE)[1]!.content[0], 0);
      await c.write(request(1, fcgiVars('/after-unknown')));
      assert.equal(json((await c.answer(1)).stdout).path, '/after-unknown');
    } finally {
      c.destroy();
    }
  });
});

test('ABORT_REQUEST for a running request: req.signal fires, END_REQUEST follows, the connection goes on', { timeout: 10_000 }, async () => {
  const aborted = deferred<string>();
  const running = deferred<void>();
  const app = (req: Request) => {
    if (req.PATH_INFO !== '/forever') return { body: `ok ${req.PATH_INFO}` };
    req.signal.addEventListener('abort', () => aborted.resolve(req.PATH_INFO));
    running.resolve();
    return {
      body: (async function* () {
        for (let i = 0; i < 1000 && !req.signal.aborted; i++) {
          yield `piece ${i}\n`;
          await delay(10);
        }
      })(),
    };
  };
  await withFcgiServer(app, async ({ tcp }) => {
    const c = await FcgiConnection.open(tcp);
    try {
      await c.write(request(5, fcgiVars('/forever'), { keepConn: true }));
      await within(running.promise, 3000, 'the app');
      await c.waitUntil(() => c.stdoutOf(5).includes('piece 2'), 3000, 'some output');
      await c.write(record(T.ABORT_REQUEST, 5));
      assert.equal(await within(aborted.promise, 3000, 'req.signal'), '/forever');
      const a = await c.answer(5);
      assert.equal(a.end.protocolStatus, PROTOCOL_STATUS.REQUEST_COMPLETE);
      // Nothing more for request 5 after its END_REQUEST; the connection serves the next request.
      await c.write(request(6, fcgiVars('/next'), { keepConn: true }));
      const b = await c.answer(6);
      assert.equal(parseStdout(b.stdout).body.toString(), 'ok /next');
      const recs = c.records();
      const end5 = recs.findIndex((r) => r.type === T.END_REQUEST && r.id === 5);
      assert.ok(!recs.slice(end5 + 1).some((r) => r.id === 5), 'records for request 5 after its END_REQUEST');
    } finally {
      c.destroy();
    }
  });
});

test('ABORT_REQUEST before the app replies (waiting for its body): req.signal fires, END_REQUEST follows', { timeout: 10_000 }, async () => {
  const aborted = deferred<void>();
  const started = deferred<void>();
  const app = async (req: Request) => {
    req.signal.addEventListener('abort', () => aborted.resolve());
    started.resolve();
    return { body: await req.body.text() };
  };
  await withFcgiServer(app, async ({ unix }) => {
    const c = await FcgiConnection.open(unix);
    try {
      const vars = fcgiVars('/wait', { method: 'POST', body: 'x'.repeat(100) });
      await c.write(Buffer.concat([beginRequest(1), stream(T.PARAMS, 1, pairs(vars)), stream(T.STDIN, 1, 'x'.repeat(10), { end: false })]));
      await within(started.promise, 3000, 'the app');
      await c.write(record(T.ABORT_REQUEST, 1));
      await within(aborted.promise, 3000, 'req.signal');
      const a = await c.answer(1);
      assert.equal(a.end.protocolStatus, PROTOCOL_STATUS.REQUEST_COMPLETE);
      assert.ok(await c.waitClosed(), 'no KEEP_CONN: closed after END_REQUEST');
    } finally {
      c.destroy();
    }
  });
});

test('role AUTHORIZER: req.tsgi.role is "authorizer" and its reply comes back; RESPONDER says "responder"', { timeout: 10_000 }, async () => {
  const app = (req: Request) => {
    if (req.tsgi.role === 'authorizer') {
      const ok = req.header('authorization') === 'Bearer good';
      return ok
        ? { status: 200, headers: { 'Variable-USER': 'alice' }, body: '' }
        : { status: 403, headers: { 'Content-Type': 'text/plain' }, body: 'go away\n' };
    }
    return { body: `role ${req.tsgi.role ?? 'none'}` };
  };
  await withFcgiServer(app, async ({ tcp, unix }) => {
    const good = await ask(tcp, fcgiVars('/private', { extra: [['HTTP_AUTHORIZATION', 'Bearer good']] }), { role: ROLE.AUTHORIZER });
    assert.equal(good.reply.status, 200, good.reply.head);
    assert.deepEqual(values(good.reply, 'variable-user'), ['alice']);
    assert.deepEqual(good.end, { appStatus: 0, protocolStatus: 0 });
    const bad = await ask(unix, fcgiVars('/private', { extra: [['HTTP_AUTHORIZATION', 'Bearer bad']] }), { role: ROLE.AUTHORIZER });
    assert.equal(bad.reply.status, 403);
    assert.equal(bad.reply.body.toString(), 'go away\n');
    const resp = await ask(tcp, fcgiVars('/public'), { role: ROLE.RESPONDER });
    assert.equal(resp.reply.body.toString(), 'role responder');
  });
});

test('an undefined role is refused with END_REQUEST {UNKNOWN_ROLE}; the app is not called', { timeout: 10_000 }, async () => {
  let called = 0;
  const app = (req: Request) => {
    called++;
    return { body: req.PATH_INFO };
  };
  await withFcgiServer(app, async ({ tcp }) => {
    for (const role of [0, 4, 99]) {
      const c = await FcgiConnection.open(tcp);
      try {
        await c.write(request(1, fcgiVars('/odd-role'), { role, keepConn: true }));
        const a = await c.answer(1);
        assert.equal(a.end.protocolStatus, PROTOCOL_STATUS.UNKNOWN_ROLE, `role ${role}`);
        assert.equal(a.stdout.length, 0, 'no STDOUT content for a refused role');
        // With KEEP_CONN the connection goes on.
        await c.write(request(2, fcgiVars('/after'), { keepConn: true }));
        assert.equal(parseStdout((await c.answer(2)).stdout).body.toString(), '/after');
      } finally {
        c.destroy();
      }
    }
    assert.equal(called, 3, 'only the responder requests reached the app');
  });
});

/** A FILTER app: reads STDIN, then the DATA stream, and answers with what it saw and the data upper-cased. */
const upperFilter = async (req: Request) => {
  if (req.tsgi.role !== 'filter') return { body: `not a filter: ${req.tsgi.role ?? 'none'}; data ${String(req.data)}` };
  const body = await req.body.bytes();
  const data = await req.data!.bytes(64 * 1024 * 1024);
  return {
    headers: {
      'Content-Type': 'text/plain',
      'X-Body-Length': String(body.length),
      'X-Data-Length': req.var('DATA_LENGTH') ?? 'none',
      'X-Data-Last-Mod': req.var('DATA_LAST_MOD') ?? 'none',
      'X-Data-Sha': sha(Buffer.from(data)),
    },
    // ASCII letters upper-cased, every other byte as it came.
    body: Buffer.from(data).map((b) => (b >= 97 && b <= 122 ? b - 32 : b)),
  };
};

test('role FILTER: req.tsgi.role is "filter", req.data carries the DATA stream after STDIN, with DATA_LENGTH and DATA_LAST_MOD', { timeout: 20_000 }, async () => {
  await withFcgiServer(upperFilter, async ({ tcp, unix }) => {
    const file = 'the file to filter, cut across records\n';
    const vars = fcgiVars('/doc.txt', { method: 'POST', body: 'form=1', extra: [['DATA_LENGTH', String(file.length)], ['DATA_LAST_MOD', '1700000000']] });
    for (const target of [tcp, unix]) {
      const c = await FcgiConnection.open(target);
      try {
        // DATA cut into records of 7 bytes, padded as nginx pads.
        await c.write(Buffer.concat([request(1, vars, { role: ROLE.FILTER, body: 'form=1', padding: 'pad8' }),
          stream(T.DATA, 1, file, { maxRecord: 7, padding: 'pad8' })]));
        const a = await c.answer(1);
        const reply = parseStdout(a.stdout);
        assert.equal(reply.status, 200, reply.head);
        assert.equal(reply.body.toString(), file.toUpperCase());
        assert.deepEqual(values(reply, 'x-body-length'), ['6']);
        assert.deepEqual(values(reply, 'x-data-length'), [String(file.length)]);
        assert.deepEqual(values(reply, 'x-data-last-mod'), ['1700000000']);
        assert.deepEqual(a.end, { appStatus: 0, protocolStatus: PROTOCOL_STATUS.REQUEST_COMPLETE });
      } finally {
        c.destroy();
      }
    }
    // A large file (3 MiB), more than the core buffers ahead of the app, byte for byte.
    const big = randomBytes(3 * 1024 * 1024);
    const c = await FcgiConnection.open(tcp);
    try {
      const v = fcgiVars('/big', { extra: [['DATA_LENGTH', String(big.length)]] });
      await c.write(Buffer.concat([request(1, v, { role: ROLE.FILTER }), stream(T.DATA, 1, big)]));
      const a = await c.answer(1, 15_000);
      const reply = parseStdout(a.stdout);
      assert.deepEqual(values(reply, 'x-data-sha'), [sha(big)]);
      assert.equal(reply.body.length, big.length);
    } finally {
      c.destroy();
    }
    // A responder's req.data is undefined, and stray DATA records are ignored.
    const r = await FcgiConnection.open(tcp);
    try {
      await r.write(Buffer.concat([request(1, fcgiVars('/resp')), stream(T.DATA, 1, 'ignored')]));
      assert.equal(parseStdout((await r.answer(1)).stdout).body.toString(), 'not a filter: responder; data undefined');
    } finally {
      r.destroy();
    }
  });
});

test('role FILTER: DATA longer than DATA_LENGTH, shorter, or a DATA_LENGTH that is not a number: 400, and the server goes on', { timeout: 20_000 }, async () => {
  await withFcgiServer(upperFilter, async ({ tcp, logs }) => {
    const cases: Array<[string, string, string]> = [
      ['longer', '5', 'abcdefgh'],
      ['shorter', '50', 'abc'],
      ['not a number', '12x', 'abc'],
    ];
    for (const [label, length, data] of cases) {
      const c = await FcgiConnection.open(tcp);
      try {
        const v = fcgiVars('/bad', { extra: [['DATA_LENGTH', length]] });
        await c.write(Buffer.concat([request(1, v, { role: ROLE.FILTER, keepConn: true }), stream(T.DATA, 1, data)]));
        const a = await c.answer(1);
        assert.equal(parseStdout(a.stdout).status, 400, `${label}: ${a.stdout.toString('latin1', 0, 200)}`);
        assert.equal(a.end.protocolStatus, PROTOCOL_STATUS.REQUEST_COMPLETE, label);
        // KEEP_CONN: the same connection serves the next request.
        await c.write(request(2, fcgiVars('/next'), { keepConn: true }));
        assert.equal(parseStdout((await c.answer(2)).stdout).status, 200, label);
      } finally {
        c.destroy();
      }
    }
    await logs.wait(/DATA is longer than DATA_LENGTH/);
    await logs.wait(/DATA_LENGTH is not a decimal number/);
  });
});

test('req.errors: STDERR records over FastCGI, ended before END_REQUEST; a log line naming the request elsewhere', { timeout: 10_000 }, async () => {
  const app = (req: Request) => {
    req.errors.write('first warning\n');
    req.errors.write(Buffer.from('second, as bytes\n'));
    return { body: 'ok' };
  };
  await withFcgiServer(app, async ({ tcp, logs }) => {
    const c = await FcgiConnection.open(tcp);
    try {
      await c.write(request(3, fcgiVars('/warn')));
      const a = await c.answer(3);
      assert.equal(parseStdout(a.stdout).body.toString(), 'ok');
      const recs = c.records();
      const errs = recs.filter((r) => r.type === T.STDERR);
      assert.ok(errs.every((r) => r.id === 3), 'STDERR records carry the request id');
      assert.equal(Buffer.concat(errs.map((r) => r.content)).toString(), 'first warning\nsecond, as bytes\n');
      const lastErr = recs.lastIndexOf(errs[errs.length - 1]!);
      assert.equal(errs[errs.length - 1]!.content.length, 0, 'the STDERR stream ends with an empty record');
      assert.ok(lastErr < recs.findIndex((r) => r.type === T.END_REQUEST), 'before END_REQUEST');
    } finally {
      c.destroy();
    }
    // A request that writes nothing to errors sends no STDERR record at all.
    assert.equal(logs.lines.filter((l) => /app stderr/.test(l)).length, 0, 'FastCGI stderr is not in our own log');
  });
  // Over HTTP the same app logs one line per write, naming the request.
  const logs = captureLog();
  const server = serve(app, { listen: '127.0.0.1:0', log: logs.log });
  try {
    const res = await fetch(`http://127.0.0.1:${server.addresses[0]!.port}/warn?x=1`);
    assert.equal(await res.text(), 'ok');
    assert.match(await logs.wait(/first warning/), /^app stderr on GET \/warn\?x=1: first warning$/);
    await logs.wait(/app stderr on GET \/warn\?x=1: second, as bytes$/);
  } finally {
    await server.close();
  }
});

test('a reply longer than one record comes in several STDOUT records of at most 65535 bytes', { timeout: 20_000 }, async () => {
  const big = randomBytes(300_000);
  const app = (req: Request) => (req.PATH_INFO === '/gen'
    ? { body: (function* () { for (let i = 0; i < big.length; i += 100_000) yield big.subarray(i, i + 100_000); })() }
    : { headers: { 'Content-Type': 'application/octet-stream' }, body: big });
  await withFcgiServer(app, async ({ tcp, unix }) => {
    for (const [target, p] of [[tcp, '/whole'], [unix, '/gen']] as const) {
      const c = await FcgiConnection.open(target);
      try {
        await c.write(request(1, fcgiVars(p)));
        const a = await c.answer(1, 10_000);
        const r = parseStdout(a.stdout);
        assert.equal(r.status, 200);
        assert.equal(r.body.length, big.length, p);
        assert.equal(sha(r.body), sha(big), p);
        const recs = c.records().filter((x) => x.type === T.STDOUT);
        assert.ok(a.stdoutRecords >= 5, `${a.stdoutRecords} STDOUT records for ${big.length} bytes`);
        for (const x of recs) assert.ok(x.content.length <= 65535);
      } finally {
        c.destroy();
      }
    }
  });
});
