// `tsgi status|reload|stop [--pidfile FILE | --stats ADDR]`: what pm2's
// status/reload/stop do, for a master started elsewhere (systemd, a shell).
// The master is found by its pidfile or by the pid in its stats document;
// a pid that is not tsgi's (a stale pidfile, a reused pid) is refused before
// any signal is sent. reload and stop wait until the master says (stats) or
// shows (/proc) that it is done, bounded by --timeout.
import * as fs from 'node:fs';
import { fetchStats } from '../stats/client.js';
import type { StatsDoc } from '../stats/render.js';
import { children, cmdline, isAlive, rssOf, runsTsgi, startedAt } from './proc.js';

export type Command = 'status' | 'reload' | 'stop';

interface ControlArgs {
  pidfile?: string;
  stats?: string;
  timeoutMs: number;
  json: boolean;
}

const HELP = `usage: tsgi status|reload|stop [--pidfile FILE] [--stats ADDR] [--timeout S] [--json]

  status   the master's pid, uptime, last reload and each worker's pid, state,
           requests, memory and uptime (requests and reloads need --stats)
  reload   SIGHUP to the master, then wait until the new workers serve
  stop     SIGTERM to the master, then wait until it has exited

  --pidfile FILE  the master's --pidfile
  --stats ADDR    the master's --stats address (also gives its pid)
  --timeout S     how long reload and stop wait (default 60)
  --json          status: the stats document as JSON (needs --stats)
`;

class UsageError extends Error {}

/**
 * A subcommand's arguments in order, `--name value` or `--name=value`: each
 * to `on` with its name (the whole argument when not an option) and value(),
 * which takes the option's value or throws fail("--name needs a value").
 */
export function eachOption(args: readonly string[], fail: (message: string) => Error,
  on: (name: string, value: () => string, arg: string) => void): void {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf('=');
    const inline = a.startsWith('--') && eq > 0;
    const name = inline ? a.slice(0, eq) : a;
    on(name, () => {
      const v = inline ? a.slice(eq + 1) : args[++i];
      if (v === undefined || v === '') throw fail(`${name} needs a value`);
      return v;
    }, a);
  }
}

export function parseControlArgs(args: readonly string[]): ControlArgs {
  const out: ControlArgs = { timeoutMs: 60_000, json: false };
  eachOption(args, (m) => new UsageError(m), (name, value, a) => {
    if (name === '--pidfile') out.pidfile = value();
    else if (name === '--stats') out.stats = value();
    else if (name === '--json') out.json = true;
    else if (name === '--timeout') {
      const v = value();
      if (!/^\d+(\.\d+)?$/.test(v) || Number(v) <= 0) throw new UsageError(`--timeout needs a number of seconds, not ${JSON.stringify(v)}`);
      out.timeoutMs = Number(v) * 1000;
    } else throw new UsageError(`unknown argument ${JSON.stringify(a)}`);
  });
  if (out.pidfile === undefined && out.stats === undefined) {
    throw new UsageError('give the master\'s --pidfile FILE or its --stats ADDR');
  }
  if (out.json && out.stats === undefined) throw new UsageError('--json needs --stats ADDR (the JSON is the stats document)');
  return out;
}

function readPidfile(file: string): number {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`--pidfile ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (is tsgi running with --pidfile?)' : (err as Error).message}`);
  }
  if (!/^\s*\d+\s*$/.test(text)) throw new Error(`--pidfile ${file}: not a pid: ${JSON.stringify(text.slice(0, 40))}`);
  return Number(text);
}

