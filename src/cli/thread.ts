// One --threads thread (src/cli/threads.ts starts it): parses the command
// line again, loads the app itself (apps are never shared between threads),
// serves its own copies of the listeners with EPOLLEXCLUSIVE, and on the
// process's word stops accepting (its replies then say Connection: close) and
// closes, finishing what is in flight.
import { parentPort, workerData } from 'node:worker_threads';
import { parseArgs } from './flags.js';
import { loadCliApp } from './main.js';
import { serveOptions } from './serve-options.js';
import { closingWhile } from '../master/worker.js';
import { serve, type ServerHandle } from '../server/serve.js';
import type { App } from '../tsgi/types.js';
import type { FromThread, ThreadData, ToThread } from './threads.js';

async function threadMain(d: ThreadData): Promise<void> {
  const port = parentPort!;
  const say = (m: FromThread): void => port.postMessage(m);
  const opts = parseArgs(d.argv);
  let app: App;
  let server: ServerHandle;
  let draining = false;
  try {
    app = await loadCliApp(opts, d.index !== 1);
  } catch (err) {
    say({ t: 'failed', message: err instanceof Error ? err.message : String(err) });
    return;
  }
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
    }));
  } catch (err) {
    say({ t: 'failed', message: err instanceof Error ? err.message : String(err) });
    return;
  }
  port.on('message', (m: ToThread) => {
    if (m.t === 'stopAccepting') {
      draining = true;
      server.stopAccepting();
    } else if (m.t === 'close') {
      draining = true;
      // In a worker_thread, process.exit ends this thread only (an app's timers would keep it alive).
      void server.close(m.timeoutMs).then(() => process.exit(0));
    }
  });
  say({ t: 'ready', addresses: [...server.addresses] });
}

void threadMain(workerData as ThreadData);
