// --stats: the Node runtime of one event loop (a worker process, or a
// --threads thread): event-loop delay and utilization, heap, GC pauses and
// active resources. Read when a report is made (once a second in a worker,
// or when a stats client asks), never per request: the delay histogram is
// libuv's (perf_hooks.monitorEventLoopDelay, sampled by a native timer), GC
// pauses come in batches from a PerformanceObserver.
import { PerformanceObserver, constants, monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';

/** The delay histogram's sampling period, ms: the granularity of the lag figures. */
export const LAG_RESOLUTION_MS = 20;
/** The delay histogram and the utilization cover at least this long (reset at the first report after it). */
export const RUNTIME_WINDOW_MS = 5_000;

export const GC_KINDS = ['minor', 'major', 'incremental', 'weakcb'] as const;
export type GcKind = typeof GC_KINDS[number];

export interface RuntimeReport {
  /** Event-loop delay over the window, seconds: median, 99th percentile, largest, mean. */
  lagP50: number;
  lagP99: number;
  lagMax: number;
  lagMean: number;
  /** Share of the window the loop was busy, 0..1 (performance.eventLoopUtilization). */
  utilization: number;
  /** How long the window ran, seconds. */
  window: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Since the start: collections and their pause time (seconds), by kind. */
  gc: Record<GcKind, { count: number; seconds: number }>;
  /** process.getActiveResourcesInfo(): handles and requests keeping the loop alive (sockets, timers, ...). */
  activeResources: number;
}

const KIND_OF: Record<number, GcKind> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

export const noGc = (): RuntimeReport['gc'] => ({
  minor: { count: 0, seconds: 0 }, major: { count: 0, seconds: 0 },
  incremental: { count: 0, seconds: 0 }, weakcb: { count: 0, seconds: 0 },
});

export class RuntimeMonitor {
  private readonly delay: IntervalHistogram = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  private readonly gc = noGc();
  private readonly observer: PerformanceObserver;
  private windowStart = performance.now();
  private eluStart: EventLoopUtilization = performance.eventLoopUtilization();
  /** The last full window's figures, reported until the next window is full. */
  private last: Pick<RuntimeReport, 'lagP50' | 'lagP99' | 'lagMax' | 'lagMean' | 'utilization' | 'window'> | undefined;

  constructor() {
    this.delay.enable();
    this.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const detail = (e as { detail?: { kind?: number } }).detail;
        const kind = KIND_OF[detail?.kind ?? -1];
        if (kind === undefined) continue;
        this.gc[kind].count++;
        this.gc[kind].seconds += e.duration / 1000;
      }
    });
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /** The window so far; the histogram in nanoseconds (NaN before its first sample). */
  private current(now: number): NonNullable<RuntimeMonitor['last']> {
    // libuv's timer fires every LAG_RESOLUTION_MS, and the histogram records
    // the time between firings: the delay is what exceeds the period (an idle
    // loop reads about 0, not 10 ms).
    const s = (ns: number): number => Number.isFinite(ns) && this.delay.count > 0 ? Math.max(0, ns / 1e9 - LAG_RESOLUTION_MS / 1000) : 0;
    return {
      lagP50: s(this.delay.percentile(50)), lagP99: s(this.delay.percentile(99)), lagMax: s(this.delay.max), lagMean: s(this.delay.mean),
      utilization: performance.eventLoopUtilization(this.eluStart).utilization, window: (now - this.windowStart) / 1000,
    };
  }

  report(): RuntimeReport {
    const now = performance.now();
    if (now - this.windowStart >= RUNTIME_WINDOW_MS) {
      this.last = this.current(now);
      this.delay.reset();
      this.windowStart = now;
      this.eluStart = performance.eventLoopUtilization();
    }
    const loop = this.last ?? this.current(now);
    const mem = process.memoryUsage();
    const gc = noGc();
    for (const k of GC_KINDS) gc[k] = { ...this.gc[k] };
    return {
      ...loop, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external, arrayBuffers: mem.arrayBuffers,
      gc, activeResources: process.getActiveResourcesInfo().length,
    };
  }

  close(): void {
    this.delay.disable();
    this.observer.disconnect();
  }
}

/** One process's runtime from its threads' (each its own loop and heap): loop figures the worst (lag) or the mean (utilization); memory, GC and resources added up. */
export function sumRuntime(rs: ReadonlyArray<RuntimeReport | undefined>): RuntimeReport | undefined {
  const list = rs.filter((r): r is RuntimeReport => r !== undefined);
  if (list.length === 0) return undefined;
  const out: RuntimeReport = {
    lagP50: 0, lagP99: 0, lagMax: 0, lagMean: 0, utilization: 0, window: 0,
    heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0, gc: noGc(), activeResources: 0,
  };
  for (const r of list) {
    out.lagP50 = Math.max(out.lagP50, r.lagP50);
    out.lagP99 = Math.max(out.lagP99, r.lagP99);
    out.lagMax = Math.max(out.lagMax, r.lagMax);
    out.lagMean = Math.max(out.lagMean, r.lagMean);
    out.utilization += r.utilization / list.length;
    out.window = Math.max(out.window, r.window);
    out.heapUsed += r.heapUsed;
    out.heapTotal += r.heapTotal;
    out.external += r.external;
    out.arrayBuffers += r.arrayBuffers;
    out.activeResources += r.activeResources;
    for (const k of GC_KINDS) {
      out.gc[k].count += r.gc[k].count;
      out.gc[k].seconds += r.gc[k].seconds;
    }
  }
  return out;
}