/** The master's pid, checked: alive, signalable, running tsgi. */
function masterPid(a: ControlArgs, doc: StatsDoc | undefined): number {
  const pid = a.pidfile !== undefined ? readPidfile(a.pidfile) : doc!.pid;
  const from = a.pidfile !== undefined ? `--pidfile ${a.pidfile}` : `--stats ${a.stats}`;
  if (doc !== undefined && doc.pid !== pid) throw new Error(`${from} names pid ${pid}, but --stats ${a.stats} is served by pid ${doc.pid}`);
  const state = isAlive(pid);
  if (state === 'gone') throw new Error(`${from}: no process ${pid} (tsgi is not running; a stale pidfile?)`);
  if (state === 'not-permitted') throw new Error(`${from}: pid ${pid} belongs to another user; run this as the user tsgi runs as (or root)`);
  const cmd = cmdline(pid);
  if (cmd !== undefined && !runsTsgi(cmd)) {
    throw new Error(`${from}: pid ${pid} is not tsgi (it runs ${JSON.stringify(cmd.join(' ').slice(0, 80))}); a stale pidfile? nothing was sent`);
  }
  return pid;
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor(s / 3600) % 24).padStart(2, '0')}h`;
}

export function megabytes(bytes: number | undefined): string {
  return bytes === undefined ? '-' : `${(bytes / 1048576).toFixed(1)} MB`;
}

/** Rows as left-aligned columns, two spaces apart. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => c === r.length - 1 ? cell : cell.padEnd(widths[c]!)).join('  ')).join('\n') + '\n';
}

function statusText(pid: number, doc: StatsDoc | undefined, now: number): string {
  if (doc !== undefined) {
    const lines = [`tsgi ${doc.mode === 'master' ? 'master' : 'process'} pid ${pid}, up ${duration(now - doc.started_at * 1000)}, ` +
      `${doc.workers.length} worker${doc.workers.length === 1 ? '' : 's'}, ` +
      (doc.last_reload === null ? 'no reload yet' : `last reload ${duration(now - doc.last_reload * 1000)} ago (${doc.reloads} in all)`)];
    for (const s of doc.sockets) lines.push(`listening on ${s.name} (${s.proto})${s.queue !== null ? `, queue ${s.queue}/${s.max_queue}` : ''}`);
    const rows = [['WORKER', 'PID', 'STATUS', 'REQUESTS', 'EXCEPTIONS', 'RSS', 'UPTIME']];
    for (const w of doc.workers) {
      rows.push([String(w.id), String(w.pid), w.status, String(w.requests), String(w.exceptions), megabytes(w.rss),
        duration(now - w.last_spawn * 1000)]);
    }
    return lines.join('\n') + '\n' + table(rows);
  }
  const kids = children(pid);
  const started = startedAt(pid);
  const lines = [`tsgi master pid ${pid}${started !== undefined ? `, up ${duration(now - started)}` : ''}, ` +
    (kids === undefined ? 'workers unknown (no /proc)' : `${kids.length} worker${kids.length === 1 ? '' : 's'}`) +
    ' (requests and reloads: give --stats ADDR)'];
  const rows = [['PID', 'RSS', 'UPTIME']];
  for (const k of kids ?? []) {
    const s = startedAt(k);
    rows.push([String(k), megabytes(rssOf(k)), s === undefined ? '-' : duration(now - s)]);
  }
  return lines.join('\n') + '\n' + (rows.length > 1 ? table(rows) : '');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what} after ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

async function reload(a: ControlArgs, pid: number, doc: StatsDoc | undefined): Promise<string> {
  if (doc !== undefined && doc.mode !== 'master') {
    throw new Error(`pid ${pid} is a single process (started without --processes): it has no workers to reload; nothing was sent`);
  }
  const start = Date.now();
  const before = doc === undefined ? children(pid) : undefined;
  process.kill(pid, 'SIGHUP');
  if (doc !== undefined) {
    const done = await waitFor('the reload has not finished', a.timeoutMs, async () => {
      const d = await fetchStats(a.stats!).catch(() => undefined);  // the master is busy: ask again
      return d !== undefined && d.reloads > doc.reloads ? d : undefined;
    });
    const pids = done.workers.filter((w) => w.status !== 'draining').map((w) => w.pid);
    return `tsgi: reloaded master pid ${pid} in ${((Date.now() - start) / 1000).toFixed(1)} s; workers now ${pids.join(', ')}\n`;
  }
  if (before === undefined) return `tsgi: sent SIGHUP to master pid ${pid} (give --stats ADDR to wait for the reload)\n`;
  // /proc: done when none of the workers there before is left (a worker is
  // stopped only once its replacement serves; `before` may also hold workers
  // still draining from an earlier reload, which leave by themselves).
  const now = await waitFor('the old workers are still running', a.timeoutMs, () => {
    const kids = children(pid);
    if (kids === undefined) return undefined;
    return kids.length > 0 && kids.every((k) => !before.includes(k)) ? kids : undefined;
  });
  return `tsgi: reloaded master pid ${pid} in ${((Date.now() - start) / 1000).toFixed(1)} s; workers now ${now.join(', ')}\n`;
}

async function stop(a: ControlArgs, pid: number): Promise<string> {
  const start = Date.now();
  process.kill(pid, 'SIGTERM');
  await waitFor(`pid ${pid} is still running (in-flight requests? see --shutdown-timeout)`, a.timeoutMs,
    () => isAlive(pid) === 'gone' ? true : undefined);
  return `tsgi: stopped pid ${pid} in ${((Date.now() - start) / 1000).toFixed(1)} s\n`;
}

export async function control(command: Command, args: readonly string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  let a: ControlArgs;
  try {
    a = parseControlArgs(args);
  } catch (err) {
    process.stderr.write(`tsgi ${command}: ${(err as Error).message}\n${HELP}`);
    process.exitCode = 2;
    return;
  }
  try {
    const doc = a.stats !== undefined ? await fetchStats(a.stats) : undefined;
    const pid = masterPid(a, doc);
    if (command === 'status') {
      process.stdout.write(a.json && doc !== undefined ? JSON.stringify(doc, null, 2) + '\n' : statusText(pid, doc, Date.now()));
    } else if (command === 'reload') {
      process.stdout.write(await reload(a, pid, doc));
    } else {
      process.stdout.write(await stop(a, pid));
    }
  } catch (err) {
    process.stderr.write(`tsgi ${command}: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}

export function run(command: Command, args: readonly string[]): void {
  void control(command, args);
}
