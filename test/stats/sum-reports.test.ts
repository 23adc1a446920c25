// --threads: a process's stats report is its threads' reports summed
// (sumReports): counters add up, the running requests merge oldest first,
// avg_rt is the mean of the threads that served, and each thread is listed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ROOT } from '../helpers/index.js';

interface Running { method: string; uri: string; startedAt: number }
interface Report {
  requests: number; exceptions: number; tx: number; avgRt: number; runningTime: number; codes: number[]; buckets: number[];
  durationSum: number; inFlight: number; current: Running[]; draining: boolean; rss: number; at: number;
  threads?: Array<{ id: number; requests: number; exceptions: number; tx: number; inFlight: number; at: number }>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { sumReports, MAX_CURRENT } = require(path.join(ROOT, 'dist/stats/counters.js')) as {
  sumReports(reports: ReadonlyArray<Report | undefined>, draining: boolean): Report; MAX_CURRENT: number;
};

function report(n: number, over: Partial<Report> = {}): Report {
  return {
    requests: n, exceptions: 1, tx: 10 * n, avgRt: 100 * n, runningTime: 1000 * n, codes: [0, n - 1, 0, 0, 1],
    buckets: [n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], durationSum: n / 1000, inFlight: 0, current: [], draining: false,
    rss: 1, at: Date.now(), ...over,
  };
}

test('counters, classes, buckets and bytes add up; avg_rt is the mean of the threads that served; each thread is listed', () => {
  const s = sumReports([report(3), report(5), report(0, { exceptions: 0, codes: [0, 0, 0, 0, 0], buckets: new Array(13).fill(0) })], false);
  assert.equal(s.requests, 8);
  assert.equal(s.exceptions, 2);
  assert.equal(s.tx, 80);
  assert.equal(s.runningTime, 8000);
  assert.deepEqual(s.codes, [0, 6, 0, 0, 2]);
  assert.equal(s.buckets[0], 8);
  assert.equal(s.buckets.length, 13);
  assert.ok(Math.abs(s.durationSum - 0.008) < 1e-12);
  assert.equal(s.avgRt, 400);  // (300 + 500) / 2: the idle thread has no average
  assert.deepEqual(s.threads!.map((t) => [t.id, t.requests]), [[1, 3], [2, 5], [3, 0]]);
  assert.ok(s.rss > 1, 'the process\'s own rss');
});

test('running requests merge oldest first, at most MAX_CURRENT; draining and the oldest `at` carry over; a thread without a report counts 0', () => {
  const running = (t0: number, k: number): Running[] => Array.from({ length: k }, (_, i) => ({ method: 'GET', uri: `/${t0 + i}`, startedAt: t0 + i }));
  const s = sumReports([
    report(1, { inFlight: 30, current: running(100, 30), at: 5 }),
    undefined,
    report(1, { inFlight: 40, current: running(50, 32), draining: true }),
  ], false);
  assert.equal(s.inFlight, 70);
  assert.equal(s.current.length, MAX_CURRENT);
  assert.deepEqual(s.current.map((c) => c.startedAt), [...s.current.map((c) => c.startedAt)].sort((a, b) => a - b));
  assert.equal(s.current[0]!.uri, '/50');
  assert.equal(s.draining, true);
  assert.equal(s.at, 5);
  assert.deepEqual(s.threads!.map((t) => [t.id, t.requests, t.inFlight]), [[1, 1, 30], [2, 0, 0], [3, 1, 40]]);
  assert.equal(sumReports([undefined, undefined], true).draining, true);
});
