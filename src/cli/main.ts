// `tsgi`: parse flags, load the app, serve it, stop gracefully on SIGTERM or
// SIGINT (never a reload; a second signal forces the exit).
import { isIP } from 'node:net';
import * as path from 'node:path';
import { TsgiError } from '../errors.js';
import { resolveApp, splitSpec, type AppType } from '../dispatch/load-app.js';
import type { FetchOptions } from '../adapters/fetch.js';
import { dispatch, type DispatchTable, type MountTable } from '../dispatch/mount.js';
import type { App } from '../tsgi/types.js';
import { serve, type ServerHandle } from '../server/serve.js';
import { versionLine } from './doctor.js';
import { helpText, parseArgs, type Route } from './flags.js';
import { activatedListeners } from './socket-activation.js';
import { binding } from '../native/load.js';
import { masterConfig, type MasterConfig, type MasterOptions } from '../master/config.js';
import { runMaster } from '../master/master.js';
import { bindForCli } from './listeners.js';
import { closingWhile, workerMode } from '../master/worker.js';
import { cgiMain } from './cgi-main.js';
import { withCgiHost } from './cgi-host.js';
import { printConfig, resolveArgs } from './config.js';
import { AccessLog, type AccessLogFormat } from '../server/access-log.js';
import { dropPrivileges, handOver, resolveIdentity, resolveOwner, type Identity } from './privileges.js';
import { AppRegistry, loadPromClient, ownMetrics, type PromClient } from '../stats/app-metrics.js';
import { MAX_CURRENT, RequestStats, bothHooks } from '../stats/counters.js';
import { parseStatsAddress, startStatsServer, type StatsAddress, type StatsServer } from '../stats/server.js';
import { socketStats } from '../stats/sockets.js';
import { parseListen } from '../server/listen.js';
import { runThreads } from './threads.js';
import { serveOptions } from './serve-options.js';
import { trustOf } from '../server/trusted-proxy.js';
import type { CliOptions } from './flags.js';
import { Lifecycles } from '../dispatch/lifecycle.js';
import { appHandlers, exitWhenDone, remaining } from '../master/exit.js';

function die(message: string, code: number): never {
  process.stderr.write(`tsgi: ${message}\n`);
  process.exit(code);
}

/** masterConfig, with a usage error ending the process as the other flags' do (exit 2). */
function masterConfigOrExit(o: MasterOptions): MasterConfig | undefined {
  try {
    return masterConfig(o);
  } catch (err) {
    die(err instanceof Error ? err.message : String(err), 2);
  }
}

