// What `tsgi bench` says when a run goes wrong or needs reading: a status
// error names the statuses seen; a refused connect (nobody listens) stops the
// run at once instead of reconnecting until its end; --warmup is said in the
// summary and kept out of the counts; --compare prints two saved runs side by
// side with B's figures as ratios of A's.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serve, type ServerHandle } from 'tsgi';
import type { Request } from 'tsgi';
import { tempDir } from '../helpers/index.js';
import { freePort } from '../helpers/peers.js';
import { bench, result } from './helpers.js';

const dir = tempDir('tsgi-bench-errors-');
let server: ServerHandle;
let target = '';

before(async () => {
  target = `127.0.0.1:${await freePort()}`;
  // /mixed: every third reply is a 503, the others 404.
  let n = 0;
  server = serve((req: Request) => {
    if (req.PATH_INFO === '/mixed') return { status: ++n % 3 === 0 ? 503 : 404, body: 'no' };
    return { headers: [['content-type', 'text/plain']], body: 'ok\n' };
  }, { listen: `http://${target}` });
});
after(async () => {
  await server.close(1000);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('status errors name the statuses seen, in the JSON and the summary', async () => {
  const r = result(await bench(['-c', '1', '-n', '300', target, '/mixed']));
  assert.equal(r.requests, 0);
  assert.equal(r.errors.status, 300);
  const seen = (r as unknown as { status_seen: Record<string, number> }).status_seen;
  assert.deepEqual(seen, { 404: 200, 503: 100 });
  const plain = await bench(['-c', '1', '-n', '30', target, '/mixed'], { plain: true });
  assert.match(plain.stdout, /errors\s+30: status 30 \(404 x20, 503 x10; expected 200\)/);
  const ok = result(await bench(['-c', '1', '-n', '30', '--expect-status', '404', target, '/mixed']));
  assert.equal(ok.requests, 20);
  assert.deepEqual((ok as unknown as { status_seen: Record<string, number> }).status_seen, { 503: 10 });
});

test('a refused connect stops the run at once: exit 1 and the reason, not a run of reconnects', async () => {
  const dead = `127.0.0.1:${await freePort()}`;
  const started = Date.now();
  const r = await bench(['-c', '8', '-d', '10s', dead], { plain: true });
  assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms of a 10 s run`);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`^tsgi bench: ${dead.replace(/\./g, '\\.')}: connection refused \\(Connection refused\\): ` +
    'is the server running and listening there\\? the run stops at the first refused connect\\n$'));
  const sock = path.join(dir, 'nobody.sock');
  const u = await bench(['-p', 'uwsgi', '-d', '10s', sock], { plain: true });
  assert.equal(u.code, 1);
  assert.match(u.stderr, /nobody\.sock: connection refused \(No such file or directory\)/);
});

test('--warmup: said in the summary, kept out of the counts', async () => {
  const r = result(await bench(['-c', '2', '-w', '1s', '-d', '1s', target]));
  assert.ok(r.requests > 0);
  assert.ok(Math.abs(r.elapsed_s - 1) < 0.2, `elapsed ${r.elapsed_s}: the measured window only`);
  assert.equal(r.per_second.length, 1, JSON.stringify(r.per_second));
  assert.equal(r.per_second[0]![0], r.requests);  // [requests, errors] of each second
  assert.equal(r.connects, 0, 'the warm-up opened the connections');
  const plain = await bench(['-c', '2', '-w', '0.5s', '-d', '0.5s', target], { plain: true });
  assert.match(plain.stdout, /closed loop, after 0\.5 s of warm-up \(not counted\)\n/);
  assert.match(plain.stdout, /connections opened {2}0 \(after the warm-up; those it opened are kept\)\n/);
});

test('--compare: two saved runs side by side, B as ratios of A', async () => {
  const a = await bench(['-c', '1', '-n', '500', target]);
  const b = await bench(['-c', '2', '-n', '1000', target]);
  const fa = path.join(dir, 'a.json');
  const fb = path.join(dir, 'b.json');
  fs.writeFileSync(fa, a.stdout);
  fs.writeFileSync(fb, b.stdout);
  const ra = result(a);
  const rb = result(b);
  const c = await bench(['--compare', fa, fb], { plain: true });
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, new RegExp(`^A: ${fa}: http ${target} GET /, 1 connections, 1 thread, 500 requests in `, 'm'));
  assert.match(c.stdout, /^not like for like: connections 1 vs 2$/m);
  const row = /^ {2}requests\/s\s+([\d,.]+)\s+([\d,.]+)\s+([\d.]+)x$/m.exec(c.stdout);
  assert.ok(row, c.stdout);
  const n = (s: string): number => Number(s.replace(/,/g, ''));
  assert.equal(n(row[1]!), ra.rps);
  assert.equal(n(row[2]!), rb.rps);
  assert.equal(row[3], (rb.rps / ra.rps).toFixed(2));
  assert.match(c.stdout, /^ {2}latency p99\s+[\d.]+ ms\s+[\d.]+ ms\s+[\d.]+x$/m);
  fs.writeFileSync(path.join(dir, 'bad.json'), '{"hello": 1}');
  const bad = await bench(['--compare', fa, path.join(dir, 'bad.json')], { plain: true });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /bad\.json: not the JSON of tsgi bench --json/);
});
