// Memory back to the system after a burst. Under load a process holds what its
// requests had in flight: V8's young generation grows to its largest size
// (32 MB on Node 20) and stays there, and the C heap keeps the pages of every
// request body and reply it freed, since glibc returns only the top of its
// heap. A worker that served a burst of 64 KiB uploads stays near twice its
// idle size for as long as it lives, idle or not.
//
// So a timer looks, every second (or every `idleMs` if shorter), at two
// figures that cost nothing per request: the event loop's utilization since
// the last look and the resident size. When the loop has been idle (under 2 %
// busy) for `idleMs` in a row and the resident size has grown by more than
// 8 MiB since the last release (or the start), the process collects garbage
// the way V8 does under memory pressure (which shrinks the young generation)
// and trims the C heap: binding.releaseMemory. The size after a release is
// the new floor, so memory the app really holds is not collected for again
// and again; a release happens once per burst.
//
// A release is a full collection: a few tens of milliseconds on a small heap,
// longer on a heap of hundreds of megabytes. It happens only when the loop
// has been idle a whole period, and `idleMs` 0 turns it off.
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { binding } from '../native/load.js';

/** Growth of the resident size since the last release that makes an idle period release. */
const RELEASE_GROWTH = 8 * 1024 * 1024;
/** Busier than this over a period, the loop is not idle. */
const IDLE_UTILIZATION = 0.02;

export interface Release {
  /** Resident bytes before and after, and how long the release took. */
  before: number;
  after: number;
  ms: number;
  collected: boolean;
}

export class MemoryRelease {
  private readonly timer: NodeJS.Timeout;
  private elu: EventLoopUtilization = performance.eventLoopUtilization();
  private floor = process.memoryUsage.rss();
  private readonly stepMs: number;
  /** How long the loop has been idle, in whole steps. */
  private idleFor = 0;
  /** Releases so far. */
  count = 0;

  constructor(private readonly idleMs: number, private readonly onRelease?: (r: Release) => void) {
    this.stepMs = Math.min(1000, idleMs);
    this.timer = setInterval(() => this.tick(), this.stepMs);
    this.timer.unref();
  }

  private tick(): void {
    const step = performance.eventLoopUtilization(this.elu);
    this.elu = performance.eventLoopUtilization();
    this.idleFor = step.utilization > IDLE_UTILIZATION ? 0 : this.idleFor + this.stepMs;
    const rss = process.memoryUsage.rss();
    if (rss < this.floor) {
      this.floor = rss;  // returned on its own
      return;
    }
    if (this.idleFor < this.idleMs || rss - this.floor < RELEASE_GROWTH) return;
    const started = performance.now();
    const { collected } = binding.releaseMemory(true);
    const after = process.memoryUsage.rss();
    this.floor = after;
    this.count++;
    // The release's own work is not the app's: the next step starts after it.
    this.elu = performance.eventLoopUtilization();
    this.idleFor = 0;
    this.onRelease?.({ before: rss, after, ms: performance.now() - started, collected });
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
