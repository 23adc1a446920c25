// --app-metrics: the app's own prom-client metrics in /metrics, merged across
// workers (and --threads threads) as prom-client's cluster mode merges them:
// each process reads its registry with getMetricsAsJSON() when /metrics is
// scraped, never per request, and the master (or the single process) adds
// them up with AggregatorRegistry.aggregate() — counters and histograms
// summed, gauges by their `aggregator` — and renders them with its
// metrics(). tsgi depends on no prom-client: it uses the copy the app's own
// module resolves, the one whose default registry the app fills.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { StatsPoll } from './poll.js';

/** One metric of getMetricsAsJSON(): what aggregate() reads. */
export interface MetricJSON {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  values: Array<{ value: number | string | null; labels: Record<string, unknown>; metricName?: string }>;
}

/** The parts of prom-client tsgi uses (any version since 13, where metrics() became async). */
export interface PromClient {
  register: { getMetricsAsJSON(): Promise<MetricJSON[]> | MetricJSON[] };
  AggregatorRegistry: { aggregate(metrics: MetricJSON[][]): { metrics(): Promise<string> | string } };
}

/** The prom-client a module in `dir` would `require` (or `import`: the package has one entry), loaded. */
export function loadPromClient(dir: string): { client: PromClient; file: string } {
  const req = createRequire(path.join(dir, 'noop.js'));
  let file: string;
  try {
    file = req.resolve('prom-client');
  } catch {
    throw new Error(`--app-metrics: prom-client cannot be found from ${dir} (the app's directory), ` +
      'where the app would load it: install it with the app (npm install prom-client), or drop --app-metrics');
  }
  const client = req(file) as Partial<PromClient>;
  if (typeof client.register?.getMetricsAsJSON !== 'function' || typeof client.AggregatorRegistry?.aggregate !== 'function') {
    throw new Error(`--app-metrics: ${file} is not prom-client 13 or later (no register.getMetricsAsJSON or AggregatorRegistry.aggregate)`);
  }
  return { client: client as PromClient, file };
}

/** What one process says: its registries (one, or one per --threads thread), the errors of those that threw, how many were late. */
export interface ProcessMetrics {
  registries: MetricJSON[][];
  errors: string[];
  late: number;
}

/** One registry, read when asked; asks that come while a read runs share it (a hung collect() holds one read, not one per scrape). */
export class AppRegistry {
  private reading: Promise<ProcessMetrics> | undefined;

  constructor(private readonly client: PromClient) {}

  read(): Promise<ProcessMetrics> {
    this.reading ??= (async (): Promise<ProcessMetrics> => {
      try {
        return { registries: [await this.client.register.getMetricsAsJSON()], errors: [], late: 0 };
      } catch (err) {
        return { registries: [], errors: [err instanceof Error ? err.message : String(err)], late: 0 };
      }
    })().finally(() => { this.reading = undefined; });
    return this.reading;
  }
}

/**
 * The latest answers of several members (workers, threads), asked through a
 * StatsPoll. A member that is late this time counts with its previous
 * registries, as tsgi's own figures use a late worker's last report: the
 * sums do not dip (which Prometheus would take for a counter reset).
 */
export class MetricsGather<M> {
  private readonly poll = new StatsPoll<M>();
  private readonly last = new Map<M, { answer: ProcessMetrics; at: number }>();

  answered(member: M, answer: ProcessMetrics): void {
    this.last.set(member, { answer, at: performance.now() });
    this.poll.answered(member);
  }

  /** Gone (exited): forgotten, and no scrape waits for it. */
  gone(member: M): void {
    this.last.delete(member);
    this.poll.answered(member);
  }

  /** Asks `members`; once all answered or after `waitMs`, what each says (a late one: its previous registries, late 1). */
  collect(members: readonly M[], ask: (member: M) => void, waitMs: number): Promise<ProcessMetrics[]> {
    const asked = performance.now();
    return this.poll.collect(members, ask, waitMs, () => members.map((m) => {
      const l = this.last.get(m);
      if (l !== undefined && l.at >= asked) return l.answer;
      return { registries: l?.answer.registries ?? [], errors: [], late: 1 };
    }));
  }
}

/** A process's own registry (one, no --threads), read as a member of its own: the same bounded wait and late rule. */
export function ownMetrics(registry: AppRegistry, waitMs: number): () => Promise<ProcessMetrics> {
  const gather = new MetricsGather<AppRegistry>();
  return async () => (await gather.collect([registry], (r) => void r.read().then((a) => gather.answered(r, a)), waitMs))[0]!;
}

