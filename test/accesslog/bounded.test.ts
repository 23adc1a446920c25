// The access log's queue is bounded: lines the disk cannot take in time are
// dropped and counted, never buffered without limit; one log line says so.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AccessLog } from 'tsgi';
import { tempDir } from '../helpers/index.js';

const dir = tempDir('tsgi-accesslog-bounded-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('past maxBuffer queued bytes, lines are dropped and counted; the rest is written in order', async () => {
  const file = path.join(dir, 'small.log');
  const said: string[] = [];
  const log = new AccessLog({ path: file, maxBuffer: 1000, log: (l) => said.push(l) });
  for (let i = 0; i < 100; i++) log.write(`line ${String(i).padStart(3, '0')} ${'x'.repeat(40)}\n`);
  await log.flushed();
  const written = fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);
  assert.ok(log.dropped > 0 && log.dropped < 100, `dropped ${log.dropped}`);
  assert.equal(written.length + log.dropped, 100);
  assert.equal(log.written, written.length);
  assert.deepEqual(written, written.slice().sort());
  assert.equal(said.length, 1);
  assert.match(said[0]!, new RegExp(`^access log: ${log.dropped} lines dropped \\(writes to .* did not keep up\\); ${log.dropped} in all$`));
  // Once the queue has drained, lines are accepted again.
  log.write('after\n');
  await log.close();
  assert.match(fs.readFileSync(file, 'utf8'), /after\n$/);
});

test('a path that cannot be opened is an error at start, not at the first request', () => {
  assert.throws(() => new AccessLog({ path: path.join(dir, 'no', 'such', 'dir.log') }), /ENOENT/);
});
