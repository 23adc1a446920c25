// One --threads thread (src/cli/threads.ts starts it): parses the command
// line again, loads the app itself (apps are never shared between threads),
// serves its own copies of the listeners with EPOLLEXCLUSIVE, and on the
// process's word stops accepting (its replies then say Connection: close) and
// closes, finishing what is in flight. With --access-log it writes its own
// lines to the shared file; with --stats it counts its own requests and
// reports them to the process's main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { parseArgs } from './flags.js';
import { loadCliApp, promClientOf } from './main.js';
import { AppRegistry } from '../stats/app-metrics.js';
import { serveOptions } from './serve-options.js';
import { closingWhile } from '../master/worker.js';
import { serve, type ServerHandle } from '../server/serve.js';
import { AccessLog, type AccessLogFormat } from '../server/access-log.js';
import { MAX_CURRENT, RequestStats, bothHooks } from '../stats/counters.js';
import type { App } from '../tsgi/types.js';
import type { Lifecycles } from '../dispatch/lifecycle.js';
import { remaining } from '../master/exit.js';
import { THREAD_STATS_INTERVAL_MS, type FromThread, type ThreadData, type ToThread } from './threads.js';

async function threadMain(d: ThreadData): Promise<void> {
  const port = parentPort!;
  const say = (m: FromThread): void => port.postMessage(m);
  const opts = parseArgs(d.argv);
  let app: App;
  let lifecycle: Lifecycles;
  let server: ServerHandle;
  let draining = false;
  let registry: AppRegistry | undefined;
  try {
    // --app-metrics: this thread's prom-client, the copy its app loads.
    if (opts.appMetrics === true) registry = new AppRegistry(promClientOf(opts));
    ({ app, lifecycle } = await loadCliApp(opts, d.index !== 1));
    await lifecycle.startup();
  } catch (err) {
    say({ t: 'failed', message: err instanceof Error ? err.message : String(err) });
    return;
  }
  // Opened by each thread (O_APPEND): every flush is one write() of whole
  // lines, which the kernel appends as a unit, so threads never split a line.
  let accessLog: AccessLog | undefined;
  if (opts.accessLog !== undefined) {
    try {
      accessLog = new AccessLog({ path: opts.accessLog, format: (opts.accessLogFormat ?? 'combined') as AccessLogFormat,
        workerId: d.workerId });
    } catch (err) {
      say({ t: 'failed', message: `--access-log ${opts.accessLog}: ${err instanceof Error ? err.message : String(err)}` });
      return;
    }
  }
  const stats = opts.stats !== undefined ? new RequestStats() : undefined;
  const counts = new Int32Array(d.requests);
  const inner = closingWhile(() => draining, app);
  try {
    server = serve((req) => {
      Atomics.add(counts, d.index, 1);
      return inner(req);
    }, serveOptions(opts, {
      // Copies of sockets bound (with their mode and owner) in threads.ts.
      listen: d.listen,
      allowFrom: d.allowFrom,
      exclusiveAccept: true,
      multiprocess: d.multiprocess,
      multithread: true,
      onRequestDone: bothHooks(accessLog?.hook, stats?.hook),
    }));
  } catch (err) {
    say({ t: 'failed', message: err instanceof Error ? err.message : String(err) });
    return;
  }
  const report = (): void => {
    if (stats !== undefined) say({ t: 'stats', report: stats.report(server.running?.(MAX_CURRENT), draining, server.upgraded) });
  };
  port.on('message', (m: ToThread) => {
    if (m.t === 'reopen') {
      accessLog?.reopen();
    } else if (m.t === 'stats?') {
      report();
    } else if (m.t === 'metrics?') {
      void registry?.read().then((metrics) => say({ t: 'metrics', metrics }));
    } else if (m.t === 'draining') {
      draining = true;  // --drain-grace: still accepting, replies say Connection: close
    } else if (m.t === 'stopAccepting') {
      draining = true;
      server.stopAccepting();
    } else if (m.t === 'close') {
      draining = true;
      // In a worker_thread, process.exit ends this thread only (an app's timers would keep it alive).
      // The log's queued lines are written before the thread ends.
      // Each thread runs the shutdown hooks of its own copy of the app.
      const deadline = Date.now() + m.timeoutMs;
      void server.close(m.timeoutMs)
        .then(() => lifecycle.shutdown(remaining(deadline), (line) => say({ t: 'log', line })))
        .then(() => accessLog?.close()).then(() => process.exit(0));
    }
  });
  // The first report goes before "ready": the process never shows a serving thread without numbers.
  report();
  if (stats !== undefined) setInterval(report, THREAD_STATS_INTERVAL_MS).unref();
  say({ t: 'ready', addresses: [...server.addresses] });
}

void threadMain(workerData as ThreadData);
