// The pieces of the cluster drills: a tsgi host in a namespace, run with the
// `tsgi-host` command of docs/cluster.md; HAProxy with the doc's config and
// its admin socket; and steady load from `tsgi bench --rate` on several
// routes at once, each reporting its requests and failures.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { ROOT, delay } from '../helpers/index.js';
import { fillSnippet, startWithRetry, type Peer } from '../helpers/peers.js';
import { TSGI_BIN, cleanEnv } from '../helpers/tsgi-process.js';
import type { Lab, LabHost } from './lab.js';

export const CLUSTER_DOC = path.join(ROOT, 'docs', 'cluster.md');
/** The doc's three hosts, in order. */
export const DOC_HOSTS = ['10.0.0.11', '10.0.0.12', '10.0.0.13'];

/** The doc's host addresses replaced by the lab's (longest first: 10.0.0.11 before 10.0.0.1). */
export function hostAddresses(lab: Lab): Record<string, string> {
  return Object.fromEntries(DOC_HOSTS.map((a, i) => [a, lab.hosts[i]!.address]));
}

/** Replies "host N vV" (V: the version it was started as); waits 150 ms a request while the file SLOW_FLAG exists (the slow-host drill). */
export function writeClusterApp(dir: string): string {
  const file = path.join(dir, 'cluster-app.js');
  fs.writeFileSync(file, `
const fs = require('node:fs');
const flag = process.env.SLOW_FLAG;
module.exports = async () => {
  if (fs.existsSync(flag)) await new Promise((r) => setTimeout(r, 150));
  return { headers: { 'content-type': 'text/plain' }, body: 'host ' + process.env.HOST_NAME + ' v' + process.env.APP_VERSION + '\\n' };
};
`);
  return file;
}

/** One GET on a new connection (no pooled sockets left behind). */
export function getText(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no reply within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** One tsgi host: docs/cluster.md's command in its namespace, one worker. */
export class Host {
  child: ChildProcess | undefined;
  private err = '';
  private pids = new Set<number>();
  private exited: Promise<void> = Promise.resolve();
  /** The app version the next start() runs (a rolling deploy starts the next one). */
  version = 1;
  readonly slowFlag: string;

  constructor(readonly lab: Lab, readonly h: LabHost, readonly dir: string, readonly app: string) {
    this.slowFlag = path.join(dir, `slow-${h.index}`);
  }

  /** The doc's command with this host's address, the lab's subnet, one worker, the test's app. */
  args(): string[] {
    const text = fillSnippet('tsgi-host', {
      '10.0.0.11': this.h.address, '10.0.0.0/24': this.lab.subnet, '--processes auto': '--processes 1', 'app.js': this.app,
    }, CLUSTER_DOC);
    const words = text.replace(/\\\n/g, ' ').trim().split(/\s+/);
    if (words[0] !== 'tsgi') throw new Error(`docs/cluster.md tsgi-host: not a tsgi command: ${text}`);
    return words.slice(1);
  }

  start(): void {
    this.err = '';
    const argv = this.lab.exec(this.h, [process.execPath, TSGI_BIN, ...this.args()]);
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'],
      env: cleanEnv({ HOST_NAME: String(this.h.index), SLOW_FLAG: this.slowFlag, APP_VERSION: String(this.version) }),
    });
    this.child = child;
    this.pids.add(child.pid!);
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      this.err += c;
      for (const m of c.matchAll(/\(pid (\d+)\)/g)) this.pids.add(Number(m[1]));
    });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  log(): string {
    return `--- host ${this.h.index} (${this.h.address}) ---\n${this.err}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Until /ready says 200 (asked from the root namespace, over the bridge). */
  async ready(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`host ${this.h.index} exited while starting\n${this.log()}`);
      const r = await getText(`${this.stats}/ready`, 1_000).catch(() => undefined);
      if (r?.status === 200) return;
      if (Date.now() > deadline) throw new Error(`host ${this.h.index} not ready within ${timeoutMs} ms\n${this.log()}`);
      await delay(50);
    }
  }

  /** The stats listener (the doc's port 9191), reached from the root namespace over the bridge. */
  get stats(): string {
    return `http://${this.h.address}:9191`;
  }

  /** Requests its workers finished (the stats JSON). */
  async requests(): Promise<number> {
    const r = await getText(`${this.stats}/stats`, 2_000);
    const doc = JSON.parse(r.body) as { workers: Array<{ requests: number }> };
    return doc.workers.reduce((n, w) => n + w.requests, 0);
  }

  /** How many "reload done" lines so far. */
  reloads(): number {
    return this.err.split('\n').filter((l) => /^tsgi: reload done/.test(l)).length;
  }

  signal(sig: NodeJS.Signals): void {
    this.child!.kill(sig);
  }

  async waitExit(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => { timer = setTimeout(() => r('late'), timeoutMs); });
    const how = await Promise.race([this.exited.then(() => 'exited' as const), late]);
    clearTimeout(timer);
    if (how === 'late') throw new Error(`host ${this.h.index} did not exit within ${timeoutMs} ms\n${this.log()}`);
  }

  /** SIGKILL to the master and every worker it named: the host dies at once. */
  async kill(): Promise<void> {
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    this.pids.clear();
    await this.exited;
  }
}