/** Several answers (a process's threads) as one. */
export function combine(list: readonly ProcessMetrics[]): ProcessMetrics {
  const out: ProcessMetrics = { registries: [], errors: [], late: 0 };
  for (const a of list) {
    out.registries.push(...a.registries);
    out.errors.push(...a.errors);
    out.late += a.late;
  }
  return out;
}

// Node's IPC channel is JSON: NaN and ±Infinity would arrive as null.
const NON_FINITE: Record<string, number> = { NaN: NaN, '+Inf': Infinity, '-Inf': -Infinity };

/** For the IPC channel: non-finite values as "NaN", "+Inf", "-Inf". */
export function encodeMetrics(a: ProcessMetrics): ProcessMetrics {
  for (const r of a.registries) for (const m of r) for (const v of m.values) {
    if (typeof v.value === 'number' && !Number.isFinite(v.value)) v.value = Number.isNaN(v.value) ? 'NaN' : v.value > 0 ? '+Inf' : '-Inf';
  }
  return a;
}

/** Back from encodeMetrics(). */
export function decodeMetrics(a: ProcessMetrics): ProcessMetrics {
  for (const r of a.registries) for (const m of r) for (const v of m.values) {
    if (typeof v.value === 'string' && v.value in NON_FINITE) v.value = NON_FINITE[v.value]!;
  }
  return a;
}

/** What /metrics needs: the prom-client to aggregate with, and each serving process's answer. */
export interface AppMetricsInput {
  client: PromClient;
  processes: ProcessMetrics[];
}

/** Logs each distinct line once (at most LOGGED_MAX of them): a scrape every 15 s must not repeat the same error forever. */
const LOGGED_MAX = 100;

export class LogOnce {
  private readonly seen = new Set<string>();

  constructor(private readonly log: (line: string) => void) {}

  line(text: string): void {
    if (this.seen.has(text) || this.seen.size >= LOGGED_MAX) return;
    this.seen.add(text);
    this.log(text);
  }
}

/** The prefix of tsgi's own families: an app metric named with it is left out (each name logged once). */
export const OWN_PREFIX = 'tsgi_';

/**
 * The app's families, merged, after tsgi_app_metrics_workers. Never throws:
 * a family that aggregate() or metrics() refuses (an unknown aggregator) is
 * left out and logged; the other families, and tsgi's own, still go out.
 */
export async function appMetricsText(input: AppMetricsInput, log: LogOnce): Promise<string> {
  const counts = { merged: 0, failed: 0, late: 0 };
  for (const p of input.processes) {
    for (const e of p.errors) log.line(`--app-metrics: the app's registry threw: ${e}`);
    counts[p.errors.length > 0 ? 'failed' : p.late > 0 ? 'late' : 'merged']++;
  }
  const out = [
    '# HELP tsgi_app_metrics_workers Serving processes by how their registry came into this scrape (--app-metrics): '
      + 'merged; failed (it threw); late (no answer in time: its previous numbers are used).',
    '# TYPE tsgi_app_metrics_workers gauge',
    ...Object.entries(counts).map(([result, n]) => `tsgi_app_metrics_workers{result="${result}"} ${n}`),
  ];
  // By name, in the order first met: one aggregate() per family, so one bad family costs only itself.
  const families = new Map<string, MetricJSON[]>();
  for (const p of input.processes) for (const r of p.registries) for (const m of r) {
    if (typeof m?.name !== 'string') continue;
    if (m.name.startsWith(OWN_PREFIX)) {
      log.line(`--app-metrics: the app's metric ${m.name} is left out of /metrics: names starting with ${OWN_PREFIX} are tsgi's own`);
      continue;
    }
    let list = families.get(m.name);
    if (list === undefined) families.set(m.name, list = []);
    list.push(m);
  }
  for (const [name, list] of families) {
    try {
      const text = await input.client.AggregatorRegistry.aggregate([list]).metrics();
      // prom-client puts an empty line between families; tsgi's exposition has none.
      for (const l of text.split('\n')) if (l !== '') out.push(l);
    } catch (err) {
      log.line(`--app-metrics: the app's metric ${name} is left out of /metrics: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return out.join('\n') + '\n';
}
