// One `tsgi` process (no master) for tests: started from bin/tsgi, its
// stderr collected, stopped by its own pid.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { ROOT, delay } from './index.js';

export const TSGI_BIN = path.join(ROOT, 'bin', 'tsgi');

/** A copy of the environment without TSGI_* options (the test runner's own may leak in). */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TSGI_') || k === 'TSGI_ADDON') env[k] = v;
  return { ...env, ...extra };
}

/** Runs tsgi to completion (--print-config, usage errors). */
export function runTsgi(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [TSGI_BIN, ...args], { cwd: opts.cwd ?? ROOT, env: cleanEnv(opts.env), encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export class TsgiProcess {
  readonly child: ChildProcess;
  private err = '';
  private out = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  port = -1;

  constructor(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}) {
    this.child = spawn(process.execPath, [TSGI_BIN, ...args], { cwd: opts.cwd ?? ROOT, env: cleanEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stderr!.setEncoding('utf8').on('data', (c: string) => { this.err += c; });
    this.child.stdout!.setEncoding('utf8').on('data', (c: string) => { this.out += c; });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  log(): string {
    return this.err;
  }

  stdout(): string {
    return this.out;
  }

  async waitFor(re: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.err);
      if (m) return m;
      if (Date.now() > deadline) assert.fail(`never saw ${re} within ${timeoutMs} ms; log:\n${this.err}`);
      if (this.child.exitCode !== null || this.child.signalCode !== null) assert.fail(`tsgi exited while waiting for ${re}; log:\n${this.err}`);
      await delay(20);
    }
  }

  /** Waits for the first "serving ... on http://host:port" line (single process or master). */
  async ready(timeoutMs = 10_000): Promise<this> {
    const m = await this.waitFor(/^tsgi: serving .* on http:\/\/[^ ]*:(\d+)$/m, timeoutMs);
    this.port = Number(m[1]);
    return this;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await this.exited;
      clearTimeout(timer);
    }
  }
}
