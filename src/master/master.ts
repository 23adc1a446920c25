// The master: binds every listener once, runs N workers (this same CLI in
// worker mode, loading the app themselves), restarts dead ones with backoff,
// reloads on SIGHUP or a touched file, recycles on a worker's request, and
// stops on SIGTERM/SIGINT. A small loop of named steps: signal handlers,
// child events and timers only enqueue; run() handles one event at a time,
// then maintain() moves every slot towards what it should be.
// docs/master.md describes the behaviour; docs/design.md the choices.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Backoff } from './backoff.js';
import type { MasterConfig, ReloadMode } from './config.js';
import { FIRST_LISTEN_FD, WORKER_ENV, isMessage, type MasterMessage, type WorkerMessage, type WorkerSettings } from './ipc.js';
import type { BoundListeners } from './listeners.js';
import { Notifier } from './notify.js';
import { parseListen } from '../server/listen.js';
import type { StatsReport } from '../stats/counters.js';
import { WORKER_SILENCE_MS, type Health } from '../stats/health.js';
import type { StatsInput } from '../stats/render.js';
import type { StatsServer } from '../stats/server.js';
import { socketStats } from '../stats/sockets.js';
import { StatsPoll } from '../stats/poll.js';
import { MetricsGather, decodeMetrics, type PromClient } from '../stats/app-metrics.js';

/** A worker that has not said "ready" by then is killed (and restarted with backoff). */
export const START_TIMEOUT_MS = 60_000;
/** A replacement started early for --max-requests waits at most this long, ready, for its worker to reach the quota. */
export const HOLD_MAX_MS = 5_000;
/** A stopped worker gets the shutdown timeout plus this before SIGKILL. */
export const KILL_GRACE_MS = 5_000;
const TOUCH_INTERVAL_MS = 1_000;
/** A stats client waits this long at most for the workers' fresh numbers (a blocked one's last report is used). */
export const STATS_WAIT_MS = 250;

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'tsgi');

interface Worker {
  slot: Slot;
  pid: number;
  child: ChildProcess;
  /** current: the slot's serving worker; next: its replacement being started; old: told to stop. */
  role: 'current' | 'next' | 'old';
  /** Which reload generation's code it loaded. */
  gen: number;
  ready: boolean;
  /** Told to stop (or killed on purpose): its exit is expected. */
  stopping: boolean;
  spawnedAt: number;
  /** Start timeout, then kill-after-stop timeout. */
  timer: NodeJS.Timeout | undefined;
  /** An unfinished line of its stderr. */
  partial: string;
  /** --stats: its latest numbers, and which of its slot's workers it is (1 for the first). */
  report: StatsReport | undefined;
  spawnNo: number;
  /** --harakiri: when its last heartbeat (or its ready) came. */
  beatAt: number;
  /** When it last said anything (ready, a report, a heartbeat): /health counts it while recent. */
  heardAt: number;
  /** Why it could not load the app, as it said before exiting. */
  failure: string | undefined;
}

interface Slot {
  id: number;
  current: Worker | undefined;
  next: Worker | undefined;
  /** The current worker asked for a replacement (--max-requests, --reload-on-rss). */
  recycle: boolean;
  /** Its replacement was started early (--max-requests near): it waits, ready, until the current worker reaches the quota. */
  hold: boolean;
  /** A restart delayed by backoff. */
  timer: NodeJS.Timeout | undefined;
  backoff: Backoff;
  /** Workers started for this slot so far. */
  spawns: number;
}

interface Reload {
  mode: ReloadMode;
  startedAt: number;
  /** Another reload was asked for meanwhile: start it when this one is done. */
  again: ReloadMode | undefined;
  /** chain: the slot being replaced, and the old worker it waits for. */
  index: number;
  waitingOld: Worker | undefined;
}

type Event =
  | { kind: 'signal'; signal: NodeJS.Signals }
  | { kind: 'touched'; file: string }
  | { kind: 'message'; worker: Worker; message: WorkerMessage }
  | { kind: 'exit'; worker: Worker; code: number | null; signal: NodeJS.Signals | null }
  | { kind: 'due'; slot: Slot }
  | { kind: 'held'; worker: Worker }
  | { kind: 'graceOver' };

