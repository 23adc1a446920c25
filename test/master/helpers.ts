// For the master tests: start `tsgi --processes N`, read its log (worker pids,
// reloads), drive wrk against it, and clean up every process by its own pid.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { delay, httpGet, tempDir } from '../helpers/index.js';
import { TsgiProcess, TSGI_BIN, type Exit } from '../helpers/tsgi-process.js';

export const BIN = TSGI_BIN;

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

export type { Exit };

/** `tsgi --processes N`: a TsgiProcess that also knows its workers' pids. */
export class Master extends TsgiProcess {
  /** Every worker pid the log has named, to be killed at cleanup if still alive. */
  private seen = new Set<number>();

  protected override onLog(chunk: string): void {
    for (const m of chunk.matchAll(/\(pid (\d+)\)/g)) this.seen.add(Number(m[1]));
  }

  /** Waits for "N workers ready"; reads the port of the first TCP listener. */
  override async ready(timeoutMs = 15_000): Promise<this> {
    await this.waitFor(/^tsgi: \d+ workers? ready$/, 1, timeoutMs);
    const m = /^tsgi: serving .* on http:\/\/[^ ]*:(\d+)$/m.exec(this.log());
    if (m) this.port = Number(m[1]);
    return this;
  }

  /** The pids of the workers currently serving, from the log's ready/exit/died lines. */
  workerPids(): number[] {
    const alive = new Set<number>();
    for (const line of this.log().split('\n')) {
      const m = /^tsgi: worker \d+ \(pid (\d+)\) (ready|exited|died|not ready)/.exec(line);
      if (!m) continue;
      if (m[2] === 'ready') alive.add(Number(m[1]));
      else alive.delete(Number(m[1]));
    }
    return [...alive];
  }

  /** Stops the master and any worker it started, each by its own pid. */
  async cleanup(): Promise<void> {
    if (this.running) {
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
export function get(port: number | string, p = '/', timeoutMs = 5_000): Promise<{ status: number; body: string }> {
  return httpGet(port, p, { timeoutMs });
}

/** A wrk run's result, in a message when a test fails. */
export function show(r: WrkResult): string {
  return `requests ${r.requests}, non-2xx ${r.non2xx}, socket errors connect ${r.connect} read ${r.read} write ${r.write} timeout ${r.timeout}\n${r.output}`;
}

/**
 * A systemd notify socket for the tests (python3 -c NOTIFY_RECEIVER PATH):
 * prints "bound", then each datagram on a line, newlines as spaces; exits
 * after 30 s of silence. The test kills it when done.
 */
export const NOTIFY_RECEIVER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
print("bound", flush=True)
try:
    while True:
        print(s.recv(4096).decode().replace("\\n", " "), flush=True)
except socket.timeout:
    pass
`;
