// The blocked-loop watchdog of --harakiri. An async request that runs too
// long is handled on the event loop (serve()'s sweep: its signal, a 504). A
// request that blocks the loop (a busy while, a sync call that never
// returns) can only be seen from another thread: the main thread ticks a
// timestamp in shared memory, and a worker_thread that sees no tick for
// longer than the limit logs the request that was running (or the oldest in
// flight) and, under a master, SIGKILLs its own process, which the master
// replaces. Everything the thread needs is in a SharedArrayBuffer, because
// the main thread cannot answer a message while it is blocked.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

/** Layout of the shared buffer, shared with watchdog-thread.ts. */
export const WD = {
  /** Float64 slots: last tick, running request's start, oldest in-flight request's start (epoch ms). */
  TICK: 0, RUNNING_AT: 1, OLDEST_AT: 2,
  /** Int32 slots (after the Float64s): text lengths, the stop flag. */
  I32_OFFSET: 32, RUNNING_LEN: 0, OLDEST_LEN: 1, STOP: 2,
  /** Text regions (latin1): "GET /uri". */
  TEXT_OFFSET: 64, TEXT_MAX: 1024,
  SIZE: 64 + 2 * 1024,
} as const;

export type BlockedAction = 'log' | 'kill';

export interface WatchdogThreadData {
  sab: SharedArrayBuffer;
  limitMs: number;
  tickMs: number;
  action: BlockedAction;
}

export class Watchdog {
  private readonly f64: Float64Array;
  private readonly i32: Int32Array;
  private readonly text: Buffer;
  private readonly thread: Worker;
  private readonly timer: NodeJS.Timeout;

  constructor(limitMs: number, action: BlockedAction, oldest: () => { what: string; startedAt: number } | undefined) {
    const sab = new SharedArrayBuffer(WD.SIZE);
    this.f64 = new Float64Array(sab, 0, 4);
    this.i32 = new Int32Array(sab, WD.I32_OFFSET, 4);
    this.text = Buffer.from(sab, WD.TEXT_OFFSET, 2 * WD.TEXT_MAX);
    this.f64[WD.TICK] = Date.now();
    const tickMs = Math.min(1000, Math.max(20, Math.floor(limitMs / 4)));
    const data: WatchdogThreadData = { sab, limitMs, tickMs, action };
    this.thread = new Worker(path.join(__dirname, 'watchdog-thread.js'), { workerData: data });
    this.thread.unref();
    this.timer = setInterval(() => {
      this.f64[WD.TICK] = Date.now();
      const o = oldest();
      if (o === undefined) {
        this.i32[WD.OLDEST_LEN] = 0;
      } else {
        this.f64[WD.OLDEST_AT] = o.startedAt;
        this.i32[WD.OLDEST_LEN] = this.text.write(o.what, WD.TEXT_MAX, WD.TEXT_MAX, 'latin1');
      }
    }, tickMs);
    this.timer.unref();
  }

  /** The app is about to run for this request, synchronously. */
  running(method: string, uri: string, startedAt: number): void {
    this.f64[WD.RUNNING_AT] = startedAt;
    const n = this.text.write(method, 0, WD.TEXT_MAX, 'latin1');
    this.text[n] = 0x20;
    this.i32[WD.RUNNING_LEN] = n + 1 + this.text.write(uri, n + 1, WD.TEXT_MAX - n - 1, 'latin1');
  }

  /** The app's synchronous part returned. */
  idle(): void {
    this.i32[WD.RUNNING_LEN] = 0;
  }

  stop(): void {
    clearInterval(this.timer);
    Atomics.store(this.i32, WD.STOP, 1);
    Atomics.notify(this.i32, WD.STOP);
    void this.thread.terminate();
  }
}
