// --stats, inside a serving process: the counters serve()'s onRequestDone
// hook feeds (plain numbers, a few additions per request), and the report a
// worker sends its master (or the single process renders itself). With
// --threads each thread counts its own and the process's report is their sum
// (sumReports), made when the stats are asked for, never per request.
import type { Request } from '../tsgi/types.js';
import type { RequestDone } from '../server/access-log.js';
import type { UpgradeStats } from '../server/upgrade.js';
import { RuntimeMonitor, sumRuntime, type RuntimeReport } from './runtime.js';

/** Upper bounds (seconds) of tsgi_request_duration_seconds' buckets; +Inf follows. */
export const DURATION_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Current requests listed at most per process (the count is always whole). */
export const MAX_CURRENT = 32;

export interface RunningRequest {
  method: string;
  uri: string;
  /** Arrival, milliseconds since the epoch. */
  startedAt: number;
}

/** One process's numbers at one moment: the IPC payload of a worker's `stats` message. */
export interface StatsReport {
  /** Requests finished (any status, 499 for a client gone before the reply). */
  requests: number;
  /** Replies with status 500: every app error (a throw, a rejection, a bad reply), and the app's own 500s. */
  exceptions: number;
  /** Body bytes sent. */
  tx: number;
  /** uWSGI's avg_rt: after each request, (avg_rt + its time) / 2, in µs. */
  avgRt: number;
  /** Sum of request times, µs (uWSGI's running_time). */
  runningTime: number;
  /** Replies by status class: [1xx, 2xx, 3xx, 4xx, 5xx]. */
  codes: number[];
  /** Request durations per DURATION_BUCKETS bucket, the last one +Inf; not cumulative. */
  buckets: number[];
  /** Sum of request durations, seconds. */
  durationSum: number;
  /** Requests in flight (may exceed current.length). */
  inFlight: number;
  current: RunningRequest[];
  draining: boolean;
  rss: number;
  /** When this was taken, milliseconds since the epoch. */
  at: number;
  /** --threads N > 1: each thread's own numbers (the fields above are their sums). */
  threads?: ThreadReport[];
  /** Open WebSockets and tunnels now; WebSocket messages and their payload bytes so far, each way. */
  upgraded: UpgradeStats;
  /** The Node runtime: event-loop delay and utilization, heap, GC, active resources (src/stats/runtime.ts). */
  runtime?: RuntimeReport;
}

const noUpgrades = (): UpgradeStats => ({ websockets: 0, tunnels: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 });

/** One --threads thread's share of its process's report (uWSGI's cores[]). */
export interface ThreadReport {
  /** 1..N, as the thread's log lines name it. */
  id: number;
  requests: number;
  exceptions: number;
  tx: number;
  inFlight: number;
  /** When its numbers were taken, milliseconds since the epoch. */
  at: number;
}

export class RequestStats {
  requests = 0;
  exceptions = 0;
  tx = 0;
  avgRt = 0;
  runningTime = 0;
  durationSum = 0;
  readonly codes = [0, 0, 0, 0, 0];
  readonly buckets: number[] = new Array<number>(DURATION_BUCKETS.length + 1).fill(0);
  /**
   * Started with the stats (a RequestStats exists only under --stats), not at
   * the first report: the delay histogram records nothing until its timer's
   * first tick, so a monitor made by the report a worker sends just before
   * "ready" missed a block in the first request it served.
   */
  private readonly monitor = new RuntimeMonitor();

  /** serve()'s onRequestDone: no allocation, no call out. */
  readonly hook = (_req: Request, done: RequestDone): void => {
    this.requests++;
    const status = done.status;
    if (status === 500) this.exceptions++;
    const cls = (status / 100 | 0) - 1;
    if (cls >= 0 && cls < 5) this.codes[cls]!++;
    this.tx += done.bytes;
    const us = done.durationMs * 1000;
    this.runningTime += us;
    this.avgRt = (this.avgRt + us) / 2;
    const s = done.durationMs / 1000;
    this.durationSum += s;
    let i = 0;
    while (i < DURATION_BUCKETS.length && s > DURATION_BUCKETS[i]!) i++;
    this.buckets[i]!++;
  };

  report(running: { count: number; requests: RunningRequest[] } | undefined, draining: boolean,
    upgraded?: Readonly<UpgradeStats>): StatsReport {
    return {
      requests: this.requests, exceptions: this.exceptions, tx: this.tx,
      avgRt: Math.round(this.avgRt), runningTime: Math.round(this.runningTime),
      codes: [...this.codes], buckets: [...this.buckets], durationSum: this.durationSum,
      inFlight: running?.count ?? 0, current: running?.requests ?? [], draining,
      rss: process.memoryUsage.rss(), at: Date.now(), upgraded: upgraded === undefined ? noUpgrades() : { ...upgraded },
      runtime: this.monitor.report(),
    };
  }
}

/**
 * One process's report from its threads' reports (`reports[i]` of thread
 * i + 1; undefined before a thread's first). Counters, bytes, durations and
 * running requests add up; avg_rt, a per-worker moving average in uWSGI, is
 * the mean of the threads' that have served a request; `at` is the oldest.
 */
export function sumReports(reports: ReadonlyArray<StatsReport | undefined>, draining: boolean): StatsReport {
  const sum: StatsReport = {
    requests: 0, exceptions: 0, tx: 0, avgRt: 0, runningTime: 0, codes: [0, 0, 0, 0, 0],
    buckets: new Array<number>(DURATION_BUCKETS.length + 1).fill(0), durationSum: 0, inFlight: 0, current: [],
    draining, rss: process.memoryUsage.rss(), at: Date.now(), threads: [], upgraded: noUpgrades(),
  };
  let averaged = 0;
  reports.forEach((r, i) => {
    if (r === undefined) {
      sum.threads!.push({ id: i + 1, requests: 0, exceptions: 0, tx: 0, inFlight: 0, at: sum.at });
      return;
    }
    sum.requests += r.requests;
    sum.exceptions += r.exceptions;
    sum.tx += r.tx;
    sum.runningTime += r.runningTime;
    sum.durationSum += r.durationSum;
    sum.inFlight += r.inFlight;
    for (const k of Object.keys(sum.upgraded) as Array<keyof UpgradeStats>) sum.upgraded[k] += r.upgraded?.[k] ?? 0;
    r.codes.forEach((n, c) => { sum.codes[c]! += n; });
    r.buckets.forEach((n, b) => { sum.buckets[b]! += n; });
    if (r.requests > 0) {
      sum.avgRt += r.avgRt;
      averaged++;
    }
    sum.current.push(...r.current);
    sum.draining ||= r.draining;
    sum.at = Math.min(sum.at, r.at);
    sum.threads!.push({ id: i + 1, requests: r.requests, exceptions: r.exceptions, tx: r.tx, inFlight: r.inFlight, at: r.at });
  });
  sum.avgRt = averaged === 0 ? 0 : Math.round(sum.avgRt / averaged);
  const runtime = sumRuntime(reports.map((r) => r?.runtime));
  if (runtime !== undefined) sum.runtime = runtime;
  sum.current = sum.current.sort((a, b) => a.startedAt - b.startedAt).slice(0, MAX_CURRENT);
  return sum;
}

/** Two hooks as one (the access log and the stats). */
export function bothHooks(a: ((req: Request, done: RequestDone) => void) | undefined,
  b: ((req: Request, done: RequestDone) => void) | undefined): ((req: Request, done: RequestDone) => void) | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return (req, done) => {
    a(req, done);
    b(req, done);
  };
}
