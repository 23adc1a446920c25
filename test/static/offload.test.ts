// X-Sendfile and X-Accel-Redirect: an app (TSGI, or Express through
// fromNodeListener) answers with the field and the core sends the file from
// an --offload-root with every static rule; the field never reaches the
// client; a path outside every root is refused. Without a root the fields
// pass through, for a web server in front that acts on them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import express from 'express';
import { fromNodeListener, serve, type App, type ServerHandle } from 'tsgi';
import { header, parseResponses, rawRequest, tempDir, type RawResponse } from '../helpers/index.js';

const dir = tempDir('tsgi-offload-');
const files = path.join(dir, 'files');
const other = path.join(dir, 'other');
const big = Buffer.alloc(500_000, 'z');
const servers: ServerHandle[] = [];

async function start(app: App, offloadRoot?: string[]): Promise<number> {
  const s = await serve(app, { listen: '127.0.0.1:0', log: () => {}, static: offloadRoot ? { offloadRoot } : undefined });
  servers.push(s);
  return s.addresses[0]!.port!;
}

async function get(port: number, target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawResponse> {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: x', 'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  const { data } = await rawRequest(port, lines.join('\r\n') + '\r\n\r\n', { timeoutMs: 5000 });
  return parseResponses(data, { closed: true, head: method === 'HEAD' }).responses[0]!;
}

before(() => {
  fs.mkdirSync(files);
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(files, 'report.pdf'), big);
  fs.writeFileSync(path.join(files, 'note.txt'), 'a note\n');
  fs.writeFileSync(path.join(other, 'secret.txt'), 'not offloadable');
});

after(async () => {
  for (const s of servers) await s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

// The app names the file by the query: ?f=/abs/path (X-Sendfile) or ?a=/url (X-Accel-Redirect).
const tsgiApp: App = (req) => {
  const q = new URLSearchParams(req.QUERY_STRING);
  const headers: Record<string, string> = { 'Content-Disposition': 'attachment; filename="x"' };
  if (q.has('f')) headers['X-Sendfile'] = q.get('f')!;
  if (q.has('a')) headers['X-Accel-Redirect'] = q.get('a')!;
  if (q.has('type')) headers['Content-Type'] = q.get('type')!;
  return { status: 200, headers, body: 'this body is not sent' };
};

describe('a TSGI app', () => {
  let port = 0;
  before(async () => { port = await start(tsgiApp, [files, `/protected=${files}`]); });

  test('X-Sendfile: the file, with the app\'s other fields; the field itself is not sent', async () => {
    const r = await get(port, `/dl?f=${path.join(files, 'report.pdf')}`);
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(big));
    assert.equal(header(r, 'x-sendfile'), undefined);
    assert.equal(header(r, 'content-type'), 'application/pdf');
    assert.equal(header(r, 'content-disposition'), 'attachment; filename="x"');
    assert.ok(header(r, 'etag'));
  });

  test('the app\'s Content-Type wins', async () => {
    const r = await get(port, `/dl?f=${path.join(files, 'note.txt')}&type=application/x-custom`);
    assert.equal(header(r, 'content-type'), 'application/x-custom');
    assert.equal(r.body.toString(), 'a note\n');
  });

  test('X-Accel-Redirect: a URL under an offload prefix', async () => {
    const r = await get(port, '/dl?a=/protected/note.txt');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'a note\n');
    assert.equal(header(r, 'x-accel-redirect'), undefined);
  });

  test('the request\'s conditionals and ranges apply', async () => {
    const target = `/dl?f=${path.join(files, 'report.pdf')}`;
    const tag = header(await get(port, target), 'etag')!;
    assert.equal((await get(port, target, { 'If-None-Match': tag })).status, 304);
    const r = await get(port, target, { Range: 'bytes=10-19' });
    assert.equal(r.status, 206);
    assert.equal(r.body.toString(), 'zzzzzzzzzz');
    const h = await get(port, target, {}, 'HEAD');
    assert.equal(header(h, 'content-length'), String(big.length));
  });

  test('outside every root: 403; climbing above /: 403; missing: 404', async () => {
    assert.equal((await get(port, `/dl?f=${path.join(other, 'secret.txt')}`)).status, 403);
    assert.equal((await get(port, `/dl?f=${files}/../other/secret.txt`)).status, 403);
    // Resolved first: /other/secret.txt, under the root with prefix "/" (files/), where there is none.
    assert.equal((await get(port, '/dl?a=/protected/../other/secret.txt')).status, 404);
    assert.equal((await get(port, '/dl?a=/protected/../../other/secret.txt')).status, 403);
    assert.equal((await get(port, '/dl?a=/elsewhere/note.txt')).status, 404, 'under the root of prefix "/"');
    assert.equal((await get(port, `/dl?f=${path.join(files, 'none.pdf')}`)).status, 404);
    assert.equal((await get(port, '/dl?f=relative/path')).status, 403);
  });

  test('a POST answered with a file gets the file', async () => {
    const r = await get(port, `/dl?f=${path.join(files, 'note.txt')}`, { 'Content-Length': '0' }, 'POST');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'a note\n');
  });
});

test('X-Accel-Redirect under no root\'s prefix: 403', async () => {
  const port = await start(tsgiApp, [`/protected=${files}`]);
  assert.equal((await get(port, '/dl?a=/elsewhere/note.txt')).status, 403);
  assert.equal((await get(port, '/dl?a=/protected/note.txt')).status, 200);
  assert.equal((await get(port, `/dl?f=${path.join(files, 'note.txt')}`)).status, 200, 'X-Sendfile: a path under the root');
});

test('without an offload root the fields pass through untouched', async () => {
  const port = await start(tsgiApp);
  const r = await get(port, '/dl?a=/protected/note.txt');
  assert.equal(header(r, 'x-accel-redirect'), '/protected/note.txt');
  assert.equal(r.body.toString(), 'this body is not sent');
});

test('Express: res.set(\'X-Sendfile\', …) through fromNodeListener', async () => {
  const app = express();
  app.get('/report', (_req, res) => {
    res.set('X-Sendfile', path.join(files, 'report.pdf'));
    res.set('Cache-Control', 'private');
    res.end();
  });
  app.get('/accel', (_req, res) => {
    res.setHeader('X-Accel-Redirect', '/protected/note.txt');
    res.status(200).send('ignored');
  });
  const port = await start(fromNodeListener(app), [`/protected=${files}`, files]);
  const r = await get(port, '/report');
  assert.equal(r.status, 200);
  assert.ok(r.body.equals(big));
  assert.equal(header(r, 'cache-control'), 'private');
  assert.equal(header(r, 'x-sendfile'), undefined);
  const a = await get(port, '/accel', { Range: 'bytes=0-0' });
  assert.equal(a.status, 206);
  assert.match(header(a, 'etag')!, /^"[0-9a-f]+-7-/, 'the file\'s ETag alone, not the one Express made for its body');
  assert.equal(a.body.toString(), 'a');
});
