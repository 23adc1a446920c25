// --stats: the numbers of every process as one document in the shape of
// uWSGI's stats server (docs/stats.md maps the fields), and the same numbers
// in Prometheus' text exposition format (version 0.0.4).
import * as fs from 'node:fs';
import { VERSION } from '../version.js';
import type { AppMetricsInput } from './app-metrics.js';
import { DURATION_BUCKETS, type StatsReport } from './counters.js';
import type { SocketStat } from './sockets.js';
import { GC_KINDS, type RuntimeReport } from './runtime.js';

/** One serving process as the master (or the single process) sees it. */
export interface WorkerView {
  /** Slot number under a master (1..N); 0 for a single process, as in the access log. */
  id: number;
  pid: number;
  /** starting: not ready yet; draining: told to stop (a reload, a recycle, shutdown). */
  state: 'starting' | 'serving' | 'draining';
  /** The slot's serving worker: the one /metrics shows (a reload briefly has two per slot). */
  current: boolean;
  /** Workers the slot has started, this one included (uWSGI's respawn_count). */
  respawnCount: number;
  /** When it was started, milliseconds since the epoch. */
  spawnedAt: number;
  /** Its latest report; undefined until the first. */
  report: StatsReport | undefined;
}

export interface StatsInput {
  mode: 'master' | 'single';
  pid: number;
  sockets: SocketStat[];
  workers: WorkerView[];
  /** When the master (or the single process) started, milliseconds since the epoch. */
  startedAt: number;
  /** Reloads finished so far (SIGHUP, --touch-reload); always 0 for a single process. */
  reloads: number;
  /** When the last reload finished, milliseconds since the epoch; undefined before the first. */
  lastReloadAt: number | undefined;
  /** --app-metrics, for a /metrics scrape: the app's registries of every serving process. */
  appMetrics?: AppMetricsInput;
}

/** Resident and virtual size of a process from /proc (fresh), else undefined. */
function procMemory(pid: number): { rss: number; vsz: number } | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    const rss = kb('VmRSS');
    const vsz = kb('VmSize');
    return Number.isFinite(rss) && Number.isFinite(vsz) ? { rss, vsz } : undefined;
  } catch {
    return undefined;
  }
}

export interface WorkerDoc {
  id: number;
  pid: number;
  accepting: number;
  requests: number;
  delta_requests: number;
  exceptions: number;
  status: 'idle' | 'busy' | 'draining' | 'starting';
  rss: number;
  vsz: number;
  running_time: number;
  last_spawn: number;
  respawn_count: number;
  tx: number;
  avg_rt: number;
  in_flight: number;
  current_requests: Array<{ method: string; uri: string; running_time: number }>;
  responses: Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx', number>;
  duration_sum: number;
  /** Cumulative, as Prometheus' buckets: upper bound in seconds ("+Inf" last) → requests that took at most that. */
  duration_buckets: Record<string, number>;
  report_age: number | null;
  /** Open WebSocket connections and tunnels (upgraded connections the app took), and WebSocket traffic so far. */
  websockets: number;
  tunnels: number;
  ws_messages_in: number;
  ws_messages_out: number;
  ws_bytes_in: number;
  ws_bytes_out: number;
  /** --threads N > 1: one entry per thread (uWSGI's cores[]); the fields above are their sums. */
  cores?: CoreDoc[];
  /** tsgi: the Node runtime of the worker (null before its first report). */
  node: NodeDoc | null;
}

/** A worker's Node runtime: seconds, bytes, a 0..1 ratio. */
export interface NodeDoc {
  /** Event-loop delay over the last window (at least 5 s), seconds. */
  eventloop_lag_p50: number;
  eventloop_lag_p99: number;
  eventloop_lag_max: number;
  eventloop_lag_mean: number;
  /** Share of the window the event loop was busy. */
  eventloop_utilization: number;
  /** The window those figures cover, seconds. */
  window: number;
  heap_used: number;
  heap_total: number;
  external: number;
  array_buffers: number;
  /** Since the worker started: collections and their total pause, by kind. */
  gc: Record<string, { count: number; seconds: number }>;
  active_resources: number;
}