export interface MasterStart {
  /** The listeners, bound by the caller (bindListeners); the master closes them when it stops. */
  bound: BoundListeners;
  /** What is served, for the "serving ... on ..." lines: the app, or "2 mounted apps". */
  label: string;
  /** The worker's command line (the master's, unchanged). */
  argv: readonly string[];
  /** serve() addresses: "http://127.0.0.1:8000", "uwsgi:///run/app.sock". */
  listen: readonly string[];
  allowFrom: readonly string[] | undefined;
  config: MasterConfig;
  /** Runs once the listeners are bound and the pidfile written: --uid/--gid (exits on failure). */
  afterBind?: () => void;
  /** --stats: bound already; the master provides the numbers. */
  stats?: StatsServer;
  /** --app-metrics: the app's prom-client, to merge the workers' registries with. */
  appMetrics?: PromClient;
}

function log(line: string): void {
  process.stderr.write(`tsgi: ${line}\n`);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 1000 ? 2 : 1)} s`;
}

export function runMaster(start: MasterStart): void {
  const { config: cfg } = start;
  const { bound, label } = start;
  for (const l of bound.listeners) log(`serving ${label} on ${l.where}`);

  const notifier = new Notifier(log);
  const slots: Slot[] = [];
  for (let id = 1; id <= cfg.processes; id++) {
    slots.push({ id, current: undefined, next: undefined, recycle: false, hold: false, timer: undefined, backoff: new Backoff(), spawns: 0 });
  }
  const live = new Set<Worker>();
  const queue: Event[] = [];
  let scheduled = false;
  let phase: 'starting' | 'running' | 'stopping' = 'starting';
  let exitCode = 0;
  /** Why the master ends, when not by a signal. */
  let exitWhy: string | undefined;
  /** The last load failure a worker reported, so that the next one with the same text is not printed again. */
  let lastFailure: string | undefined;
  let gen = 1;
  let reload: Reload | undefined;
  const startedAt = Date.now();
  let reloads = 0;
  let lastReloadAt: number | undefined;
  let touchTimer: NodeJS.Timeout | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let graceTimer: NodeJS.Timeout | undefined;

  const wlog = (w: Worker, text: string): void => log(`worker ${w.slot.id} (pid ${w.pid}) ${text}`);

  function enqueue(e: Event): void {
    queue.push(e);
    if (!scheduled) {
      scheduled = true;
      setImmediate(run);
    }
  }

  function run(): void {
    scheduled = false;
    for (let e = queue.shift(); e !== undefined; e = queue.shift()) handle(e);
    maintain();
  }

  function handle(e: Event): void {
    switch (e.kind) {
      case 'signal': return onSignal(e.signal);
      case 'touched':
        log(`${e.file} touched`);
        return startReload(cfg.reloadMode, 'touch');
      case 'message': return onMessage(e.worker, e.message);
      case 'exit': return onExit(e.worker, e.code, e.signal);
      case 'due':
        e.slot.timer = undefined;
        return;
      case 'held':
        // The early replacement waited long enough: traffic slowed before the quota.
        if (e.worker.slot.next === e.worker) e.worker.slot.hold = false;
        return;
      case 'graceOver': return stopAll();
    }
  }

  // ---- steps -----------------------------------------------------------------

  function spawnWorker(slot: Slot, role: 'current' | 'next'): void {
    const settings: WorkerSettings = {
      id: slot.id,
      listen: bound.listeners.map((l, i) => `${l.protocol}://fd:${FIRST_LISTEN_FD + i}`),
      ...(start.allowFrom !== undefined ? { allowFrom: [...start.allowFrom] } : {}),
      // Jitter (up to +10 %) so workers started together do not recycle together.
      maxRequests: cfg.maxRequests === 0 ? 0
        : cfg.maxRequests + Math.floor(Math.random() * Math.ceil(cfg.maxRequests / 10)),
      maxRss: cfg.maxRss,
      ...(cfg.heartbeatTimeoutMs > 0 ? { heartbeatMs: heartbeatEvery(cfg.heartbeatTimeoutMs) } : {}),
    };
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--inspect'));
    const child = spawn(process.execPath, [...execArgv, BIN, ...start.argv], {
      stdio: ['ignore', 'inherit', 'pipe', 'ipc', ...bound.listeners.map((l) => l.fd)],
      env: { ...process.env, [WORKER_ENV]: JSON.stringify(settings) },
    });
    const w: Worker = {
      slot, pid: child.pid ?? 0, child, role, gen, ready: false, stopping: false, spawnedAt: Date.now(),
      timer: undefined, partial: '', report: undefined, spawnNo: ++slot.spawns, beatAt: 0, heardAt: 0, failure: undefined,
    };
    if (role === 'current') slot.current = w;
    else slot.next = w;
    if (role === 'next') slot.recycle = false;
    live.add(w);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => relay(w, chunk));
    child.on('message', (m: unknown) => {
      w.heardAt = Date.now();
      if (isMessage(m)) enqueue({ kind: 'message', worker: w, message: m as WorkerMessage });
    });
    let exited = false;
    child.on('exit', (code, signal) => {
      exited = true;
      enqueue({ kind: 'exit', worker: w, code, signal });
    });
    child.on('error', (err) => {
      // spawn itself failed (EAGAIN, ENOMEM: no exit event follows), or a
      // message could not be sent.
      log(child.pid === undefined ? `cannot start worker ${slot.id}: ${err.message}` : `worker ${slot.id} (pid ${child.pid}): ${err.message}`);
      if (child.pid === undefined && !exited) {
        exited = true;
        enqueue({ kind: 'exit', worker: w, code: null, signal: null });
      }
    });
    w.timer = setTimeout(() => {
      wlog(w, `not ready after ${seconds(START_TIMEOUT_MS)}; killing it`);
      child.kill('SIGKILL');
    }, START_TIMEOUT_MS);
  }

  /** Worker stderr, one line at a time, each naming the worker. */
  function relay(w: Worker, chunk: string): void {
    const text = w.partial + chunk;
    const lines = text.split('\n');
    w.partial = lines.pop()!;
    for (const line of lines) log(`worker ${w.slot.id} (pid ${w.pid}): ${line.replace(/^tsgi: /, '')}`);
  }

  function stopWorker(w: Worker, timeoutMs: number): void {
    if (w.stopping) return;
    w.stopping = true;
    w.role = 'old';
    clearTimeout(w.timer);
    const msg: MasterMessage = { t: 'stop', timeoutMs };
    if (w.ready && w.child.connected) w.child.send(msg);
    else w.child.kill('SIGTERM');  // still loading: nothing to drain
    w.timer = setTimeout(() => {
      wlog(w, `still running ${seconds(timeoutMs + KILL_GRACE_MS)} after stop; killing it`);
      w.child.kill('SIGKILL');
    }, timeoutMs + KILL_GRACE_MS);
  }

  /** The slot's ready replacement takes over; the worker it replaces drains. */
  function swap(slot: Slot): Worker | undefined {
    const old = slot.current;
    slot.current = slot.next!;
    slot.current.role = 'current';
    slot.next = undefined;
    slot.hold = false;
    if (old !== undefined) stopWorker(old, cfg.shutdownTimeoutMs);
    return old;
  }

  function startReload(mode: ReloadMode, why: string): void {
    if (phase === 'stopping') return;
    if (reload !== undefined) {
      reload.again = mode;
      log(`${why}: a reload is in progress; another follows it`);
      return;
    }
    gen++;
    reload = { mode, startedAt: Date.now(), again: undefined, index: 0, waitingOld: undefined };
    notifier.send(`RELOADING=1\nMONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`);
    log(`${why}: ${mode === 'chain' ? 'chain reload, one worker at a time' : `reloading ${slots.length} worker${slots.length === 1 ? '' : 's'}`}`);
  }

  function finishReload(): void {
    const r = reload!;
    reload = undefined;
    reloads++;
    lastReloadAt = Date.now();
    log(`reload done in ${seconds(Date.now() - r.startedAt)} (${slots.map((s) => s.current!.pid).join(', ')})`);
    notifier.send('READY=1');
    if (r.again !== undefined) startReload(r.again, 'queued reload');
  }

  function onSignal(signal: NodeJS.Signals): void {
    if (signal === 'SIGHUP') return startReload(cfg.reloadMode, 'SIGHUP');
    if (signal === 'SIGUSR1') {
      // logrotate: each worker reopens its access log. Only ready workers
      // have their handler installed (else Node would start its inspector);
      // a worker still starting opens the path afresh anyway.
      for (const w of live) if (w.ready) w.child.kill('SIGUSR1');
      return;
    }
    if (phase === 'stopping') {
      log(`${signal} again: killing ${live.size} worker${live.size === 1 ? '' : 's'}`);
      exitCode = 1;
      for (const w of live) {
        w.stopping = true;
        w.child.kill('SIGKILL');
      }
      return;
    }
    // From here /ready says 503. The order is a load balancer's: it notices
    // that first, while the listeners still accept for --drain-grace (every
    // reply saying Connection: close); then they close, then in-flight
    // requests get --shutdown-timeout.
    phase = 'stopping';
    reload = undefined;
    notifier.send('STOPPING=1');
    clearInterval(touchTimer);
    clearInterval(heartbeatTimer);
    for (const slot of slots) clearTimeout(slot.timer);
    if (cfg.drainGraceMs === 0) {
      log(`${signal}: stopping ${live.size} worker${live.size === 1 ? '' : 's'}, in-flight requests get up to ${seconds(cfg.shutdownTimeoutMs)}`);
      return stopAll();
    }
    log(`${signal}: draining: /ready says 503, still accepting for ${seconds(cfg.drainGraceMs)} (--drain-grace), then stopping ${live.size} worker${live.size === 1 ? '' : 's'} with up to ${seconds(cfg.shutdownTimeoutMs)} for in-flight requests`);
    const msg: MasterMessage = { t: 'draining' };
    for (const w of live) if (w.ready && w.child.connected) w.child.send(msg);
    graceTimer = setTimeout(() => enqueue({ kind: 'graceOver' }), cfg.drainGraceMs);
  }

  function stopAll(): void {
    clearTimeout(graceTimer);
    // New clients are refused from now on rather than queued for nobody;
    // the workers keep their copies of the sockets until they have drained.
    bound.close();
    for (const w of live) stopWorker(w, cfg.shutdownTimeoutMs);
  }

  function onMessage(w: Worker, m: WorkerMessage): void {
    switch (m.t) {
      case 'ready':
        if (w.stopping) return;
        w.ready = true;
        w.beatAt = Date.now();
        clearTimeout(w.timer);
        w.timer = undefined;
        wlog(w, 'ready');
        if (w.slot.hold && w.slot.next === w) setTimeout(() => enqueue({ kind: 'held', worker: w }), HOLD_MAX_MS).unref();
        return;
      case 'alive':
        w.beatAt = Date.now();
        return;
      case 'failed':
        w.failure = m.message;
        return;
      case 'stats':
        w.report = m.report;
        return statsPoll.answered(w);
      case 'metrics':
        return appGather.answered(w, decodeMetrics(m.metrics));
      case 'recycle': {
        const slot = w.slot;
        if (phase !== 'running' || w !== slot.current) return;
        if (m.due && slot.hold) {
          // Started early: it takes over now, or as soon as it is ready.
          slot.hold = false;
          if (slot.next === undefined) slot.recycle = true;  // the early one died meanwhile
          wlog(w, `reached its --max-requests (${m.requests} of ${m.quota} requests); its replacement takes over`);
          return;
        }
        if (slot.next !== undefined || slot.recycle) return;
        slot.recycle = true;
        slot.hold = !m.due;
        wlog(w, m.reason === 'rss'
          ? `uses ${Math.round(m.rss / 1048576)} MB (--reload-on-rss); starting its replacement`
          : m.due ? `served ${m.requests} requests (--max-requests); starting its replacement`
            : `served ${m.requests} of its --max-requests ${m.quota}; starting its replacement now, to take over at ${m.quota}`);
        return;
      }
    }
  }

  function onExit(w: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    live.delete(w);
    statsPoll.answered(w);
    appGather.gone(w);
    clearTimeout(w.timer);
    if (w.partial !== '') relay(w, '\n');
    const slot = w.slot;
    if (slot.current === w) slot.current = undefined;
    if (slot.next === w) slot.next = undefined;
    if (reload?.waitingOld === w) reload.waitingOld = undefined;
    const how = signal !== null ? `signal ${signal}` : `code ${code}`;
    if (w.stopping) {
      if (code !== 0 || phase !== 'stopping') wlog(w, `exited (${how})`);
      return;
    }
    const lived = Date.now() - w.spawnedAt;
    if (phase === 'stopping') return;
    if (w.failure !== undefined) {
      // One error for every worker that hit it: its text once, then a line each.
      const same = w.failure === lastFailure;
      lastFailure = w.failure;
      if (phase === 'starting' && cfg.needApp) return needApp(w);
      wlog(w, same ? 'cannot load the app (the same error as above)' : `cannot load the app: ${w.failure}`);
    }
    const delay = slot.backoff.delayAfter(lived);
    wlog(w, `died (${how}) after ${seconds(lived)}${w.ready ? '' : ', before it was ready'}; restarting in ${seconds(delay)}`);
    clearTimeout(slot.timer);
    slot.timer = setTimeout(() => enqueue({ kind: 'due', slot }), delay);
  }

  /** Whether the slot should be starting a replacement for its current worker. */
  function wantsReplacement(slot: Slot, index: number): boolean {
    const cur = slot.current!;
    if (reload !== undefined && cur.gen < gen) {
      return reload.mode === 'full' || (index === reload.index && reload.waitingOld === undefined);
    }
    return slot.recycle;
  }

  function progressReload(): void {
    if (reload === undefined) return;
    const fresh = (w: Worker | undefined) => w !== undefined && w.ready && w.gen === gen;
    if (reload.mode === 'full') {
      if (!slots.every((s) => fresh(s.current) || fresh(s.next))) return;
      for (const s of slots) if (fresh(s.next)) swap(s);
      return finishReload();
    }
    while (reload.index < slots.length) {
      if (reload.waitingOld !== undefined) return;
      const s = slots[reload.index]!;
      if (fresh(s.next)) {
        reload.waitingOld = swap(s);
        continue;
      }
      if (!fresh(s.current)) return;
      reload.index++;
    }
    finishReload();
  }

  function maintain(): void {
    if (phase === 'stopping') {
      if (live.size === 0) finish();
      return;
    }
    progressReload();
    for (const s of slots) {
      // A ready replacement outside a reload's plan (a recycle, or the slot
      // lost its worker meanwhile) takes over at once.
      // One started early for --max-requests waits until its worker reaches the quota.
      const held = s.hold && s.current !== undefined && reload === undefined;
      if (s.next?.ready && !held && (reload === undefined || s.current === undefined || s.next.gen < gen)) swap(s);
    }
    if (reload !== undefined) progressReload();
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i]!;
      if (s.timer !== undefined) continue;
      if (s.current === undefined && s.next === undefined) spawnWorker(s, 'current');
      else if (s.current !== undefined && s.next === undefined && wantsReplacement(s, i)) spawnWorker(s, 'next');
    }
    if (phase === 'starting' && slots.every((s) => s.current?.ready)) {
      phase = 'running';
      log(`${slots.length} worker${slots.length === 1 ? '' : 's'} ready`);
      notifier.send('READY=1');
    }
  }

  /**
   * --need-app: a worker could not load the app at the first start. The
   * others would fail the same way, and restarting them forever hides a
   * broken deploy behind backoff: the master stops them and exits 1, as
   * uWSGI's need-app does. (Reloads keep the old workers serving instead.)
   */
  function needApp(w: Worker): void {
    wlog(w, `cannot load the app: ${w.failure}`);
    log('--need-app: stopping (the app fails at the first start; --no-need-app restarts such workers instead)');
    exitCode = 1;
    exitWhy = 'the app cannot be loaded';
    phase = 'stopping';
    notifier.send('STOPPING=1');
    clearInterval(touchTimer);
    clearInterval(heartbeatTimer);
    for (const slot of slots) clearTimeout(slot.timer);
    bound.close();
    for (const other of live) stopWorker(other, cfg.shutdownTimeoutMs);
  }

  function finish(): void {
    bound.close();
    if (cfg.pidfile !== undefined && cfg.vacuum) removePidfile(cfg.pidfile);
    log(`master exiting (${exitWhy ?? (exitCode === 0 ? 'all workers stopped' : 'workers killed')})`);
    process.exit(exitCode);
  }

  // ---- --stats -----------------------------------------------------------------

  const statsPoll = new StatsPoll<Worker>();
  const appGather = new MetricsGather<Worker>();

  /**
   * Asks every serving worker for fresh numbers; answers with what it has
   * after STATS_WAIT_MS. A /metrics scrape with --app-metrics also asks each
   * slot's current worker (the ones /metrics shows) for its app's registries,
   * within the same wait.
   */
  async function collectStats(metrics: boolean): Promise<StatsInput> {
    const msg: MasterMessage = { t: 'stats?' };
    const serving = [...live].filter((w) => w.ready && w.child.connected);
    const client = start.appMetrics;
    const app = metrics && client !== undefined
      ? appGather.collect(serving.filter((w) => w.slot.current === w), (w) => w.child.send({ t: 'metrics?' } satisfies MasterMessage), STATS_WAIT_MS)
      : undefined;
    const input = await statsPoll.collect(serving, (w) => w.child.send(msg), STATS_WAIT_MS, statsInput);
    return app === undefined ? input : { ...input, appMetrics: { client: client!, processes: await app } };
  }

  function statsInput(): StatsInput {
    const sources = bound.listeners.map((l, i) => ({
      // Once stopping, the master's copies are closed and their numbers may be reused.
      name: l.where.replace(/^[a-z]+:\/\//, ''), proto: l.protocol, fd: phase === 'stopping' ? undefined : l.fd,
      inherited: /^fd:/.test(parseListen(start.listen[i]!).address),
    }));
    return {
      mode: 'master', pid: process.pid, sockets: socketStats(sources), startedAt, reloads, lastReloadAt,
      workers: [...live].map((w) => ({
        id: w.slot.id, pid: w.pid, state: !w.ready ? 'starting' : w.stopping || phase === 'stopping' ? 'draining' : 'serving',
        current: w.slot.current === w, respawnCount: w.spawnNo, spawnedAt: w.spawnedAt, report: w.report,
      })),
    };
  }

  /** /health and /ready: from what the master knows now, asking no worker. */
  function health(): Health {
    const now = Date.now();
    let answering = 0;
    // A draining worker still answers (it reports while it finishes its requests).
    for (const w of live) if (w.ready && now - w.heardAt <= WORKER_SILENCE_MS) answering++;
    return { answering, state: phase === 'starting' ? 'starting' : phase === 'stopping' ? 'draining' : 'serving' };
  }

  // ---- start -----------------------------------------------------------------

  if (cfg.pidfile !== undefined) {
    try {
      writePidfile(cfg.pidfile);
    } catch (err) {
      bound.close();
      log(`--pidfile ${cfg.pidfile}: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    }
  }
  start.afterBind?.();
  start.stats?.provide(collectStats);
  start.stats?.provideHealth(health);
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1'] as const) process.on(s, () => enqueue({ kind: 'signal', signal: s }));
  if (cfg.touchReload !== undefined) {
    const file = cfg.touchReload;
    let last = fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs;
    touchTimer = setInterval(() => {
      const now = fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs;
      if (now !== undefined && now !== last) enqueue({ kind: 'touched', file });
      last = now;
    }, TOUCH_INTERVAL_MS);
  }
  log(`master pid ${process.pid}: ${cfg.processes} worker${cfg.processes === 1 ? '' : 's'}` +
    `${cfg.maxRequests > 0 ? `, --max-requests ${cfg.maxRequests}` : ''}` +
    `${cfg.maxRss > 0 ? `, --reload-on-rss ${cfg.maxRss / 1048576}` : ''}, reload mode ${cfg.reloadMode}`);
  if (cfg.heartbeatTimeoutMs > 0) {
    // The workers' own watchdog cannot act when they are stopped (SIGSTOP, a
    // debugger) and only kills a blocked loop from inside: the master sees
    // both as a missing heartbeat.
    heartbeatTimer = setInterval(() => {
      const now = Date.now();
      for (const w of live) {
        if (!w.ready || w.stopping || now - w.beatAt <= cfg.heartbeatTimeoutMs) continue;
        wlog(w, `no heartbeat for ${seconds(now - w.beatAt)} (stopped or blocked; --harakiri and a margin: ${seconds(cfg.heartbeatTimeoutMs)}): killing it`);
        w.beatAt = Number.POSITIVE_INFINITY;  // once: its exit restarts the slot, as a death does
        w.child.kill('SIGKILL');
      }
    }, heartbeatEvery(cfg.heartbeatTimeoutMs));
  }
  maintain();
}

/** How often a worker says it is alive: four times per --harakiri, at most once a second. */
function heartbeatEvery(timeoutMs: number): number {
  return Math.max(50, Math.min(1000, Math.floor(timeoutMs / 4)));
}

function writePidfile(file: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${process.pid}\n`);
  fs.renameSync(tmp, file);
}

/** Removes the pidfile if it is still ours. */
function removePidfile(file: string): void {
  try {
    if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.unlinkSync(file);
  } catch {
    // Gone already, or unreadable: not ours to fix.
  }
}
