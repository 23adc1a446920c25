// `tsgi bench` as a user runs it (node bin/tsgi bench --json ...), and the
// small pieces its tests share: a raw TCP server that answers every request
// with fixed bytes, and a child process stopped by its PID.
import * as net from 'node:net';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT } from '../helpers/index.js';

const BIN = path.join(ROOT, 'bin', 'tsgi');

export interface BenchJson {
  protocol: string;
  mode: string;
  requests: number;
  rps: number;
  elapsed_s: number;
  stopped: boolean;
  connects: number;
  bytes_in: number;
  bytes_out: number;
  errors: Record<string, number> & { total: number };
  latency_us: { count: number; min: number; p50: number; p90: number; p99: number; p99_9: number; max: number };
  per_second: Array<[number, number]>;
  client_cpu: { us_per_request: number };
}

export interface BenchRun {
  code: number | null;
  stdout: string;
  stderr: string;
  json?: BenchJson;
}

/** Runs `tsgi bench ARGS` (with --json unless `plain`) to its end. */
export function bench(args: string[], opts: { plain?: boolean; timeoutMs?: number } = {}): Promise<BenchRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'bench', ...(opts.plain ? [] : ['--json']), ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      let json: BenchJson | undefined;
      if (!opts.plain && stdout.trim() !== '') {
        try { json = JSON.parse(stdout) as BenchJson; } catch { /* reported by the caller's asserts */ }
      }
      resolve({ code, stdout, stderr, json });
    });
  });
}

/** The run's JSON, or a failure that shows what the tool printed. */
export function result(r: BenchRun): BenchJson {
  if (r.json === undefined) throw new Error(`tsgi bench printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r.json;
}

/**
 * A TCP server on loopback that reads a request (until `requestEnd` says it
 * has it all) and answers with `reply`; `close` ends the connection after
 * each reply. Nothing at all when reply is null (a server that hangs).
 */
export async function rawServer(reply: Buffer | string | null,
  opts: { close?: boolean; requestEnd?: (data: Buffer) => number } = {}): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const end = opts.requestEnd ?? ((d: Buffer) => { const i = d.indexOf('\r\n\r\n'); return i < 0 ? -1 : i + 4; });
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const n = end(buf);
        if (n < 0) return;
        buf = buf.subarray(n);
        if (reply === null) return;
        s.write(reply);
        if (opts.close) { s.end(); return; }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    stop: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

/** A FastCGI request is complete at its empty STDIN record (type 5, length 0). */
export function fcgiRequestEnd(d: Buffer): number {
  let at = 0;
  while (at + 8 <= d.length) {
    const len = d.readUInt16BE(at + 4);
    const next = at + 8 + len + d[at + 6]!;
    if (next > d.length) return -1;
    if (d[at + 1] === 5 && len === 0) return next;
    at = next;
  }
  return -1;
}

/** uwsgi and SCGI requests without a body: the whole packet, or the netstring. */
export function uwsgiRequestEnd(d: Buffer): number {
  return d.length >= 4 && d.length >= 4 + d.readUInt16LE(1) ? 4 + d.readUInt16LE(1) : -1;
}

/** FastCGI records of one reply: STDOUT (as given), empty STDOUT, END_REQUEST. */
export function fcgiReply(stdout: string, opts: { id?: number; protocolStatus?: number; version?: number } = {}): Buffer {
  const id = opts.id ?? 1;
  const rec = (type: number, content: Buffer) => {
    const h = Buffer.alloc(8);
    h[0] = opts.version ?? 1;
    h[1] = type;
    h.writeUInt16BE(id, 2);
    h.writeUInt16BE(content.length, 4);
    return Buffer.concat([h, content]);
  };
  const end = Buffer.alloc(8);
  end[4] = opts.protocolStatus ?? 0;
  return Buffer.concat([rec(6, Buffer.from(stdout)), rec(6, Buffer.alloc(0)), rec(3, end)]);
}

/** A process of ours, stopped by its PID (SIGTERM, then SIGKILL). */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 5000);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    try { process.kill(child.pid!, 'SIGTERM'); } catch { clearTimeout(timer); resolve(); }
  });
}
