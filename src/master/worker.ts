// Worker mode: `tsgi` started by a master (the TSGI_WORKER variable is set).
// The CLI loads the app and serves the inherited listeners as usual; this
// module adds what a worker does differently: it says when it is serving,
// counts requests and watches its memory to ask for a replacement, and on
// "stop" (or SIGTERM/SIGINT, or losing the master) drains (before "stop",
// "draining" may come: the master's --drain-grace, during which it goes on
// accepting but its replies say `Connection: close`):
//   1. stop accepting; the master, the other workers and the kernel's accept
//      queue keep the listening socket alive, so no connection is refused;
//   2. for DRAIN_GRACE_MS, every reply says `Connection: close`, so a
//      keep-alive client gets one more answer and reconnects elsewhere instead
//      of having its next request cut by an idle close;
//   3. close(): idle connections close, in-flight requests finish (bounded by
//      the rest of the shutdown timeout); exit 0.
import type { App, HeaderList, Reply } from '../tsgi/types.js';
import type { ServerHandle } from '../server/serve.js';
import { WORKER_ENV, isMessage, type MasterMessage, type WorkerMessage, type WorkerSettings } from './ipc.js';
import type { StatsReport } from '../stats/counters.js';
import { encodeMetrics, type ProcessMetrics } from '../stats/app-metrics.js';
import { appHandlers, exitWhenDone, remaining } from './exit.js';

export const DRAIN_GRACE_MS = 500;
const CHECK_INTERVAL_MS = 1000;
/** --stats: a worker reports this often unasked. */
export const STATS_INTERVAL_MS = 1000;

export interface WorkerMode {
  readonly id: number;
  /** The listeners to serve, "http://fd:4"..., in command-line order. */
  readonly listen: string[];
  readonly allowFrom: string[] | undefined;
  /** The app, counting requests and closing connections while draining. */
  wrap(app: App): App;
  /** --threads: the app runs in threads (each closing connections itself while draining); read() sums their requests. */
  countWith(read: () => number): void;
  /**
   * Called once serve() returned: tells the master, handles stop and
   * recycling; with --stats, reports `stats(draining)` every second and when asked
   * (a promise with --threads, whose threads are asked in turn); with
   * --app-metrics, answers `metrics?` with `appMetrics()`.
   */
  serving(server: ServerHandle, shutdownTimeoutMs: number | undefined,
    stats?: (draining: boolean) => StatsReport | Promise<StatsReport>, whenDraining?: () => void,
    appMetrics?: () => Promise<ProcessMetrics>): void;
  /** The app could not be loaded or started: tells the master why (it logs it once) and exits 1. */
  failed(message: string): Promise<never>;
}

function closeHeaders(headers: HeaderList | undefined): HeaderList {
  if (headers === undefined || headers === null) return { connection: 'close' };
  if (Array.isArray(headers)) return [...(headers as ReadonlyArray<readonly [string, string]>), ['connection', 'close']];
  return { ...(headers as Record<string, string>), connection: 'close' };
}

function withClose(reply: Reply): Reply {
  if (reply === null || typeof reply !== 'object') return reply;
  return { ...reply, headers: closeHeaders(reply.headers) };
}

/** The app, its replies saying `Connection: close` while `draining()` (a worker's, or a --threads thread's). */
export function closingWhile(draining: () => boolean, app: App): App {
  return (req) => {
    if (!draining()) return app(req);
    const reply = app(req);
    return reply !== null && typeof reply === 'object' && typeof (reply as Promise<Reply>).then === 'function'
      ? (reply as Promise<Reply>).then(withClose)
      : withClose(reply as Reply);
  };
}

