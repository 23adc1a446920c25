// Starting and stopping the benchmark's processes: each pinned (and niced)
// by taskset/nice, started and stopped by its own PID, its output kept for
// error messages; a temp dir removed at exit. Also the pieces every script
// needs around them: tool checks, a snapshot of the tsgi build, versions.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuBusy } from './proc.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function have(tool) {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** argv that pins (and optionally renices) a command. */
export const pinned = (cpu, argv, nice) => (nice === undefined ? ['taskset', ['-c', String(cpu), ...argv]]
  : ['nice', ['-n', String(nice), 'taskset', '-c', String(cpu), ...argv]]);

/** Runs a command to its end: { code, out, err }. */
export function runChild(cmd, argv, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

export function git(...a) {
  try {
    return execFileSync('git', ['-C', root, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** The first line a tool prints, whichever stream it uses (nginx -v writes to stderr). */
export function firstLine(cmd, a) {
  const r = spawnSync(cmd, a, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0].trim();
}

export function machine() {
  return {
    nproc: os.cpus().length, cpu: /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown',
    kernel: os.release(), node: process.version,
  };
}

/** CPUs' worth of other work on the whole machine over one second (busy + steal). */
export async function background() {
  const a = cpuBusy('');
  await sleep(1000);
  const b = cpuBusy('');
  return b.busy - a.busy + b.steal - a.steal;
}

/**
 * The tsgi build to run: `TSGI_ROOT`, or a copy of this checkout's dist/ and
 * build/Release/tsgi.node taken now into build-bench/<name>, so that a rebuild
 * by someone else during the run cannot change what is measured.
 */
export function tsgiSnapshot(name, env = process.env) {
  if (env.TSGI_ROOT) return path.resolve(env.TSGI_ROOT);
  const addon = path.join(root, 'build/Release/tsgi.node');
  if (!existsSync(path.join(root, 'dist/index.js')) || !existsSync(addon)) {
    throw new Error('dist/ or build/Release/tsgi.node is missing: run `npm run build:native && npm run build:ts` first');
  }
  const snap = path.join(root, 'build-bench', name);
  rmSync(snap, { recursive: true, force: true });
  cpSync(path.join(root, 'dist'), path.join(snap, 'dist'), { recursive: true });
  cpSync(addon, path.join(snap, 'build/Release/tsgi.node'));
  // tsgi bench's engine goes with it (src/native/load.ts finds it beside tsgi.node).
  const loadgen = path.join(root, 'build/Release/tsgi_loadgen.node');
  if (existsSync(loadgen)) cpSync(loadgen, path.join(snap, 'build/Release/tsgi_loadgen.node'));
  return snap;
}

/**
 * The processes one script starts. `start` spawns a pinned command and keeps
 * it; `stopAll` signals each one still running by its PID (its own stop
 * signal: uWSGI wants SIGINT) and removes the temp dir; it runs on exit and
 * on Ctrl-C too.
 */
export class Processes {
  constructor(tag, { nice, log = (m) => process.stderr.write(`${m}\n`) } = {}) {
    this.tag = tag;
    this.nice = nice;
    this.log = log;
    this.children = [];
    this.dir = mkdtempSync(path.join(os.tmpdir(), `tsgi-${tag}-`));
    process.on('SIGINT', () => { this.stopAll(); process.exit(130); });
    process.on('SIGTERM', () => { this.stopAll(); process.exit(143); });
    process.on('exit', () => this.stopAll());
  }

  /** Spawns `argv` pinned to `cpu`: a child with `.output()`, `.exited`, `.pid`. */
  start(name, argv, { cpu, env = process.env, stopSignal = 'SIGTERM', cwd = root } = {}) {
    const [cmd, a] = pinned(cpu, argv, this.nice);
    const child = spawn(cmd, a, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d) => { output = (output + d).slice(-20000); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('exit', (code, signal) => {
      if (!child.stopping) this.log(`${this.tag}: ${name} exited (${signal ?? code}) early:\n${output.slice(-2000)}`);
      child.exited = true;
    });
    child.output = () => output;
    child.stopSignal = stopSignal;
    child.label = name;
    this.children.push(child);
    return child;
  }

  /** Stops one child by its PID and waits (up to `ms`) for it to exit. */
  async stop(child, ms = 3000) {
    if (child.exited) return;
    child.stopping = true;
    try { process.kill(child.pid, child.stopSignal); } catch { /* gone */ }
    const until = Date.now() + ms;
    while (!child.exited && Date.now() < until) await sleep(20);
    if (!child.exited) try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
  }

  stopAll() {
    for (const c of this.children) {
      if (c.exited) continue;
      c.stopping = true;
      try { process.kill(c.pid, c.stopSignal); } catch { /* gone */ }
    }
    try { rmSync(this.dir, { recursive: true, force: true }); } catch { /* ignore */ }
  }
}

/**
 * A php-fpm configuration with one static child (the fair match for one
 * worker of the others) listening on `address` (`unix:/path` or host:port),
 * its pid and log files in `dir`; as root, the child runs as root.
 */
export function phpFpmConf({ dir, address, pool, by }) {
  return `; generated by ${by}
[global]
pid = ${dir}/php-fpm-${path.basename(address).replace(/\W/g, '_')}.pid
error_log = ${dir}/php-fpm.log
daemonize = no

[${pool}]
${process.getuid?.() === 0 ? 'user = root\ngroup = root' : ''}
listen = ${address.replace(/^unix:/, '')}
listen.backlog = 511
pm = static
pm.max_children = 1
pm.max_requests = 0
`;
}
