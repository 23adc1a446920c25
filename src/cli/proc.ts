// What `tsgi status|reload|stop` learn about a process from /proc (Linux):
// that it is alive, that it is tsgi, its children (the master's workers),
// their resident memory and when they started. Elsewhere each answers
// "unknown" (undefined) and the commands say what they could not read.
import * as fs from 'node:fs';
import * as path from 'node:path';

export function isAlive(pid: number): 'alive' | 'gone' | 'not-permitted' {
  try {
    process.kill(pid, 0);
    return 'alive';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? 'not-permitted' : 'gone';
  }
}

/** The command line's arguments; undefined without /proc. */
export function cmdline(pid: number): string[] | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return undefined;
  }
}

/** Whether a command line runs tsgi: `node …/bin/tsgi …`, `…/.bin/tsgi …` (a path that merely contains "tsgi" is not enough). */
export function runsTsgi(args: readonly string[]): boolean {
  return args.slice(0, 3).some((a) => path.basename(a) === 'tsgi');
}

/** The pids whose parent is `pid`, in order; undefined without /proc. */
export function children(pid: number): number[] | undefined {
  let tasks: string[];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const out: number[] = [];
  for (const t of tasks) {
    try {
      for (const c of fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ')) if (c.trim() !== '') out.push(Number(c));
    } catch {
      return undefined;  // a kernel without CONFIG_PROC_CHILDREN
    }
  }
  return out.sort((a, b) => a - b);
}

/** Resident set, bytes. */
export function rssOf(pid: number): number | undefined {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** When the process started, milliseconds since the epoch (boot time + its start in clock ticks, USER_HZ 100). */
export function startedAt(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    const btime = Number(/^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))?.[1]);
    return Number.isFinite(ticks) && Number.isFinite(btime) ? btime * 1000 + ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}
