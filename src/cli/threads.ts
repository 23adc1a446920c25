// --threads N: N worker_threads in this process (the one tsgi, or one worker
// of a master), each loading the app and running its own native server and
// event loop on its own copies (dup) of the listening sockets, registered
// with EPOLLEXCLUSIVE so the kernel wakes one thread per connection. This
// thread only binds (alone) or inherits (a worker), starts the threads, and
// relays stop and drain to them. docs/master.md, "Threads"; docs/design.md.
//
// --access-log: each thread writes its own lines to the same file (O_APPEND,
// whole lines per write()); SIGUSR1 comes here and is passed on as "reopen".
// --stats: each thread counts its own requests; the process's numbers are the
// threads' reports summed when the stats are asked for (sumReports).
// --app-metrics: each thread has its own copy of the app and of prom-client;
// their registries go up as they are, for the master (or this thread, alone)
// to merge with the other processes'.
//
// A thread that dies unasked (an uncaught error, process.exit in the app)
// takes the process down: the others drain and it exits 1 (a master replaces
// it with backoff). Restarting the thread in place would keep a process whose
// dead thread's native state may not have been freed (an epoll set still
// registered, exclusively, on the shared socket would swallow wake-ups).
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { binding } from '../native/load.js';
import type { BoundListeners } from '../master/listeners.js';
import type { WorkerMode } from '../master/worker.js';
import { parseListen } from '../server/listen.js';
import type { BoundAddress, ServerHandle } from '../server/serve.js';
import { sumReports, type StatsReport } from '../stats/counters.js';
import type { StatsServer } from '../stats/server.js';
import { socketStats } from '../stats/sockets.js';
import { StatsPoll } from '../stats/poll.js';
import { MetricsGather, combine, type AppMetricsInput, type ProcessMetrics, type PromClient } from '../stats/app-metrics.js';
import type { CliOptions } from './flags.js';
import { bindForCli } from './listeners.js';

/** --stats: a thread reports this often unasked (a blocked thread leaves its last report). */
export const THREAD_STATS_INTERVAL_MS = 1000;
/**
 * --stats: how long the process waits for its threads' fresh numbers; under
 * the master's own wait (STATS_WAIT_MS), so a worker's answer still counts.
 */
export const THREAD_STATS_WAIT_MS = 100;

/** What each thread is given (workerData). */
export interface ThreadData {
  /** 1..N. */
  index: number;
  /** The command line after config files and TSGI_* variables: parsed again in the thread. */
  argv: string[];
  /** "http://fd:9": this thread's own copies of the listeners. */
  listen: string[];
  allowFrom: string[] | undefined;
  multiprocess: boolean;
  /** The worker's slot under a master, 0 alone: the access log's "worker". */
  workerId: number;
  /** Int32 per thread (index 0 unused): requests served, for --max-requests. */
  requests: SharedArrayBuffer;
}

export type ToThread = { t: 'stopAccepting' } | { t: 'close'; timeoutMs: number }
  /** --drain-grace: go on accepting, but replies say Connection: close. */
  | { t: 'draining' }
  /** SIGUSR1: reopen the access log. */
  | { t: 'reopen' }
  /** --stats: send a `stats` message now. */
  | { t: 'stats?' }
  /** --app-metrics: a /metrics scrape: send a `metrics` message now. */
  | { t: 'metrics?' };
export type FromThread = { t: 'ready'; addresses: BoundAddress[] } | { t: 'failed'; message: string }
  /** --stats: every THREAD_STATS_INTERVAL_MS, before "ready", and in answer to `stats?`. */
  | { t: 'stats'; report: StatsReport }
  /** --app-metrics: the thread's registry (getMetricsAsJSON), or why it could not be read. */
  | { t: 'metrics'; metrics: ProcessMetrics }
  /** A line for the log (a failed shutdown hook). */
  | { t: 'log'; line: string };

export interface ThreadsStart {
  opts: CliOptions;
  argv: string[];
  /** serve() addresses: bound here when alone, "fd:N" forms from the master in a worker. */
  listen: string[];
  allowFrom: string[] | undefined;
  threads: number;
  worker: WorkerMode | undefined;
  /** For the "serving ... on ..." lines. */
  label: string;
  /** --uid/--gid when alone: after binding, before any thread loads app code. */
  drop: (() => void) | undefined;
  /** --stats when alone (bound already): this thread serves the threads' summed numbers. */
  stats: StatsServer | undefined;
  /** --app-metrics when alone: the app's prom-client, to merge the threads' registries with. */
  appMetrics: PromClient | undefined;
}