/** HAProxy in the foreground with docs/cluster.md's config (the lab's addresses, a port and socket of the test's). */
export async function startHaproxy(dir: string, lab: Lab, port: () => Promise<number>): Promise<{ peer: Peer; port: number; admin: string }> {
  const admin = path.join(dir, 'haproxy-admin.sock');
  let chosen = 0;
  const peer = await startWithRetry(async () => {
    chosen = await port();
    const conf = path.join(dir, 'haproxy.cfg');
    fs.writeFileSync(conf, fillSnippet('haproxy-cluster', {
      ...hostAddresses(lab), 'bind :80': `bind 127.0.0.1:${chosen}`, '/run/haproxy/admin.sock': admin,
    }, CLUSTER_DOC));
    return {
      name: 'haproxy', dir, command: 'haproxy', args: ['-db', '-f', conf], errorLog: path.join(dir, 'haproxy.log'),
      configFile: conf, ports: [chosen], stopSignal: 'SIGTERM', hasChildren: false,
    };
  });
  return { peer, port: chosen, admin };
}

/** `show stat` on HAProxy's admin socket: each server's status (UP, DOWN, ...) in a backend, by name. */
export function haproxyStatus(admin: string, backend: string): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const s = net.connect(admin);
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => { out += c; });
    s.on('error', reject);
    s.on('end', () => {
      const lines = out.split('\n');
      const head = lines[0]!.replace(/^# /, '').split(',');
      const [px, sv, st] = ['pxname', 'svname', 'status'].map((k) => head.indexOf(k));
      const res: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const f = l.split(',');
        if (f[px!] === backend && f[sv!] !== 'BACKEND' && f[sv!] !== 'FRONTEND' && f[sv!] !== undefined) res[f[sv!]!] = f[st!]!;
      }
      resolve(res);
    });
    s.end('show stat\n');
  });
}

/** Waits until HAProxy's status for `server` in `backend` starts with `want` (UP, DOWN); bounded. */
export async function haproxyUntil(admin: string, backend: string, server: string, want: 'UP' | 'DOWN', timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    last = (await haproxyStatus(admin, backend))[server] ?? '(none)';
    if (last.startsWith(want)) return;
    if (Date.now() > deadline) throw new Error(`HAProxy: ${backend}/${server} is ${last}, not ${want}, after ${timeoutMs} ms`);
    await delay(100);
  }
}

export interface RouteResult {
  route: string;
  requests: number;
  failed: number;
  errors: Record<string, number>;
}

/** `tsgi bench --rate` on each route until stop(): an open loop, so a stalled host does not slow the offered load. */
export function startLoad(routes: Array<{ name: string; url: string }>, rate = 100): { stop(): Promise<RouteResult[]> } {
  const runs = routes.map((r) => {
    const child = spawn(process.execPath, [TSGI_BIN, 'bench', '--json', '--rate', String(rate), '-c', '8', '--timeout', '5s',
      '-d', '300s', r.url], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c; });
    const done = new Promise<RouteResult>((resolve, reject) => {
      child.once('exit', (code) => {
        try {
          const j = JSON.parse(out) as { requests: number; errors: Record<string, number> & { total: number } };
          const errors = Object.fromEntries(Object.entries(j.errors).filter(([k, v]) => k !== 'total' && v > 0));
          resolve({ route: r.name, requests: j.requests, failed: j.errors.total, errors });
        } catch {
          reject(new Error(`tsgi bench ${r.url} exited (${code}) without its JSON:\n${out}\n${err}`));
        }
      });
    });
    return { child, done };
  });
  return {
    async stop() {
      for (const r of runs) r.child.kill('SIGINT');
      const killer = setTimeout(() => { for (const r of runs) r.child.kill('SIGKILL'); }, 10_000);
      try {
        return await Promise.all(runs.map((r) => r.done));
      } finally {
        clearTimeout(killer);
      }
    },
  };
}

/** "nginx-http 812 requests, 0 failed; ..." */
export function report(results: RouteResult[]): string {
  return results.map((r) => `${r.route} ${r.requests} requests, ${r.failed} failed` +
    `${r.failed > 0 ? ` (${Object.entries(r.errors).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}`).join('; ');
}
