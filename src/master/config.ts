// The master's settings, checked before anything is bound.
import * as os from 'node:os';
import * as path from 'node:path';
import { TsgiError } from '../errors.js';

export type ReloadMode = 'full' | 'chain';

/** The master's settings as given: the command line's flags of the same names (--processes ...). */
export interface MasterOptions {
  processes?: string | undefined;
  reloadMode?: string | undefined;
  maxRequests?: number | undefined;
  /** MB. */
  reloadOnRss?: number | undefined;
  touchReload?: string | undefined;
  pidfile?: string | undefined;
  vacuum?: boolean | undefined;
  /** Milliseconds (--shutdown-timeout, which the workers get too). */
  shutdownTimeout?: number | undefined;
  /** Milliseconds (--drain-grace). */
  drainGrace?: number | undefined;
  /** Milliseconds (--harakiri): also how long a worker may go without a heartbeat. */
  harakiri?: number | undefined;
  /** --no-need-app: keep restarting workers that cannot load the app at first start. */
  noNeedApp?: boolean | undefined;
}

export interface MasterConfig {
  processes: number;
  reloadMode: ReloadMode;
  maxRequests: number;
  /** Bytes; 0: no limit. */
  maxRss: number;
  touchReload: string | undefined;
  pidfile: string | undefined;
  vacuum: boolean;
  shutdownTimeoutMs: number;
  /** On SIGTERM/SIGINT: /ready says 503 and the listeners keep accepting this long before the workers are stopped. */
  drainGraceMs: number;
  /** A worker silent this long (stopped, or its event loop blocked) is killed and replaced; 0: never. --harakiri plus a margin. */
  heartbeatTimeoutMs: number;
  /** A worker that cannot load the app at first start ends the master (exit 1) instead of being restarted. */
  needApp: boolean;
}

/** Flags that only a master can honour, for the "needs --processes" message. */
const MASTER_ONLY: Array<[keyof MasterOptions, string]> = [
  ['reloadMode', '--reload-mode'], ['maxRequests', '--max-requests'], ['reloadOnRss', '--reload-on-rss'],
  ['touchReload', '--touch-reload'], ['pidfile', '--pidfile'], ['vacuum', '--vacuum'], ['noNeedApp', '--no-need-app'],
];

function usage(msg: string): TsgiError {
  return new TsgiError('TSGI_ERR_CLI_USAGE', msg);
}

/** The master's settings, or undefined when --processes is not given; throws a usage error. */
export function masterConfig(o: MasterOptions): MasterConfig | undefined {
  if (o.processes === undefined) {
    const given = MASTER_ONLY.find(([key]) => o[key] !== undefined && o[key] !== false);
    if (given !== undefined) throw usage(`${given[1]} needs --processes N (a master process that manages workers)`);
    return undefined;
  }
  let processes: number;
  if (o.processes === 'auto') {
    processes = os.availableParallelism();
  } else if (/^\d+$/.test(o.processes) && Number(o.processes) >= 1 && Number(o.processes) <= 1024) {
    processes = Number(o.processes);
  } else {
    throw usage(`--processes needs a number of workers from 1 to 1024 or "auto", not "${o.processes}"`);
  }
  if (o.maxRequests === 0) throw usage('--max-requests needs at least 1');
  if (o.reloadOnRss === 0) throw usage('--reload-on-rss needs at least 1 (MB)');
  return {
    processes,
    reloadMode: (o.reloadMode ?? 'full') as ReloadMode,
    maxRequests: o.maxRequests ?? 0,
    maxRss: (o.reloadOnRss ?? 0) * 1024 * 1024,
    touchReload: o.touchReload === undefined ? undefined : path.resolve(o.touchReload),
    pidfile: o.pidfile === undefined ? undefined : path.resolve(o.pidfile),
    vacuum: o.vacuum ?? false,
    shutdownTimeoutMs: o.shutdownTimeout ?? 10_000,
    drainGraceMs: o.drainGrace ?? 0,
    // Past --harakiri, so a worker's own watchdog (which names the blocked
    // request) acts first; the master catches what it cannot (a stopped process).
    heartbeatTimeoutMs: o.harakiri === undefined || o.harakiri === 0 ? 0 : o.harakiri + Math.max(1000, o.harakiri / 2),
    needApp: o.noNeedApp !== true,
  };
}