export async function main(argv: readonly string[]): Promise<void> {
  let opts;
  let resolved;
  try {
    // Config file and TSGI_* variables, merged under the command line, then
    // the one flag parser checks the result.
    resolved = resolveArgs(argv, process.env);
    opts = parseArgs(resolved.argv);
  } catch (err) {
    die(err instanceof Error ? err.message : String(err), 2);
  }
  if (process.env.TSGI_WORKER === undefined) for (const w of resolved.warnings) process.stderr.write(`tsgi: ${w}\n`);
  try {
    trustOf(opts.trustedProxy);  // a usage error now, not a worker dying at each start
  } catch (err) {
    die(err instanceof Error ? err.message : String(err), 2);
  }
  const threads = opts.threads ?? 1;
  if (threads < 1 || threads > 256) die(`--threads needs a number of threads from 1 to 256, not ${threads}`, 2);
  if (threads > 1 && opts.harakiri !== undefined) {
    // The watchdog watches one event loop and, under a master, kills its
    // process: with threads it would kill N loops for one blocked thread.
    die(`--threads ${threads} does not work with --harakiri (its watchdog is per process: ` +
      'one event loop watched, the whole process killed); use --processes N instead of threads, or drop --harakiri', 2);
  }
  if (opts.needApp === true && opts.noNeedApp === true) die('--need-app and --no-need-app: give one of them', 2);
  if (opts.printConfig) {
    process.stdout.write(printConfig(resolved));
    return;
  }
  if (opts.help) {
    process.stdout.write(helpText());
    return;
  }
  if (opts.version) {
    process.stdout.write(versionLine());
    return;
  }
  if (opts.cgi) return cgiMain(argv);  // bin/tsgi normally goes there directly
  // --chdir and --env (uWSGI's): before any path is used or app code runs.
  // A worker starts in the master's directory already, with its environment.
  if (opts.chdir !== undefined && process.env.TSGI_WORKER === undefined) {
    try {
      process.chdir(opts.chdir);
    } catch (err) {
      die(`--chdir ${opts.chdir}: ${err instanceof Error ? err.message : String(err)}`, 1);
    }
  }
  for (const e of opts.env ?? []) {
    const eq = e.indexOf('=');
    if (eq <= 0) die(`--env needs NAME=VALUE, not "${e}"`, 2);
    process.env[e.slice(0, eq)] = e.slice(eq + 1);
  }
  if (opts.app === undefined && opts.routes.length === 0 && opts.cgiMap.length === 0) die('no app module given (see tsgi --help)', 2);
  const listen = [
    ...opts.http.map((a) => `http://${a}`),
    ...opts.uwsgi.map((a) => `uwsgi://${a}`),
    ...opts.scgi.map((a) => `scgi://${a}`),
    ...opts.fastcgi.map((a) => `fastcgi://${a}`),
  ];
  const worker = workerMode();  // started by a master (src/master/): serve the listeners it passed on
  if (worker !== undefined) {
    listen.splice(0, listen.length, ...worker.listen);
  } else {
    try {
      listen.push(...activatedListeners());  // systemd socket activation
    } catch (err) {
      die(err instanceof Error ? err.message : String(err), 1);
    }
  }
  let allowFrom = opts.allowFrom.length > 0 ? opts.allowFrom : undefined;
  if (listen.length === 0) {
    // Started by a web server (spawn-fcgi, lighttpd bin-path, mod_fcgid):
    // FastCGI 1.0 section 3.2 hands the listening socket over as fd 0, and
    // FCGI_WEB_SERVER_ADDRS lists the peers allowed on it.
    const fd0 = binding.listeningSocket(0);
    if (fd0 === null) {
      // Heroku, Render, Cloud Run, Fly: the platform names the port in $PORT
      // and routes to it from outside, so every interface.
      const port = portFromEnv(process.env.PORT);
      if (port === undefined) die('no listener given: add --http ADDR (or --socket, --scgi-socket, --fastcgi-socket), e.g. --http 127.0.0.1:8000', 2);
      process.stderr.write(`tsgi: no listener given: HTTP on 0.0.0.0:${port} (from $PORT)\n`);
      listen.push(`http://0.0.0.0:${port}`);
    } else {
      listen.push('fastcgi://fd:0');
      const addrs = process.env.FCGI_WEB_SERVER_ADDRS;
      if (addrs !== undefined && addrs.trim() !== '' && allowFrom === undefined) {
        allowFrom = addrs.split(',').map((a) => a.trim()).filter((a) => a !== '');
        const bad = allowFrom.find((a) => isIP(a.split('/')[0] ?? '') === 0);
        if (bad !== undefined) {
          die(`FCGI_WEB_SERVER_ADDRS has ${JSON.stringify(bad)}, not an IP address: ` +
            'it must be a comma-separated list of addresses, e.g. 127.0.0.1,10.0.0.1', 1);
        }
      }
    }
  }
  let identity: Identity | undefined;
  let socketOwner: { uid?: number; gid?: number } | undefined;
  try {
    identity = resolveIdentity(opts.uid, opts.gid);
    socketOwner = opts.chownSocket !== undefined ? resolveOwner(opts.chownSocket) : undefined;
    // Created (and handed to --uid) while still root: the workers, or this
    // process after the drop, open it as that user.
    if (opts.accessLog !== undefined && opts.accessLog !== '-' && worker === undefined) handOver(opts.accessLog, identity);
  } catch (err) {
    die(err instanceof Error ? err.message : String(err), 1);
  }
  const drop = (): void => {
    try {
      dropPrivileges(identity!);
    } catch (err) {
      die(err instanceof Error ? err.message : String(err), 1);
    }
    process.stderr.write(`tsgi: running as uid ${process.getuid!()} gid ${process.getgid!()} (${identity!.label})\n`);
  };
  const master = worker === undefined ? masterConfigOrExit(opts) : undefined;
  // --app-metrics: the app's prom-client, found now (a missing one stops the
  // start); the master needs it to merge, a process its registry to read.
  // With --threads each thread loads its own copy with its copy of the app.
  if (opts.appMetrics === true && opts.stats?.startsWith('http://') !== true) {
    die('--app-metrics adds the app\'s metrics to /metrics: it needs --stats http://ADDR', 2);
  }
  let promClient: PromClient | undefined;
  if (opts.appMetrics === true && (threads === 1 || worker === undefined)) {
    try {
      promClient = promClientOf(opts);
    } catch (err) {
      die(err instanceof Error ? err.message : String(err), 1);
    }
  }
  const appRegistry = promClient !== undefined && master === undefined && threads === 1 ? new AppRegistry(promClient) : undefined;
  // --stats: served by the master or the single process, bound before the
  // app's listeners and any privilege drop. A bad address or a failed bind
  // stops the start: never a server running without the stats it was asked for.
  let statsServer: StatsServer | undefined;
  if (opts.stats !== undefined && worker === undefined) {
    let addr: StatsAddress;
    try {
      addr = parseStatsAddress(opts.stats);
    } catch (err) {
      die(err instanceof Error ? err.message : String(err), 2);
    }
    try {
      statsServer = await startStatsServer(addr, (line) => process.stderr.write(`tsgi: ${line}\n`));
    } catch (err) {
      die(err instanceof Error ? err.message : String(err), 1);
    }
    process.stderr.write(`tsgi: stats on ${statsServer.where}\n`);
  }
  if (master !== undefined) {
    const bound = bindForCli(listen, opts);
    const label = opts.routes.length > 0
      ? `${opts.routes.length} mounted app${opts.routes.length === 1 ? '' : 's'}` : opts.app!;
    return runMaster({ bound, label, argv, listen, allowFrom, config: master,
      afterBind: identity !== undefined ? drop : undefined, stats: statsServer, appMetrics: promClient });
  }
  // --threads: each thread counts its own (src/cli/thread.ts).
  const stats = opts.stats !== undefined && threads === 1 ? new RequestStats() : undefined;
  if (worker !== undefined) allowFrom = worker.allowFrom;
  // A worker of a master that dropped privileges is that user already; it
  // checks anyway, before any app code runs.
  if (worker !== undefined && identity !== undefined) drop();

  let accessLog: AccessLog | undefined;
  if (opts.accessLog !== undefined && threads === 1) {  // --threads: each thread opens its own (and threads.ts relays SIGUSR1)
    try {
      accessLog = new AccessLog({ path: opts.accessLog, format: (opts.accessLogFormat ?? 'combined') as AccessLogFormat,
        workerId: worker?.id ?? 0 });
    } catch (err) {
      die(`--access-log ${opts.accessLog}: ${err instanceof Error ? err.message : String(err)}`, 1);
    }
    const log = accessLog;
    process.on('SIGUSR1', () => log.reopen());
  } else if (worker !== undefined) {
    process.on('SIGUSR1', () => {});  // the master forwards it; never Node's inspector
  }

  const label = opts.routes.length > 0 ? `${opts.routes.length} mounted app${opts.routes.length === 1 ? '' : 's'}`
    : opts.app ?? `CGI scripts (${opts.cgiMap.join(', ')})`;
  if (threads > 1) {
    // Each thread loads the app and serves copies of the listeners (src/cli/threads.ts).
    return runThreads({ opts, argv: resolved.argv, listen, allowFrom, threads, worker, label,
      drop: worker === undefined && identity !== undefined ? drop : undefined, stats: statsServer, appMetrics: promClient });
  }
  // Loaded, then its startup hooks awaited: no request is accepted before they finished.
  let lifecycle: Lifecycles | undefined;
  const loadApp = async (): Promise<App> => {
    const loaded = await loadCliApp(opts);
    lifecycle = loaded.lifecycle;
    await lifecycle.startup();
    return loaded.app;
  };
  // One process with --uid: bind as root, drop, then load the app, so no app
  // code runs as root. A request arriving meanwhile waits for the load.
  const late = worker === undefined && identity !== undefined;
  let app: App;
  let loadedLate: App | undefined;
  let loading: Promise<App> | undefined;
  // A worker's failure goes to its master, which logs it once for all
  // workers and, at the first start, exits (--need-app).
  const failStart = (err: unknown): Promise<never> => {
    const message = err instanceof Error ? err.message : String(err);
    if (worker !== undefined) return worker.failed(message);
    die(message, 1);
  };
  if (late) {
    app = (req) => loadedLate !== undefined ? loadedLate(req) : loading!.then((a) => a(req));
  } else {
    try {
      app = await loadApp();
    } catch (err) {
      return failStart(err);
    }
  }

  let stopping = false;
  if (worker !== undefined) app = worker.wrap(app);
  else app = closingWhile(() => stopping, app);  // --drain-grace: replies say Connection: close
  let server: ServerHandle;
  try {
    server = serve(app, serveOptions(opts, {
      listen,
      allowFrom,
      socketMode: opts.chmodSocket,
      ...(socketOwner !== undefined ? { socketOwner } : {}),
      exclusiveAccept: worker !== undefined,
      onRequestDone: bothHooks(accessLog?.hook, stats?.hook),
      harakiri: opts.harakiri,
      // Under a master a blocked worker is killed and replaced; alone, only
      // logged: killing the one process would turn a slow request into an outage.
      harakiriBlocked: worker !== undefined ? 'kill' : 'log',
      // Under a master other workers serve the same app (and, during a reload, old and new ones together).
      multiprocess: worker !== undefined,
    }));
  } catch (err) {
    die(err instanceof Error ? err.message : String(err), 1);
  }
  if (late) {
    drop();
    try {
      loading = loadApp();
      loadedLate = await loading;
    } catch (err) {
      return failStart(err);
    }
  }
  if (worker !== undefined) {
    // The worker exits once closed: the access log's queued lines go first.
    const inner = server;
    const closeAll = async (timeoutMs?: number): Promise<void> => {
      const deadline = Date.now() + (timeoutMs ?? opts.shutdownTimeout ?? 10_000);
      await inner.close(timeoutMs);
      await lifecycle?.shutdown(remaining(deadline), (line) => process.stderr.write(`tsgi: ${line}\n`));
      await accessLog?.close();
    };
    return worker.serving({
      addresses: inner.addresses, get closed() { return inner.closed; },
      stopAccepting: () => inner.stopAccepting(), close: closeAll,
    }, opts.shutdownTimeout, stats === undefined ? undefined : (draining) => stats.report(inner.running?.(MAX_CURRENT), draining, inner.upgraded),
    undefined, appRegistry !== undefined ? () => appRegistry.read() : undefined);
  }
  // The handlers go first: a supervisor may signal as soon as it reads "serving".
  const log = (line: string): void => void process.stderr.write(`tsgi: ${line}\n`);
  // /ready says 503 from the signal on; the listeners accept for
  // --drain-grace more (a load balancer's time to notice), then close.
  const graceMs = opts.drainGrace ?? 0;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log(`${signal} again, exiting now`);
      process.exit(1);
    }
    stopping = true;
    log(graceMs > 0 ? `${signal}: draining: /ready says 503, still accepting for ${graceMs / 1000} s (--drain-grace)`
      : `${signal}, finishing in-flight requests`);
    // The app's own handler for this signal runs beside this one (Node calls
    // every listener); the process then ends when it is done, not before.
    const theirs = appHandlers(signal, [stop]).length > 0;
    setTimeout(() => {
      if (graceMs > 0) log('--drain-grace over: finishing in-flight requests');
      const deadline = Date.now() + (opts.shutdownTimeout ?? 10_000);
      void server.close()
        .then(() => lifecycle?.shutdown(remaining(deadline), log))
        .then(() => accessLog?.close())
        .then(() => {
          statsServer?.close();
          exitWhenDone(0, theirs, remaining(deadline), log);
        });
    }, graceMs);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  for (const a of server.addresses) {
    // A form that can be given back: http://127.0.0.1:8000, /run/app.sock
    // (HTTP), uwsgi:///run/app.sock.
    const bare = a.address.replace(/^[a-z]+:\/\//, '');
    const where = a.port !== undefined
      ? `${a.protocol}://${a.host?.includes(':') ? `[${a.host}]` : a.host}:${a.port}`
      : a.protocol === 'http' ? bare : `${a.protocol}://${bare}`;
    process.stderr.write(`tsgi: serving ${label} on ${where}\n`);
  }


  statsServer?.provideHealth(() => ({ answering: 1, state: stopping ? 'draining' : 'serving' }));
  if (statsServer !== undefined && stats !== undefined) {
    const serving = server;
    const sources = serving.addresses.map((a) => ({
      name: a.port !== undefined ? `${a.host?.includes(':') ? `[${a.host}]` : a.host}:${a.port}` : parseListen(a.address).address,
      proto: a.protocol, fd: a.fd, inherited: /^fd:/.test(parseListen(a.address).address),
    }));
    const spawnedAt = Date.now() - Math.round(process.uptime() * 1000);
    const readOwn = appRegistry !== undefined ? ownMetrics(appRegistry, APP_READ_WAIT_MS) : undefined;
    statsServer.provide(async (metrics) => ({
      mode: 'single', pid: process.pid, sockets: socketStats(sources), startedAt: spawnedAt, reloads: 0, lastReloadAt: undefined,
      workers: [{ id: 0, pid: process.pid, state: stopping ? 'draining' : 'serving', current: true, respawnCount: 1, spawnedAt,
        report: stats.report(serving.running?.(MAX_CURRENT), stopping, serving.upgraded) }],
      ...(metrics && appRegistry !== undefined
        ? { appMetrics: { client: promClient!, processes: [await readOwn!()] } } : {}),
    }));
  }
}

