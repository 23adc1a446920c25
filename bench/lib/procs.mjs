// Starting and stopping the benchmark's processes: each pinned (and niced)
// by taskset/nice, started and stopped by its own PID, its output kept for
// error messages; a temp dir removed at exit. Also the pieces every script
// needs around them: tool checks, a snapshot of the tsgi build, versions,
// and the measurement loop (warm up, then runs interleaved over the targets).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuBusy, cpuSeconds } from './proc.mjs';

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
 * An nginx configuration for a benchmark: one worker in the foreground, no
 * access log, client connections kept, its pid, error log and temp files in
 * `dir` (prefixed `nginx-NAME` when a run writes several); `http` adds
 * http-level lines, `servers` is the server (and upstream) blocks.
 */
export function nginxConfig({ dir, by, name, http = '', servers }) {
  const n = name ? `nginx-${name}` : 'nginx';
  return `# generated by ${by}
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
daemon off;
master_process on;
pid ${dir}/${n}.pid;
error_log ${dir}/${n}-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 75s;${http}
  client_body_temp_path ${dir}/${n}-body;
  proxy_temp_path ${dir}/${n}-proxy;
  fastcgi_temp_path ${dir}/${n}-fastcgi;
  uwsgi_temp_path ${dir}/${n}-uwsgi;
  scgi_temp_path ${dir}/${n}-scgi;
${servers}
}
`;
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

// ---- measuring -------------------------------------------------------------

/**
 * The measurement every runner shares. Each target is warmed up (`warmup` s
 * of `load(t, seconds)`), then measured `runs` times, interleaved over the
 * targets so that drift on a shared machine spreads over all of them. Before
 * each run: no server in `servers` may have died ({ name, child } with
 * child.exited and child.output(), as Processes.start gives), and the
 * previous run's connections get `settleMs` to close. `measure(t, run)`
 * returns the run's record, pushed to t.runs (created here); `report(t, r)`
 * is its log line after "TAG: run N/RUNS ".
 */
export async function interleavedRuns({ tag, targets, label = (t) => t.name, runs, warmup = 0, load, servers = [],
  measure, report, log, die, settleMs = 200 }) {
  for (const t of targets) t.runs ??= [];
  if (warmup > 0) {
    for (const t of targets) {
      log(`${tag}: warming up ${label(t)} (${warmup}s)`);
      await load(t, warmup);
    }
  }
  for (let run = 1; run <= runs; run++) {
    for (const t of targets) {
      for (const s of servers) if (s.child.exited) die(`${s.name} died:\n${s.child.output()}`);
      await sleep(settleMs);
      const r = await measure(t, run);
      t.runs.push(r);
      if (report) log(`${tag}: run ${run}/${runs} ${report(t, r)}`);
    }
  }
}

/**
 * One load of `seconds` (`load()` resolves to the load generator's result:
 * requests, clientCpu, connects…) and what it cost: CPU of the server's
 * processes and of an nginx in front, per request and per wall second, the
 * client's CPU, and what else ran on the server's and the client's CPUs
 * (/proc/stat is tick-sampled: a few % of slack; nginx's time on either CPU
 * is not counted as "others").
 */
export async function costOfLoad({ load, seconds, serverPids, nginxPids = [], cpus }) {
  const t0 = process.hrtime.bigint();
  const cpu0 = cpuSeconds(serverPids), ngx0 = cpuSeconds(nginxPids);
  const sb0 = cpuBusy(cpus.server), cb0 = cpuBusy(cpus.client);
  const w = await load();
  const cpu1 = cpuSeconds(serverPids), ngx1 = cpuSeconds(nginxPids);
  const sb1 = cpuBusy(cpus.server), cb1 = cpuBusy(cpus.client);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpu1 - cpu0, ngx = ngx1 - ngx0;
  const ngxOnServer = cpus.nginx === cpus.server ? ngx : 0;
  const ngxOnClient = cpus.nginx === cpus.client ? ngx : 0;
  return {
    ...w, wall, cpuSeconds: cpu, nginxSeconds: ngx,
    cpuUsPerReq: (cpu * 1e6) / w.requests, nginxUsPerReq: (ngx * 1e6) / w.requests,
    clientUsPerReq: (w.clientCpu * 1e6) / w.requests,
    ...(w.connects !== undefined ? { connectsPerReq: w.connects / w.requests } : {}),
    cpuUse: cpu / wall, nginxUse: ngx / wall, clientUse: w.clientCpu / seconds,
    others: Math.max(0, (sb1.busy - sb0.busy - cpu - ngxOnServer) / wall),
    steal: (sb1.steal - sb0.steal) / wall,
    clientOthers: Math.max(0, (cb1.busy - cb0.busy - w.clientCpu - ngxOnClient) / wall),
  };
}
