// What the benchmark scripts read from /proc: CPU time of a process tree,
// busy time of one CPU, memory. Linux only.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** Fields 3… of /proc/PID/stat (rest[0] is field 3). */
export function statFields(file) {
  const stat = readFileSync(file, 'utf8');
  // comm (field 2) may hold spaces and parens: split after the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The process and all its descendants (uWSGI or php-fpm workers, nginx's worker). */
export function processTree(pid) {
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const ppid = Number(statFields(`/proc/${name}/stat`)[4 - 3]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(name));
    } catch { /* gone */ }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}

/** CPU seconds (user + system, all threads) of these processes so far. */
export function cpuSeconds(pids) {
  let s = 0;
  for (const pid of pids) {
    try {
      const f = statFields(`/proc/${pid}/stat`);
      s += (Number(f[14 - 3]) + Number(f[15 - 3])) / CLK_TCK;
    } catch { /* exited */ }
  }
  return s;
}

/** CPU seconds of this process's reaped children (wrk, after it exits). */
export function childrenCpuSeconds() {
  const f = statFields('/proc/self/stat');
  return (Number(f[16 - 3]) + Number(f[17 - 3])) / CLK_TCK;
}

/** Busy seconds of one CPU (or all with cpu = ''), and apart from it steal. */
export function cpuBusy(cpu) {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) return { busy: NaN, steal: NaN };
  const t = line.trim().split(/\s+/).slice(1).map(Number);
  return { busy: (t[0] + t[1] + t[2] + t[5] + t[6]) / CLK_TCK, steal: (t[7] ?? 0) / CLK_TCK };
}

/** RSS and peak RSS in MB, summed over the processes. */
export function memory(pids) {
  let rss = 0, peak = 0;
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
      rss += kb('VmRSS');
      peak += kb('VmHWM');
    } catch { /* gone */ }
  }
  return { rssMB: rss / 1024, peakMB: peak / 1024 };
}