/** --app-metrics alone: how long a scrape waits for the process's own registry (a collect() callback may hang). */
const APP_READ_WAIT_MS = 250;

/**
 * --app-metrics: the prom-client the app's modules load — resolved from the
 * directory of the app (or of the first --mount/--vhost app), else the
 * current one. Required from the same file, it is the same module instance,
 * so its default registry is the one the app's metrics are in.
 */
export function promClientOf(opts: CliOptions): PromClient {
  const spec = opts.routes[0]?.spec ?? opts.app;
  return loadPromClient(spec === undefined ? process.cwd() : path.dirname(path.resolve(splitSpec(spec).file))).client;
}

/** $PORT as a TCP port; undefined when unset or empty; a usage error (exit 2) when not a port. */
function portFromEnv(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const port = /^\d{1,5}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!(port >= 1 && port <= 65535)) die(`PORT=${JSON.stringify(raw)} is not a TCP port (1-65535); unset it or give --http ADDR`, 2);
  return port;
}

const KIND_NAMES: Record<AppType, string> = { tsgi: 'TSGI app', node: 'Node listener', fetch: 'fetch handler' };

/** The app of the command line, and the lifecycle hooks of the modules it is made of. */
export interface CliApp {
  app: App;
  /** Not started yet: the caller awaits lifecycle.startup() before serving. */
  lifecycle: Lifecycles;
}