function nodeDoc(r: RuntimeReport | undefined): NodeDoc | null {
  if (r === undefined) return null;
  return {
    eventloop_lag_p50: r.lagP50, eventloop_lag_p99: r.lagP99, eventloop_lag_max: r.lagMax, eventloop_lag_mean: r.lagMean,
    eventloop_utilization: r.utilization, window: r.window,
    heap_used: r.heapUsed, heap_total: r.heapTotal, external: r.external, array_buffers: r.arrayBuffers,
    gc: Object.fromEntries(GC_KINDS.map((k) => [k, { count: r.gc[k].count, seconds: r.gc[k].seconds }])),
    active_resources: r.activeResources,
  };
}

export interface CoreDoc {
  id: number;
  requests: number;
  /** uWSGI's: 1 while the thread runs a request. */
  in_request: number;
  exceptions: number;
  tx: number;
  in_flight: number;
}

export interface StatsDoc {
  version: string;
  listen_queue: number;
  load: number;
  pid: number;
  uid: number;
  gid: number;
  cwd: string;
  mode: 'master' | 'single';
  /** tsgi: when the master (or the single process) started, seconds since the epoch. */
  started_at: number;
  /** tsgi: reloads finished so far, and when the last one finished (seconds since the epoch, null before the first). */
  reloads: number;
  last_reload: number | null;
  sockets: SocketStat[];
  workers: WorkerDoc[];
}

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

function workerDoc(w: WorkerView, now: number): WorkerDoc {
  const r = w.report;
  const mem = procMemory(w.pid);
  const draining = w.state === 'draining' || r?.draining === true;
  const inFlight = r?.inFlight ?? 0;
  const status = w.state === 'starting' ? 'starting' : draining ? 'draining' : inFlight > 0 ? 'busy' : 'idle';
  const responses = {} as WorkerDoc['responses'];
  CLASSES.forEach((c, i) => { responses[c] = r?.codes[i] ?? 0; });
  let cumulative = 0;
  const buckets: Record<string, number> = {};
  // "1.0", not "1" (as Prometheus' Python client writes them): integer-like keys would sort first in an object.
  [...DURATION_BUCKETS.map((b) => Number.isInteger(b) ? b.toFixed(1) : String(b)), '+Inf'].forEach((le, i) => {
    cumulative += r?.buckets[i] ?? 0;
    buckets[le] = cumulative;
  });
  return {
    id: w.id,
    pid: w.pid,
    accepting: status === 'idle' || status === 'busy' ? 1 : 0,
    requests: r?.requests ?? 0,
    delta_requests: r?.requests ?? 0,
    exceptions: r?.exceptions ?? 0,
    status,
    rss: mem?.rss ?? r?.rss ?? 0,
    vsz: mem?.vsz ?? 0,
    running_time: r?.runningTime ?? 0,
    last_spawn: Math.floor(w.spawnedAt / 1000),
    respawn_count: w.respawnCount,
    tx: r?.tx ?? 0,
    avg_rt: r?.avgRt ?? 0,
    in_flight: inFlight,
    current_requests: (r?.current ?? []).map((c) => ({ method: c.method, uri: c.uri,
      running_time: Math.max(0, Math.round((now - c.startedAt) * 1000)) })),
    responses,
    duration_sum: r?.durationSum ?? 0,
    duration_buckets: buckets,
    report_age: r === undefined ? null : Math.max(0, now - r.at),
    websockets: r?.upgraded?.websockets ?? 0,
    tunnels: r?.upgraded?.tunnels ?? 0,
    ws_messages_in: r?.upgraded?.messagesIn ?? 0,
    ws_messages_out: r?.upgraded?.messagesOut ?? 0,
    ws_bytes_in: r?.upgraded?.bytesIn ?? 0,
    ws_bytes_out: r?.upgraded?.bytesOut ?? 0,
    node: nodeDoc(r?.runtime),
    ...(r?.threads !== undefined ? {
      cores: r.threads.map((t) => ({ id: t.id, requests: t.requests, in_request: t.inFlight > 0 ? 1 : 0,
        exceptions: t.exceptions, tx: t.tx, in_flight: t.inFlight })),
    } : {}),
  };
}

export function statsDocument(input: StatsInput): StatsDoc {
  const now = Date.now();
  const workers = [...input.workers].sort((a, b) => a.id - b.id || a.spawnedAt - b.spawnedAt).map((w) => workerDoc(w, now));
  return {
    version: VERSION,
    listen_queue: input.sockets.reduce((n, s) => n + (s.queue ?? 0), 0),
    load: workers.reduce((n, w) => n + w.in_flight, 0),
    pid: input.pid,
    uid: process.getuid?.() ?? -1,
    gid: process.getgid?.() ?? -1,
    cwd: process.cwd(),
    mode: input.mode,
    started_at: Math.floor(input.startedAt / 1000),
    reloads: input.reloads,
    last_reload: input.lastReloadAt === undefined ? null : Math.floor(input.lastReloadAt / 1000),
    sockets: input.sockets,
    workers,
  };
}

