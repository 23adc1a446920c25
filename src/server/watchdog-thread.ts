// The watchdog thread (see watchdog.ts): sleeps a tick at a time and checks
// the main thread's last tick. It writes with fs.writeSync on fd 2, because a
// worker thread's process.stderr is relayed by the main thread, which is the
// one that is blocked.
import * as fs from 'node:fs';
import { workerData } from 'node:worker_threads';
import { WD, type WatchdogThreadData } from './watchdog.js';

const { sab, limitMs, tickMs, action } = workerData as WatchdogThreadData;
const f64 = new Float64Array(sab, 0, 4);
const i32 = new Int32Array(sab, WD.I32_OFFSET, 4);
const text = Buffer.from(sab, WD.TEXT_OFFSET, 2 * WD.TEXT_MAX);

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function log(line: string): void {
  try {
    fs.writeSync(2, `tsgi: ${line}\n`);
  } catch {
    // stderr gone (the master died): nothing to tell.
  }
}

/** What the main thread is doing, as far as shared memory says. */
function culprit(now: number): string {
  const running = i32[WD.RUNNING_LEN]!;
  if (running > 0) {
    return `running ${text.toString('latin1', 0, running)} (started ${secs(now - f64[WD.RUNNING_AT]!)} ago)`;
  }
  const oldest = i32[WD.OLDEST_LEN]!;
  if (oldest > 0) {
    return `no request in its synchronous part; the oldest in flight is ${text.toString('latin1', WD.TEXT_MAX, WD.TEXT_MAX + oldest)} ` +
      `(started ${secs(now - f64[WD.OLDEST_AT]!)} ago)`;
  }
  return 'no request in flight';
}

let blockedSince = 0;
while (Atomics.wait(i32, WD.STOP, 0, tickMs) !== 'ok' && Atomics.load(i32, WD.STOP) === 0) {
  const now = Date.now();
  const last = f64[WD.TICK]!;
  const stalled = now - last;
  if (stalled > limitMs + tickMs) {
    if (blockedSince === 0) {
      blockedSince = last;
      const what = culprit(now);
      if (action === 'kill') {
        log(`harakiri: event loop blocked for ${secs(stalled)} (--harakiri ${secs(limitMs)}), ${what}; killing pid ${process.pid}`);
        process.kill(process.pid, 'SIGKILL');
      } else {
        log(`harakiri: event loop blocked for ${secs(stalled)} (--harakiri ${secs(limitMs)}), ${what}; ` +
          'not killed: without a master nobody would replace this process (use --processes 1)');
      }
    }
  } else if (blockedSince !== 0) {
    log(`harakiri: event loop running again after ${secs(last - blockedSince)}`);
    blockedSince = 0;
  }
}