/** The app of the command line: the app argument, --mount/--vhost, --cgi-map. `quiet`: no lines about it (threads after the first). */
export async function loadCliApp(opts: CliOptions, quiet = false): Promise<CliApp> {
  const lifecycle = new Lifecycles();
  const fetch: FetchOptions = { overrideGlobalObjects: opts.fetchOverrideGlobals === true };
  const kinds = new Set<AppType>();
  const loaded = opts.routes.length > 0 ? await loadRoutes(opts.routes, opts.appType, fetch, quiet, opts.manageScriptName === true, lifecycle, kinds)
    : opts.app !== undefined ? await loadOne(opts.app, opts.appType, fetch, quiet, lifecycle, kinds) : undefined;
  if (fetch.overrideGlobalObjects === true && !quiet) {
    // A process-wide change: say it happened, or that the flag did nothing.
    process.stderr.write(kinds.has('fetch')
      ? 'tsgi: --fetch-override-globals: the global Response is tsgi\'s light class in this process (docs/adapters.md)\n'
      : 'tsgi: --fetch-override-globals: no fetch handler among the apps; the global Response is left as it is\n');
  }
  return { app: opts.cgiMap.length > 0 ? withCgiHost(opts, loaded) : loaded!, lifecycle };
}

/** The one app of the app argument; a line says how it was recognised unless it is plain TSGI. */
async function loadOne(spec: string, type: AppType | undefined, fetch: FetchOptions, quiet: boolean,
  lifecycle: Lifecycles, kinds: Set<AppType>): Promise<App> {
  const r = await resolveApp(spec, process.cwd(), type, fetch);
  kinds.add(r.kind);
  if (r.kind !== 'tsgi' && !quiet) process.stderr.write(`tsgi: ${spec} (export ${r.exportName}) is a ${KIND_NAMES[r.kind]}\n`);
  for (const h of r.hooks) lifecycle.add(spec, h);
  return r.app;
}

