// `tsgi top --stats ADDR`: a live view of the stats (uwsgitop, pm2 monit):
// one line per worker with its requests per second, mean latency over the
// last interval, memory, heap, event-loop utilization and lag (--stats'
// runtime figures) and running requests, then the oldest running requests. Rates come from two documents in a row (the same worker pid in
// both). q or Ctrl-C quits; an unreachable server is shown and asked again.
import { fetchStats } from '../stats/client.js';
import type { StatsDoc, WorkerDoc } from '../stats/render.js';
import { duration, eachOption, megabytes, table } from './control.js';

const HELP = `usage: tsgi top --stats ADDR [--interval S] [--iterations N]

A live view of a tsgi's --stats ADDR: per worker requests/s, mean latency
over the last interval, memory, running requests. q or Ctrl-C quits.

  --interval S    seconds between refreshes (default 1)
  --iterations N  stop after N refreshes (default: until q)
`;

interface TopArgs { stats: string; intervalMs: number; iterations: number }

function parseTopArgs(args: readonly string[]): TopArgs {
  let stats: string | undefined;
  let intervalMs = 1000;
  let iterations = Infinity;
  eachOption(args, (m) => new Error(m), (name, value, a) => {
    if (name === '--stats') stats = value();
    else if (name === '--interval') {
      const v = value();
      if (!/^\d+(\.\d+)?$/.test(v) || Number(v) < 0.1) throw new Error(`--interval needs seconds (at least 0.1), not ${JSON.stringify(v)}`);
      intervalMs = Number(v) * 1000;
    } else if (name === '--iterations') {
      const v = value();
      if (!/^[1-9]\d*$/.test(v)) throw new Error(`--iterations needs a positive whole number, not ${JSON.stringify(v)}`);
      iterations = Number(v);
    } else throw new Error(`unknown argument ${JSON.stringify(a)}`);
  });
  if (stats === undefined) throw new Error('give the --stats ADDR of the tsgi to watch');
  return { stats, intervalMs, iterations };
}

interface Sample { doc: StatsDoc; at: number }

/** Milliseconds from seconds: 2 decimals under 10 ms (a hello world takes 0.05), 1 above. */
function ms(seconds: number): string {
  const v = seconds * 1000;
  return v.toFixed(v < 10 ? 2 : 1);
}

/** Per worker: requests/s and mean latency (ms) since the previous sample of the same pid. */
function rates(w: WorkerDoc, prev: Sample | undefined, at: number): { rps: string; latency: string } {
  const p = prev?.doc.workers.find((x) => x.pid === w.pid);
  if (prev === undefined || p === undefined) return { rps: '-', latency: w.requests > 0 ? ms(w.duration_sum / w.requests) : '-' };
  const n = w.requests - p.requests;
  const dt = (at - prev.at) / 1000;
  return {
    rps: dt > 0 ? (n / dt).toFixed(1) : '-',
    latency: n > 0 ? ms((w.duration_sum - p.duration_sum) / n) : '-',
  };
}

/** The screen for one sample: at most `rows` lines of at most `cols` characters. */
export function screen(cur: Sample, prev: Sample | undefined, cols: number, rows: number): string {
  const { doc, at } = cur;
  let total = 0;
  const body = [['WID', 'PID', 'STATUS', 'REQ/S', 'REQUESTS', 'LAT(ms)', 'RUNNING', 'EXC', 'RSS', 'HEAP', 'LOOP', 'LAG99(ms)', 'UPTIME']];
  for (const w of doc.workers) {
    const r = rates(w, prev, at);
    if (r.rps !== '-') total += Number(r.rps);
    body.push([String(w.id), String(w.pid), w.status, r.rps, String(w.requests), r.latency, String(w.in_flight),
      String(w.exceptions), megabytes(w.rss), megabytes(w.node?.heap_used),
      w.node === null || w.node === undefined ? '-' : `${Math.round(w.node.eventloop_utilization * 100)}%`,
      w.node === null || w.node === undefined ? '-' : ms(w.node.eventloop_lag_p99), duration(at - w.last_spawn * 1000)]);
  }
  const head = [
    `tsgi top - ${doc.mode} pid ${doc.pid}, up ${duration(at - doc.started_at * 1000)}, ${doc.workers.length} worker${doc.workers.length === 1 ? '' : 's'}, ` +
      `${prev === undefined ? '-' : total.toFixed(1)} req/s, load ${doc.load}, queue ${doc.listen_queue}` +
      (doc.last_reload === null ? '' : `, last reload ${duration(at - doc.last_reload * 1000)} ago`),
    '',
  ];
  const lines = [...head, ...table(body).trimEnd().split('\n')];
  const running = doc.workers.flatMap((w) => w.current_requests.map((c) => ({ w, c })))
    .sort((x, y) => y.c.running_time - x.c.running_time);
  if (running.length > 0) {
    lines.push('', 'RUNNING REQUESTS (longest first)');
    for (const { w, c } of running) lines.push(`  worker ${w.id}  ${(c.running_time / 1e6).toFixed(1)} s  ${c.method} ${c.uri}`);
  }
  lines.push('', 'q: quit');
  return lines.slice(0, rows).map((l) => l.length > cols ? l.slice(0, cols) : l).join('\n');
}

export async function top(args: readonly string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  let a: TopArgs;
  try {
    a = parseTopArgs(args);
  } catch (err) {
    process.stderr.write(`tsgi top: ${(err as Error).message}\n${HELP}`);
    process.exitCode = 2;
    return;
  }
  const tty = process.stdout.isTTY === true;
  let stopped = false;
  let wake: (() => void) | undefined;
  const quit = (): void => {
    stopped = true;
    wake?.();
  };
  if (process.stdin.isTTY) {
    process.stdin.setRawMode(true);
    process.stdin.on('data', (d: Buffer) => {
      if (d.includes(0x71) || d.includes(0x51) || d.includes(0x03)) quit();  // q, Q, Ctrl-C
    });
  }
  process.on('SIGINT', quit);
  process.on('SIGTERM', quit);
  if (tty) process.stdout.write('\x1b[?1049h\x1b[?25l');  // the alternate screen, no cursor
  let prev: Sample | undefined;
  try {
    for (let i = 0; i < a.iterations && !stopped; i++) {
      let text: string;
      try {
        const doc = await fetchStats(a.stats);
        const cur = { doc, at: Date.now() };
        text = screen(cur, prev, process.stdout.columns ?? 200, process.stdout.rows ?? 1000);
        prev = cur;
      } catch (err) {
        text = `tsgi top - ${(err as Error).message}\n(asking again every ${a.intervalMs / 1000} s; q: quit)`;
        prev = undefined;
      }
      process.stdout.write(tty ? `\x1b[H\x1b[2J${text}` : `${text}\n\n`);
      if (i + 1 < a.iterations && !stopped) {
        await new Promise<void>((r) => {
          const t = setTimeout(r, a.intervalMs);
          wake = () => { clearTimeout(t); r(); };
        });
      }
    }
  } finally {
    if (tty) process.stdout.write('\x1b[?25h\x1b[?1049l');
    if (process.stdin.isTTY) process.stdin.setRawMode(false);
    process.stdin.pause();
  }
}

export function run(args: readonly string[]): void {
  void top(args);
}
