// What the master and its workers say to each other: the worker's start-up
// settings in one environment variable, then messages over Node's IPC
// channel (fd 3 of the worker). Later features (stats, harakiri, scaling)
// add message kinds here; each side ignores kinds it does not know.
import type { ProcessMetrics } from '../stats/app-metrics.js';
import type { StatsReport } from '../stats/counters.js';

/** The environment variable that makes `tsgi` a worker; JSON of WorkerSettings. */
export const WORKER_ENV = 'TSGI_WORKER';

/** The first fd of the worker's inherited listeners (0-2 stdio, 3 the IPC channel). */
export const FIRST_LISTEN_FD = 4;

export interface WorkerSettings {
  /** Slot number, 1..N (stays the same across the slot's replacements). */
  id: number;
  /** Listeners as serve() addresses on inherited fds, in command-line order: "http://fd:4". */
  listen: string[];
  /** The allow-list the master settled on (--allow-from or FCGI_WEB_SERVER_ADDRS). */
  allowFrom?: string[];
  /** Ask for a replacement after this many requests (jitter already added). 0: never. */
  maxRequests: number;
  /** Ask for a replacement when the resident set exceeds this many bytes. 0: never. */
  maxRss: number;
  /** Send `alive` this often (ms) once serving, for the master's --harakiri; 0: never. */
  heartbeatMs?: number;
}

/** Worker → master. */
export type WorkerMessage =
  /** Serving: the app is loaded and the listeners are in the worker's poller. */
  | { t: 'ready' }
  /**
   * Please start my replacement. `due` false: --max-requests is near (90 %
   * of it served), I keep serving; hold the replacement until I say due.
   * `due` true: I reached it (and stopped accepting), or --reload-on-rss:
   * swap as soon as the replacement is ready. Repeated while unanswered.
   */
  | { t: 'recycle'; reason: 'max-requests' | 'rss'; requests: number; rss: number; due: boolean; quota: number }
  /** --stats: my numbers; every second, and in answer to `stats?`. */
  | { t: 'stats'; report: StatsReport }
  /** --app-metrics: my app's registries (getMetricsAsJSON, non-finite values encoded), in answer to `metrics?`. */
  | { t: 'metrics'; metrics: ProcessMetrics }
  /** --harakiri: my event loop turns (sent every heartbeatMs). */
  | { t: 'alive' }
  /** I cannot load the app (or its startup hook failed); I exit 1 next. `message` is the whole error, for the master to log once. */
  | { t: 'failed'; message: string };

/** Master → worker. */
export type MasterMessage =
  /** Stop accepting, finish in-flight requests within timeoutMs, exit 0. */
  | { t: 'stop'; timeoutMs: number }
  /** SIGTERM with --drain-grace: keep accepting, but every reply says Connection: close; `stop` follows. */
  | { t: 'draining' }
  /** --stats: send a `stats` message now (a stats client is waiting). */
  | { t: 'stats?' }
  /** --app-metrics: a /metrics scrape: send a `metrics` message now. */
  | { t: 'metrics?' };

/** A message of either direction: an object with a string kind `t`. */
export function isMessage(m: unknown): m is { t: string } {
  return typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string';
}