const ENTRY = path.join(__dirname, 'thread.js');

function log(line: string): void {
  process.stderr.write(`tsgi: ${line}\n`);
}

/** The fds of the listeners, for dup(): "http://fd:4" -> ['http', 4]. */
function fdForms(listen: readonly string[]): Array<{ protocol: string; fd: number }> {
  return listen.map((entry) => {
    const spec = parseListen(entry);
    const m = /^fd:(\d+)$/.exec(spec.address);
    if (m === null) throw new Error(`internal: ${entry} is not an fd:N listener`);
    return { protocol: spec.protocol, fd: Number(m[1]) };
  });
}

interface Thread {
  index: number;
  worker: Worker;
  ready: boolean;
  gone: boolean;
  exited: Promise<void>;
}

export async function runThreads(s: ThreadsStart): Promise<void> {
  const { threads: n, worker } = s;
  const shutdownMs = s.opts.shutdownTimeout ?? 10_000;
  const graceMs = s.opts.drainGrace ?? 0;
  let bound: BoundListeners | undefined;
  let listen = s.listen;
  if (worker === undefined) {
    bound = bindForCli(s.listen, s.opts);
    listen = bound.listeners.map((l) => `${l.protocol}://fd:${l.fd}`);
    s.drop?.();
  }
  const fds = fdForms(listen);
  const requests = new SharedArrayBuffer(4 * (n + 1));
  const counts = new Int32Array(requests);
  const pool: Thread[] = [];
  let stopping = false;
  let startedAll = false;
  let closing: Promise<void> | undefined;

  const post = (m: ToThread): void => {
    for (const t of pool) t.worker.postMessage(m);
  };
  // Signals reach the main thread only: logrotate's SIGUSR1 is passed on to every thread's log.
  if (s.opts.accessLog !== undefined) process.on('SIGUSR1', () => post({ t: 'reopen' }));

  // --stats: the latest report of each thread (index - 1), and the stats clients waiting for fresh ones.
  const reports: Array<StatsReport | undefined> = new Array<StatsReport | undefined>(n).fill(undefined);
  const statsPoll = new StatsPoll<Thread>();
  /** Asks every serving thread for fresh numbers; sums what it has after THREAD_STATS_WAIT_MS. */
  const collectStats = (draining: boolean): Promise<StatsReport> =>
    statsPoll.collect(pool.filter((t) => t.ready && !t.gone), (t) => t.worker.postMessage({ t: 'stats?' } satisfies ToThread),
      THREAD_STATS_WAIT_MS, () => sumReports(reports, draining || stopping));
  const appGather = new MetricsGather<Thread>();
  /** --app-metrics: every serving thread's registry, within THREAD_STATS_WAIT_MS. */
  const collectAppMetrics = async (): Promise<ProcessMetrics> =>
    combine(await appGather.collect(pool.filter((t) => t.ready && !t.gone), (t) => t.worker.postMessage({ t: 'metrics?' } satisfies ToThread),
      THREAD_STATS_WAIT_MS));
  const closeAll = (timeoutMs: number): Promise<void> => {
    if (closing !== undefined) return closing;
    stopping = true;
    post({ t: 'close', timeoutMs });
    closing = Promise.all(pool.map((t) => t.exited)).then(() => bound?.close());
    return closing;
  };
  /** A thread died unasked: the others drain, the process exits 1. */
  const crashed = (t: Thread, why: string): void => {
    if (stopping) return;
    log(`thread ${t.index} ${why}; ${startedAll ? 'draining the other threads and exiting' : 'exiting'} (code 1)`);
    if (!startedAll) process.exit(1);
    void closeAll(shutdownMs).then(() => process.exit(1));
  };

  const ready = new Promise<BoundAddress[]>((resolve) => {
    let count = 0;
    for (let index = 1; index <= n; index++) {
      // Each thread's server owns and closes its own copies.
      const data: ThreadData = {
        index, argv: s.argv, allowFrom: s.allowFrom, multiprocess: worker !== undefined, workerId: worker?.id ?? 0, requests,
        listen: fds.map((l) => `${l.protocol}://fd:${binding.dupListener(l.fd)}`),
      };
      const w = new Worker(ENTRY, { workerData: data });
      let firstError: string | undefined;
      const t: Thread = {
        index, worker: w, ready: false, gone: false,
        exited: new Promise((r) => w.once('exit', (code) => {
          t.gone = true;
          statsPoll.answered(t);
          appGather.gone(t);
          crashed(t, firstError ?? `exited (code ${code})`);
          r();
        })),
      };
      pool.push(t);
      w.on('error', (err) => {
        firstError ??= `died of an uncaught error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`
          .replace(/\n\s*/g, ' | ');
      });
      w.on('message', (m: FromThread) => {
        if (m.t === 'failed') {
          if (worker !== undefined) void worker.failed(m.message);
          else {
            log(m.message);
            process.exit(1);
          }
        }
        if (m.t === 'log') log(`thread ${t.index}: ${m.line}`);
        if (m.t === 'stats') {
          reports[t.index - 1] = m.report;
          statsPoll.answered(t);
        }
        if (m.t === 'metrics') appGather.answered(t, m.metrics);
        if (m.t === 'ready' && !t.ready) {
          t.ready = true;
          if (++count === n) resolve(m.addresses);
        }
      });
    }
  });
  if (worker === undefined) {
    // From now on: a thread that is still loading gets "close" once it serves, and closes at once.
    let signals = 0;
    const stop = (signal: NodeJS.Signals): void => {
      if (++signals > 1) {
        log(`${signal} again, exiting now`);
        process.exit(1);
      }
      // /ready says 503 from now; the listeners accept for --drain-grace first.
      stopping = true;
      if (graceMs > 0) {
        log(`${signal}: draining: /ready says 503, still accepting for ${graceMs / 1000} s (--drain-grace)`);
        post({ t: 'draining' });
      } else {
        log(`${signal}, finishing in-flight requests`);
      }
      setTimeout(() => {
        if (graceMs > 0) log('--drain-grace over: finishing in-flight requests');
        void closeAll(shutdownMs).then(() => process.exit(0));
      }, graceMs);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  }
  const addresses = await ready;
  startedAll = true;
  // Alone: "serving" once every thread serves (a worker's master says it for the workers).
  for (const l of bound?.listeners ?? []) log(`serving ${s.label} on ${l.where} (${n} threads)`);
  if (s.stats !== undefined && bound !== undefined) {
    const app = s.appMetrics;
    provideStats(s.stats, bound, s.listen, () => stopping, collectStats,
      app === undefined ? undefined : async () => ({ client: app, processes: [await collectAppMetrics()] }));
  }
  s.stats?.provideHealth(() => ({
    answering: pool.filter((t) => t.ready && !t.gone).length,
    state: stopping ? 'draining' : 'serving',
  }));

  const handle: ServerHandle = {
    addresses,
    get closed() { return closing !== undefined; },
    stopAccepting: () => post({ t: 'stopAccepting' }),
    close: (timeoutMs = shutdownMs) => closeAll(timeoutMs),
  };
  if (worker !== undefined) {
    worker.countWith(() => {
      let sum = 0;
      for (let i = 1; i <= n; i++) sum += Atomics.load(counts, i);
      return sum;
    });
    worker.serving(handle, s.opts.shutdownTimeout, s.opts.stats !== undefined ? collectStats : undefined,
      () => post({ t: 'draining' }), s.opts.appMetrics === true ? collectAppMetrics : undefined);
  }
}

/** Alone: the stats server shows this process as worker 0, its numbers the threads' sum, each thread in cores[]. */
function provideStats(server: StatsServer, bound: BoundListeners, listen: readonly string[], stopping: () => boolean,
  collect: (draining: boolean) => Promise<StatsReport>, collectApp: (() => Promise<AppMetricsInput>) | undefined): void {
  const spawnedAt = Date.now() - Math.round(process.uptime() * 1000);
  server.provide(async (metrics) => {
    const app = metrics ? collectApp?.() : undefined;
    const report = await collect(stopping());
    const sources = bound.listeners.map((l, i) => ({
      name: l.where.replace(/^[a-z]+:\/\//, ''), proto: l.protocol,
      // Closed (and its number free for reuse) once every thread has stopped.
      fd: stopping() ? undefined : l.fd,
      inherited: /^fd:/.test(parseListen(listen[i]!).address),
    }));
    return {
      mode: 'single', pid: process.pid, sockets: socketStats(sources), startedAt: spawnedAt, reloads: 0, lastReloadAt: undefined,
      workers: [{ id: 0, pid: process.pid, state: stopping() ? 'draining' : 'serving', current: true, respawnCount: 1, spawnedAt,
        report }],
      ...(app !== undefined ? { appMetrics: await app } : {}),
    };
  });
}
