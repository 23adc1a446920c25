// One `tsgi` process for tests, started from bin/tsgi: its stdout and stderr
// collected, its log waited on (bounded; a crash fails the wait with the log),
// stopped by its own pid. The master tests build on it (test/master/helpers.ts).
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { ROOT, delay } from './index.js';

export const TSGI_BIN = path.join(ROOT, 'bin', 'tsgi');

/** A copy of the environment without TSGI_* options (the test runner's own may leak in). */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // PORT too: with no listener given, tsgi serves $PORT.
  for (const [k, v] of Object.entries(process.env)) if ((!k.startsWith('TSGI_') && k !== 'PORT') || k === 'TSGI_ADDON') env[k] = v;
  return { ...env, ...extra };
}

export interface TsgiOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Descriptors the child inherits as fd 3, 4, … (socket activation). */
  fds?: number[];
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs tsgi to completion, blocking (--print-config, usage errors). */
export function runTsgi(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [TSGI_BIN, ...args], { cwd: opts.cwd ?? ROOT, env: cleanEnv(opts.env), encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs tsgi to its exit without blocking the test's own loop; fails if it is still running after `timeoutMs`. */
export function runToExit(args: string[], opts: TsgiOptions & { timeoutMs?: number } = {}): Promise<Exit> {
  return new TsgiProcess(args, opts).waitExit(opts.timeoutMs ?? 10_000);
}

/** "tsgi: serving APP on WHERE" or "... on WHERE (N threads)": one line per listener. */
const SERVING = /^tsgi: serving .* on (\S+)(?: \(\d+ threads\))?$/gm;

export class TsgiProcess {
  readonly child: ChildProcess;
  readonly args: readonly string[];
  private err = '';
  private out = '';
  /** The helper had to SIGKILL the process: it did not exit in time. */
  private forced = false;
  /** Resolves at the exit, with what the process printed so far. */
  readonly exited: Promise<Exit>;
  private readonly closed: Promise<void>;
  /** The TCP port of the first serving line that names one (after start/ready). */
  port = -1;
  /** The addresses of the serving lines, in order (after start). */
  where: string[] = [];

  constructor(args: string[], opts: TsgiOptions = {}) {
    this.args = args;
    const stdio = ['ignore', 'pipe', 'pipe', ...(opts.fds ?? [])] as Array<'ignore' | 'pipe' | number>;
    this.child = spawn(process.execPath, [TSGI_BIN, ...args], { cwd: opts.cwd ?? ROOT, env: cleanEnv(opts.env), stdio });
    this.child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      this.err += c;
      this.onLog(c);
    });
    this.child.stdout!.setEncoding('utf8').on('data', (c: string) => { this.out += c; });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => resolve({ code, signal, stdout: this.out, stderr: this.err }));
    });
    this.closed = new Promise((resolve) => this.child.on('close', () => resolve()));
  }

  /**
   * Starts tsgi and waits until it printed `listeners` serving lines (default
   * one); `where` holds their addresses. A process that exits first, or is not
   * serving within `timeoutMs`, fails the call with its log (and is stopped).
   */
  static async start<T extends TsgiProcess>(this: new (args: string[], opts?: TsgiOptions) => T, args: string[],
    opts: TsgiOptions & { listeners?: number; timeoutMs?: number } = {}): Promise<T> {
    const p = new this(args, opts);
    try {
      await p.serving(opts.listeners ?? 1, opts.timeoutMs);
    } catch (err) {
      await p.stop();
      throw err;
    }
    return p;
  }

  /** For subclasses: every piece of stderr as it arrives. */
  protected onLog(_chunk: string): void {}

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Everything on stderr so far. */
  log(): string {
    return this.err;
  }

  stderr(): string {
    return this.err;
  }

  stdout(): string {
    return this.out;
  }

  /** How many stderr lines match `re`. */
  count(re: RegExp): number {
    return this.lines(re).length;
  }

  private lines(re: RegExp): RegExpMatchArray[] {
    const one = new RegExp(re.source, re.flags.replace('g', ''));
    const hits: RegExpMatchArray[] = [];
    for (const line of this.err.split('\n')) {
      const m = one.exec(line);
      if (m) hits.push(m);
    }
    return hits;
  }

  private exitText(): string {
    return `code ${this.child.exitCode ?? '-'}, signal ${this.child.signalCode ?? '-'}`;
  }

  /** Polls (bounded) until `ready()` holds; fails at the deadline or when tsgi exits first. */
  async until(ready: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      if (!this.running) assert.fail(`tsgi exited (${this.exitText()}) while waiting for ${what}; stderr:\n${this.err}`);
      if (Date.now() > deadline) assert.fail(`never saw ${what} within ${timeoutMs} ms; stderr:\n${this.err}`);
      await delay(10);
    }
  }

  /** Waits until `n` stderr lines match `re`; returns the match of the n-th. */
  async waitFor(re: RegExp, n = 1, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    await this.until(() => this.count(re) >= n, n === 1 ? String(re) : `${n} × ${re}`, timeoutMs);
    return this.lines(re)[n - 1]!;
  }

  /** Waits until stdout (or stderr) contains `text`. */
  async waitText(text: string, stream: 'stdout' | 'stderr' = 'stdout', timeoutMs = 5_000): Promise<void> {
    await this.until(() => (stream === 'stdout' ? this.out : this.err).includes(text), `"${text}" on ${stream}`, timeoutMs);
  }

  /** Waits for `listeners` serving lines; fills `where` and `port`. */
  async serving(listeners = 1, timeoutMs = 10_000): Promise<string[]> {
    const found = () => [...this.err.matchAll(SERVING)].map((m) => m[1]!);
    await this.until(() => found().length >= listeners, `${listeners} "serving" line(s)`, timeoutMs);
    this.where = found();
    const tcp = this.where.map((w) => /:(\d+)$/.exec(w)).find((m) => m !== null);
    if (tcp) this.port = Number(tcp[1]);
    return this.where;
  }

  /** Waits for the first "serving ... on http://host:port" line (single process or master). */
  async ready(timeoutMs = 10_000): Promise<this> {
    const m = await this.waitFor(/^tsgi: serving .* on http:\/\/[^ ]*:(\d+)$/, 1, timeoutMs);
    this.port = Number(m[1]);
    return this;
  }

  signal(sig: NodeJS.Signals): void {
    process.kill(this.pid, sig);
  }

  /**
   * Waits (bounded) for an exit already under way, and for the output to be
   * read to its end; past `timeoutMs` the process is SIGKILLed and the wait fails.
   */
  async waitExit(timeoutMs = 15_000): Promise<Exit> {
    const timer = setTimeout(() => {
      this.forced = true;
      this.child.kill('SIGKILL');
    }, timeoutMs);
    const e = await this.exited;
    clearTimeout(timer);
    // Workers of a master may hold the pipes a while longer: do not wait on them.
    await Promise.race([this.closed, delay(1000)]);
    assert.ok(!this.forced, `tsgi ${this.args.join(' ')} did not exit within ${timeoutMs} ms; stderr:\n${this.err}`);
    return { ...e, stdout: this.out, stderr: this.err };
  }

  /** SIGTERM, then a bounded wait for the exit, which fails when the process had to be killed. */
  async terminate(timeoutMs = 5_000): Promise<Exit> {
    if (this.running) this.child.kill('SIGTERM');
    return this.waitExit(timeoutMs);
  }

  /** For cleanup: SIGTERM, SIGKILL after `timeoutMs`; never fails. */
  async stop(timeoutMs = 5_000): Promise<Exit> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
      await this.exited;
      clearTimeout(timer);
    }
    const e = await this.exited;
    return { ...e, stdout: this.out, stderr: this.err };
  }
}

/** The one line a failed start-up or usage error prints: asserts it is alone and says "tsgi: ". */
export function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.match(lines[0]!, /^tsgi: /);
  return lines[0]!;
}
