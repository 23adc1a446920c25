// For the master tests: start `tsgi --processes N`, read its log (worker pids,
// reloads), drive wrk against it, and clean up every process by its own pid.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT, delay, rawRequest, tempDir } from '../helpers/index.js';

export const BIN = path.join(ROOT, 'bin', 'tsgi');

export const dir = tempDir('tsgi-master-');

/** Writes an app module into the shared temp dir; returns its path. */
export function writeApp(name: string, source: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, source);
  return file;
}

/** Replies with the worker's pid; /slow takes 1.5 s; /busy spins 10 ms (a busy worker does not accept). */
export const PID_APP = writeApp('pid.js', `
module.exports = async (req) => {
  if (req.PATH_INFO === '/slow') await new Promise((r) => setTimeout(r, 1500));
  if (req.PATH_INFO === '/busy') { const end = Date.now() + 10; while (Date.now() < end); }
  return { headers: { 'content-type': 'text/plain' }, body: 'pid ' + process.pid + (req.PATH_INFO === '/slow' ? ' slow done' : '') };
};
`);

export interface Exit { code: number | null; signal: NodeJS.Signals | null }

export class Master {
  readonly child: ChildProcess;
  private err = '';
  readonly exited: Promise<Exit>;
  /** Every worker pid the log has named, to be killed at cleanup if still alive. */
  private seen = new Set<number>();
  port = -1;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      this.err += c;
      for (const m of c.matchAll(/\(pid (\d+)\)/g)) this.seen.add(Number(m[1]));
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  log(): string {
    return this.err;
  }

  /** How many log lines match. */
  count(re: RegExp): number {
    return this.err.split('\n').filter((l) => re.test(l)).length;
  }

  /** Waits until `n` log lines match `re` (bounded). */
  async waitFor(re: RegExp, n = 1, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.count(re) < n) {
      if (Date.now() > deadline) assert.fail(`never saw ${n} × ${re} within ${timeoutMs} ms; log:\n${this.err}`);
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        assert.fail(`tsgi exited while waiting for ${re}; log:\n${this.err}`);
      }
      await delay(20);
    }
  }

  /** Waits for "N workers ready"; reads the port of the first TCP listener. */
  async ready(timeoutMs = 15_000): Promise<this> {
    await this.waitFor(/^tsgi: \d+ workers? ready$/, 1, timeoutMs);
    const m = /^tsgi: serving .* on http:\/\/[^ ]*:(\d+)$/m.exec(this.err);
    if (m) this.port = Number(m[1]);
    return this;
  }

  /** The pids of the workers currently serving, from the log's ready/exit/died lines. */
  workerPids(): number[] {
    const alive = new Set<number>();
    for (const line of this.err.split('\n')) {
      const m = /^tsgi: worker \d+ \(pid (\d+)\) (ready|exited|died|not ready)/.exec(line);
      if (!m) continue;
      if (m[2] === 'ready') alive.add(Number(m[1]));
      else alive.delete(Number(m[1]));
    }
    return [...alive];
  }

  signal(sig: NodeJS.Signals): void {
    process.kill(this.pid, sig);
  }

  /** Waits (bounded) for the master's exit; SIGKILLs it past the deadline and fails. */
  async waitExit(timeoutMs = 15_000): Promise<Exit> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const e = await this.exited;
    clearTimeout(timer);
    assert.notEqual(e.signal, 'SIGKILL', `the master did not exit within ${timeoutMs} ms; log:\n${this.err}`);
    return e;
  }

  /** Stops the master and any worker it started, each by its own pid. */
  async cleanup(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    for (const pid of this.seen) {
      if (pid === this.pid) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited already
      }
    }
  }
}

export interface WrkResult {
  requests: number;
  non2xx: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  /** All socket errors. */
  errors: number;
  output: string;
}

/**
 * Runs wrk: it ends by itself after `seconds`, or earlier at stop() (SIGINT,
 * after which wrk prints its summary as usual).
 */
export function wrk(url: string, opts: { seconds: number; connections?: number; threads?: number; headers?: string[] }): {
  done: Promise<WrkResult>; started: Promise<void>; stop(): void;
} {
  const args = [`-t${opts.threads ?? 1}`, `-c${opts.connections ?? 32}`, `-d${opts.seconds}s`, '--timeout', '5s'];
  for (const h of opts.headers ?? []) args.push('-H', h);
  const child = spawn('wrk', [...args, url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  const killer = setTimeout(() => child.kill('SIGKILL'), (opts.seconds + 20) * 1000);
  const done = new Promise<WrkResult>((resolve, reject) => {
    child.on('exit', (code) => {
      clearTimeout(killer);
      const requests = /(\d+) requests in/.exec(out);
      if (code !== 0 || !requests) {
        reject(new Error(`wrk failed (${code}):\n${out}`));
        return;
      }
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
      const [connect, read, write, timeout] = sock ? sock.slice(1).map(Number) as [number, number, number, number] : [0, 0, 0, 0];
      resolve({ requests: Number(requests[1]), non2xx: non2xx ? Number(non2xx[1]) : 0, connect, read, write, timeout,
        errors: connect + read + write + timeout, output: out });
    });
  });
  // wrk prints its banner once connected; a short pause lets load build up.
  const started = delay(300);
  return { done, started, stop: () => child.kill('SIGINT') };
}

/** One GET on a new connection; the reply body. */
export async function get(port: number | string, p = '/', timeoutMs = 5_000): Promise<{ status: number; body: string }> {
  const res = await rawRequest(port, `GET ${p} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`, { timeoutMs });
  const text = res.data.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  assert.ok(split > 0, `no complete response: ${JSON.stringify(text.slice(0, 200))}`);
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(text);
  assert.ok(status, `bad status line: ${text.slice(0, 80)}`);
  let body = text.slice(split + 4);
  if (/\r\ntransfer-encoding: chunked/i.test(text.slice(0, split))) {
    body = body.replace(/^[0-9a-f]+\r\n/i, '').replace(/\r\n0\r\n\r\n$/, '');
  }
  return { status: Number(status[1]), body };
}

/** A wrk run's result, in a message when a test fails. */
export function show(r: WrkResult): string {
  return `requests ${r.requests}, non-2xx ${r.non2xx}, socket errors connect ${r.connect} read ${r.read} write ${r.write} timeout ${r.timeout}\n${r.output}`;
}