/** --mount, --vhost (and the app argument at "/") as one dispatching app. */
async function loadRoutes(routes: readonly Route[], type: AppType | undefined, fetch: FetchOptions, quiet: boolean,
  manageScriptName: boolean, lifecycle: Lifecycles, kinds: Set<AppType>): Promise<App> {
  const table: DispatchTable = { mounts: [], ...(manageScriptName ? { manageScriptName } : {}) };
  const hosts = new Map<string, MountTable>();
  for (const r of routes) {
    const loaded = await resolveApp(r.spec, process.cwd(), type, fetch);
    kinds.add(loaded.kind);
    for (const h of loaded.hooks) lifecycle.add(r.spec, h);
    const where = r.host === undefined ? r.point : `${r.host}${r.point === '/' ? '' : r.point}`;
    if (!quiet) process.stderr.write(`tsgi: mounted ${r.spec} (export ${loaded.exportName}, ${KIND_NAMES[loaded.kind]}) at ${where}\n`);
    let mounts = table.mounts as Array<[string, App]>;
    if (r.host !== undefined) {
      let t = hosts.get(r.host);
      if (t === undefined) hosts.set(r.host, t = { mounts: [] });
      mounts = t.mounts as Array<[string, App]>;
    }
    mounts.push([r.point, loaded.app]);
  }
  if (hosts.size > 0) table.vhosts = [...hosts];
  return dispatch(table);
}

export function run(): void {
  main(process.argv.slice(2)).catch((err: unknown) => {
    const msg = err instanceof TsgiError || err instanceof Error ? err.message : String(err);
    die(msg, 1);
  });
}
