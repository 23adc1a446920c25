// `tsgi bench --compare A.json B.json`: two saved runs (`tsgi bench --json >
// A.json`) side by side, each figure of B as a ratio of A's, and what makes
// them not like for like (another target shape, connections, threads ...).
import * as fs from 'node:fs';
import type { BenchResult } from './bench.js';

function load(file: string): BenchResult {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`--compare ${file}: ${(err as Error).message}`);
  }
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch {
    throw new Error(`--compare ${file}: not JSON (save a run with tsgi bench --json ... > ${file})`);
  }
  if (typeof r !== 'object' || r === null || (r as { tool?: unknown }).tool !== 'tsgi-bench' ||
    typeof (r as BenchResult).rps !== 'number' || typeof (r as BenchResult).latency_us !== 'object') {
    throw new Error(`--compare ${file}: not the JSON of tsgi bench --json`);
  }
  return r as BenchResult;
}

const fmt = (x: number, d: number): string => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

/** B / A as "1.23x"; "-" when A is 0. */
function ratio(a: number, b: number): string {
  if (a === 0) return b === 0 ? '1.00x' : '-';
  return `${fmt(b / a, 2)}x`;
}

/** The comparison table, or throws with a message naming the file at fault. */
export function compareRuns(fileA: string, fileB: string): string {
  const a = load(fileA);
  const b = load(fileB);
  const setup = (r: BenchResult): Record<string, string> => ({
    protocol: r.protocol, target: r.target, method: r.method, path: r.path, connections: String(r.connections),
    threads: String(r.threads), mode: r.mode === 'open' ? `open loop ${r.rate}/s` : 'closed loop',
    pipeline: String((r as BenchResult & { pipeline?: number }).pipeline ?? 1),
  });
  const sa = setup(a);
  const sb = setup(b);
  const differ = Object.keys(sa).filter((k) => sa[k] !== sb[k] && k !== 'target').map((k) => `${k} ${sa[k]} vs ${sb[k]}`);
  const cpu = (r: BenchResult): number => r.client_cpu.us_per_request;
  const rows: Array<[string, number, number, number, string]> = [
    ['requests/s', a.rps, b.rps, 1, ''],
    ['latency p50', a.latency_us.p50 / 1000, b.latency_us.p50 / 1000, 3, ' ms'],
    ['latency p90', a.latency_us.p90 / 1000, b.latency_us.p90 / 1000, 3, ' ms'],
    ['latency p99', a.latency_us.p99 / 1000, b.latency_us.p99 / 1000, 3, ' ms'],
    ['latency p99.9', a.latency_us.p99_9 / 1000, b.latency_us.p99_9 / 1000, 3, ' ms'],
    ['latency max', a.latency_us.max / 1000, b.latency_us.max / 1000, 3, ' ms'],
    ['errors', a.errors.total, b.errors.total, 0, ''],
    ['bytes in/s', a.elapsed_s > 0 ? a.bytes_in / a.elapsed_s : 0, b.elapsed_s > 0 ? b.bytes_in / b.elapsed_s : 0, 0, ''],
    ['client CPU/request', cpu(a), cpu(b), 2, ' µs'],
  ];
  const cells = rows.map(([name, x, y, d, unit]) => [name, `${fmt(x, d)}${unit}`, `${fmt(y, d)}${unit}`, ratio(x, y)]);
  const head = ['', 'A', 'B', 'B/A'];
  const all = [head, ...cells];
  const widths = head.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const line = (r: string[]): string => r.map((cell, c) => c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)).join('   ');
  const describe = (r: BenchResult): string => `${r.protocol} ${r.target} ${r.method} ${r.path}, ${r.connections} connections, ` +
    `${r.threads} thread${r.threads === 1 ? '' : 's'}, ${fmt(r.requests, 0)} requests in ${fmt(r.elapsed_s, 2)} s`;
  return [
    `A: ${fileA}: ${describe(a)}`,
    `B: ${fileB}: ${describe(b)}`,
    ...(differ.length > 0 ? [`not like for like: ${differ.join(', ')}`] : []),
    '',
    ...all.map((r) => `  ${line(r)}`),
    '',
  ].join('\n');
}