// ---- Prometheus text format 0.0.4 ---------------------------------------------

/** Label values escape \, " and newline (the exposition format's three). */
function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function num(n: number): string {
  return Number.isFinite(n) ? String(n) : n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN';
}

class Exposition {
  private out: string[] = [];

  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): this {
    this.out.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, labels: Record<string, string>, value: number): this {
    const ls = Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`).join(',');
    this.out.push(`${name}${ls === '' ? '' : `{${ls}}`} ${num(value)}`);
    return this;
  }

  text(): string {
    return this.out.join('\n') + '\n';
  }
}

/** /metrics: one series per worker slot (its serving worker), per socket, and the totals. */
export function prometheusText(doc: StatsDoc, input: StatsInput): string {
  const current = new Set(input.workers.filter((w) => w.current).map((w) => w.pid));
  const ws = doc.workers.filter((w) => current.has(w.pid));
  const e = new Exposition();
  const perWorker = (name: string, type: 'counter' | 'gauge', help: string, value: (w: WorkerDoc) => number): void => {
    e.family(name, type, help);
    for (const w of ws) e.sample(name, { worker: String(w.id) }, value(w));
  };
  e.family('tsgi_info', 'gauge', 'tsgi version and how it runs (always 1).')
    .sample('tsgi_info', { version: doc.version, mode: doc.mode }, 1);
  e.family('tsgi_workers', 'gauge', 'Worker processes alive, by state (a reload briefly has more than --processes).');
  for (const st of ['starting', 'idle', 'busy', 'draining'] as const) {
    e.sample('tsgi_workers', { status: st }, doc.workers.filter((w) => w.status === st).length);
  }
  perWorker('tsgi_requests_total', 'counter', 'Requests finished by the worker (resets when the worker is replaced).', (w) => w.requests);
  perWorker('tsgi_exceptions_total', 'counter', 'Requests answered 500 (app errors) by the worker.', (w) => w.exceptions);
  e.family('tsgi_responses_total', 'counter', 'Replies by status class (499: client gone before the reply).');
  for (const w of ws) for (const c of CLASSES) e.sample('tsgi_responses_total', { worker: String(w.id), code: c }, w.responses[c]);
  perWorker('tsgi_sent_bytes_total', 'counter', 'Response body bytes sent by the worker.', (w) => w.tx);
  e.family('tsgi_request_duration_seconds', 'histogram', 'Time from a request\'s arrival in JS to its reply\'s end.');
  for (const w of ws) {
    const id = String(w.id);
    for (const [le, count] of Object.entries(w.duration_buckets)) {
      e.sample('tsgi_request_duration_seconds_bucket', { worker: id, le }, count);
    }
    e.sample('tsgi_request_duration_seconds_sum', { worker: id }, w.duration_sum);
    e.sample('tsgi_request_duration_seconds_count', { worker: id }, w.requests);
  }
  if (ws.some((w) => w.cores !== undefined)) {
    // Only with --threads: the per-worker families above are already the threads' sums.
    e.family('tsgi_thread_requests_total', 'counter', 'Requests finished by each --threads thread of the worker.');
    for (const w of ws) for (const c of w.cores ?? []) e.sample('tsgi_thread_requests_total', { worker: String(w.id), thread: String(c.id) }, c.requests);
  }
  perWorker('tsgi_worker_avg_response_time_seconds', 'gauge', 'uWSGI\'s avg_rt: after each request, (avg + its time) / 2.', (w) => w.avg_rt / 1e6);
  perWorker('tsgi_requests_in_flight', 'gauge', 'Requests the worker is running now.', (w) => w.in_flight);
  perWorker('tsgi_websocket_connections', 'gauge', 'WebSocket connections the worker holds open.', (w) => w.websockets);
  perWorker('tsgi_tunnel_connections', 'gauge', 'Upgraded connections the app took as raw tunnels (node:http \'upgrade\').', (w) => w.tunnels);
  e.family('tsgi_websocket_messages_total', 'counter', 'WebSocket messages received (in) and sent (out) by the worker.');
  for (const w of ws) {
    e.sample('tsgi_websocket_messages_total', { worker: String(w.id), direction: 'in' }, w.ws_messages_in);
    e.sample('tsgi_websocket_messages_total', { worker: String(w.id), direction: 'out' }, w.ws_messages_out);
  }
  e.family('tsgi_websocket_bytes_total', 'counter', 'WebSocket message payload bytes received (in) and sent (out), before framing.');
  for (const w of ws) {
    e.sample('tsgi_websocket_bytes_total', { worker: String(w.id), direction: 'in' }, w.ws_bytes_in);
    e.sample('tsgi_websocket_bytes_total', { worker: String(w.id), direction: 'out' }, w.ws_bytes_out);
  }
  perWorker('tsgi_worker_rss_bytes', 'gauge', 'Resident memory of the worker process.', (w) => w.rss);
  perWorker('tsgi_worker_virtual_memory_bytes', 'gauge', 'Virtual memory size of the worker process.', (w) => w.vsz);
  perWorker('tsgi_worker_respawns_total', 'counter', 'Worker processes the slot has started (1 for the first).', (w) => w.respawn_count);
  perWorker('tsgi_worker_start_time_seconds', 'gauge', 'When the worker process started, seconds since the epoch.', (w) => w.last_spawn);
  const rt = ws.filter((w): w is WorkerDoc & { node: NodeDoc } => w.node !== null);
  const perNode = (name: string, help: string, value: (n: NodeDoc) => number): void => {
    e.family(name, 'gauge', help);
    for (const w of rt) e.sample(name, { worker: String(w.id) }, value(w.node));
  };
  perNode('tsgi_nodejs_eventloop_lag_p50_seconds', 'Median event-loop delay over the last window (at least 5 s).', (n) => n.eventloop_lag_p50);
  perNode('tsgi_nodejs_eventloop_lag_p99_seconds', '99th percentile of the event-loop delay over the last window.', (n) => n.eventloop_lag_p99);
  perNode('tsgi_nodejs_eventloop_lag_max_seconds', 'Largest event-loop delay over the last window.', (n) => n.eventloop_lag_max);
  perNode('tsgi_nodejs_eventloop_lag_mean_seconds', 'Mean event-loop delay over the last window.', (n) => n.eventloop_lag_mean);
  perNode('tsgi_nodejs_eventloop_utilization_ratio', 'Share of the last window the event loop was busy (0 to 1).', (n) => n.eventloop_utilization);
  perNode('tsgi_nodejs_heap_used_bytes', 'V8 heap in use.', (n) => n.heap_used);
  perNode('tsgi_nodejs_heap_total_bytes', 'V8 heap reserved.', (n) => n.heap_total);
  perNode('tsgi_nodejs_external_memory_bytes', 'Memory of C++ objects bound to JavaScript objects (Buffers included).', (n) => n.external);
  perNode('tsgi_nodejs_array_buffers_bytes', 'Memory of ArrayBuffers and Buffers.', (n) => n.array_buffers);
  perNode('tsgi_nodejs_active_resources', 'Handles and requests keeping the event loop alive (sockets, timers, ...).', (n) => n.active_resources);
  e.family('tsgi_nodejs_gc_runs_total', 'counter', 'Garbage collections since the worker started, by kind.');
  for (const w of rt) for (const k of GC_KINDS) e.sample('tsgi_nodejs_gc_runs_total', { worker: String(w.id), kind: k }, w.node.gc[k]!.count);
  e.family('tsgi_nodejs_gc_duration_seconds_total', 'counter', 'Time spent in garbage collection pauses since the worker started, by kind.');
  for (const w of rt) for (const k of GC_KINDS) e.sample('tsgi_nodejs_gc_duration_seconds_total', { worker: String(w.id), kind: k }, w.node.gc[k]!.seconds);
  const known = doc.sockets.filter((s) => s.queue !== null);
  e.family('tsgi_listen_queue', 'gauge', 'Connections waiting in the listener\'s accept queue (TCP on Linux only).');
  for (const s of known) e.sample('tsgi_listen_queue', { socket: s.name, proto: s.proto }, s.queue!);
  e.family('tsgi_listen_queue_max', 'gauge', 'The accept queue\'s capacity: the listen backlog capped by net.core.somaxconn.');
  for (const s of known) if (s.max_queue !== null) e.sample('tsgi_listen_queue_max', { socket: s.name, proto: s.proto }, s.max_queue);
  return e.text();
}