/** The worker settings when this process is a worker, else undefined. */
export function workerMode(): WorkerMode | undefined {
  const raw = process.env[WORKER_ENV];
  if (raw === undefined || process.send === undefined) return undefined;
  // The app's own child processes are not workers.
  delete process.env[WORKER_ENV];
  const settings = JSON.parse(raw) as WorkerSettings;

  let server: ServerHandle | undefined;
  let shutdownMs = 10_000;
  let draining = false;
  /** --drain-grace: told that the stop is coming; replies say Connection: close. */
  let closing = false;
  let onDraining: (() => void) | undefined;
  let requests = 0;
  /** --threads: the threads count their requests; this reads the sum. */
  let countRequests: (() => number) | undefined;
  let recycleAsked = false;
  /**
   * --max-requests: the replacement is asked for at this count, early
   * enough to be ready when the quota is reached: 10 % of the quota before
   * it, or more when the requests of the last second, over the time this
   * worker took to start (twice), say so (updated every second).
   */
  let early = settings.maxRequests > 0 ? settings.maxRequests - Math.ceil(settings.maxRequests / 10) : 0;
  let earlyAsked = false;
  let startMs = 0;
  let countedAt = 0;
  let countedThen = 0;

  function updateEarly(): void {
    const now = performance.now();
    if (countedAt > 0 && settings.maxRequests > 0) {
      const perMs = (requests - countedThen) / (now - countedAt);
      const lead = Math.max(Math.ceil(settings.maxRequests / 10), Math.ceil(perMs * startMs * 2));
      early = Math.max(settings.maxRequests - lead, 0);
    }
    countedAt = now;
    countedThen = requests;
  }
  /** --max-requests reached: no new connections, and keep-alive ones close after their next reply. */
  let winding = false;
  let stats: ((draining: boolean) => StatsReport | Promise<StatsReport>) | undefined;
  let appMetrics: (() => Promise<ProcessMetrics>) | undefined;

  const send = (m: WorkerMessage): void => {
    if (process.connected) process.send!(m);
  };

  function exitNow(code: number): never {
    process.exit(code);
  }

  async function drain(timeoutMs: number, signal: NodeJS.Signals | undefined): Promise<void> {
    if (draining) return;
    draining = true;
    if (server === undefined) exitNow(0);
    const deadline = Date.now() + timeoutMs;
    const grace = Math.min(DRAIN_GRACE_MS, Math.floor(timeoutMs / 2));
    server.stopAccepting();
    await new Promise((r) => setTimeout(r, grace));
    // close() drains, then runs the apps' shutdown hooks (src/cli/main.ts).
    await server.close(Math.max(timeoutMs - grace, 0));
    // An app's own SIGTERM handler: a signal ran it already; a stop over IPC
    // (reload, recycle, the master's SIGTERM) runs it now, as the SIGTERM a
    // plain `node app.js` would have got. The process then ends when it is done.
    const theirs = appHandlers(signal ?? 'SIGTERM', [onSignal]);
    if (signal === undefined) for (const h of theirs) (h as (s: NodeJS.Signals) => void)('SIGTERM');
    process.channel?.unref();
    exitWhenDone(0, theirs.length > 0, remaining(deadline), (line) => process.stderr.write(`tsgi: ${line}\n`));
  }

  function stop(timeoutMs: number, signal?: NodeJS.Signals): void {
    if (server === undefined) exitNow(0);  // still loading the app: nothing to finish
    void drain(timeoutMs, signal);
  }

  function sendStats(): Promise<void> | undefined {
    if (stats === undefined) return undefined;
    const report = stats(draining || closing);
    if (!(report instanceof Promise)) return void send({ t: 'stats', report });
    return report.then((r) => send({ t: 'stats', report: r }));
  }

  process.on('message', (m: unknown) => {
    if (!isMessage(m)) return;
    const msg = m as MasterMessage;
    if (msg.t === 'stop') stop(msg.timeoutMs);
    else if (msg.t === 'draining') {
      closing = true;
      onDraining?.();
    }
    else if (msg.t === 'stats?') void sendStats();
    else if (msg.t === 'metrics?') void appMetrics?.().then((a) => send({ t: 'metrics', metrics: encodeMetrics(a) }));
  });
  // The master is gone (killed, crashed): finish what is in flight and go.
  process.on('disconnect', () => stop(shutdownMs));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) exitNow(1);
    stop(shutdownMs, signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  function checkRecycle(): void {
    if (draining || server === undefined) return;
    if (countRequests !== undefined) requests = countRequests();
    const rss = process.memoryUsage.rss();
    const due = settings.maxRequests > 0 && requests >= settings.maxRequests;
    const near = settings.maxRequests > 0 && requests >= early;
    const reason = due || near ? 'max-requests' : settings.maxRss > 0 && rss > settings.maxRss ? 'rss' : undefined;
    if (reason === undefined) return;
    if (reason === 'rss' || due) recycleAsked = true;
    else earlyAsked = true;
    if (due && !winding) {
      // Until its replacement is ready the worker would go on serving every
      // connection it holds, at full speed: under load, many times the quota
      // (thousands of requests more at 10,000 requests/s). From now on the
      // other workers, or the backlog until the replacement accepts, take the
      // new connections; this one finishes what it has.
      winding = true;
      server.stopAccepting();
    }
    send({ t: 'recycle', reason, requests, rss, due: reason === 'rss' || due, quota: settings.maxRequests });
  }

  return {
    id: settings.id,
    listen: settings.listen,
    allowFrom: settings.allowFrom,
    wrap(app: App): App {
      const inner = closingWhile(() => draining || closing || winding, app);
      return (req) => {
        requests++;
        if ((requests === settings.maxRequests && !recycleAsked) || (requests >= early && !earlyAsked)) checkRecycle();
        return inner(req);
      };
    },
    countWith(read: () => number): void {
      countRequests = read;
    },
    failed(message: string): Promise<never> {
      return new Promise<never>(() => {
        if (!process.connected) {
          process.stderr.write(`tsgi: ${message}\n`);
          process.exit(1);
        }
        process.send!({ t: 'failed', message } satisfies WorkerMessage, () => process.exit(1));
      });
    },
    serving(s: ServerHandle, shutdownTimeoutMs: number | undefined,
      report?: (draining: boolean) => StatsReport | Promise<StatsReport>, whenDraining?: () => void,
      readMetrics?: () => Promise<ProcessMetrics>): void {
      server = s;
      appMetrics = readMetrics;
      onDraining = whenDraining;
      shutdownMs = shutdownTimeoutMs ?? 10_000;
      stats = report;
      // The first report goes before "ready": the master never shows a serving worker without numbers.
      const first = sendStats();
      if (first === undefined) send({ t: 'ready' });
      else void first.then(() => send({ t: 'ready' }));
      if (stats !== undefined) setInterval(() => void sendStats(), STATS_INTERVAL_MS).unref();
      // --harakiri: the master's proof that this event loop turns.
      if (settings.heartbeatMs) setInterval(() => send({ t: 'alive' }), settings.heartbeatMs).unref();
      // How long this process took to serve: about what its replacement will take.
      startMs = process.uptime() * 1000;
      if (settings.maxRequests > 0 || settings.maxRss > 0) {
        // Asked again every interval until the master answers with "stop":
        // during a reload it lets the reload replace the worker instead.
        setInterval(() => {
          if (countRequests !== undefined) requests = countRequests();
          updateEarly();
          checkRecycle();
        }, CHECK_INTERVAL_MS).unref();
      }
    },
  };
}
