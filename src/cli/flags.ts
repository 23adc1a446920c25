// The command line: flags spelled like uWSGI's where the meaning is the same.
import { TsgiError } from '../errors.js';
import type { AppType } from '../dispatch/load-app.js';
import { hostError, hostName, mountPointError } from '../dispatch/mount.js';
import { closestName } from './suggest.js';

/** One app of a --mount or --vhost flag (or the app argument, mounted at "/"). */
export interface Route {
  /** The virtual host (lower case), or undefined for every other host. */
  host: string | undefined;
  /** "/" or "/api". */
  point: string;
  /** The module, "app.js" or "app.js:name". */
  spec: string;
  /** How it was given, for messages: "--mount /api=api.js". */
  origin: string;
}

export interface CliOptions {
  http: string[];
  uwsgi: string[];
  scgi: string[];
  fastcgi: string[];
  allowFrom: string[];
  trustedProxy: string[];
  app: string | undefined;
  appType: AppType | undefined;
  /** --fetch-override-globals: fetch handlers get tsgi's light global Response (src/adapters/fetch-globals.ts). */
  fetchOverrideGlobals?: boolean;
  mount: string[];
  vhost: string[];
  manageScriptName?: boolean;
  /** The apps of --mount, --vhost and the app argument; empty when only the app argument is given (without --manage-script-name). */
  routes: Route[];
  chmodSocket: number | undefined;
  chownSocket?: string;
  maxConnections: number | undefined;
  maxHeaderSize: number | undefined;
  maxHeaders?: number;
  maxBodySize: number | undefined;
  headerTimeout: number | undefined;
  keepAliveTimeout: number | undefined;
  socketTimeout: number | undefined;
  shutdownTimeout: number | undefined;
  releaseMemory: number | undefined;
  /** Milliseconds: on SIGTERM/SIGINT, /ready says 503 and the listeners keep accepting this long first. */
  drainGrace?: number;
  wsMaxMessage?: number;
  wsIdleTimeout?: number;
  wsCompression?: boolean;
  help: boolean;
  version: boolean;
  // The master process (src/master/): absent unless given.
  processes?: string;
  threads?: number;
  reloadMode?: string;
  maxRequests?: number;
  reloadOnRss?: number;
  touchReload?: string;
  pidfile?: string;
  vacuum?: boolean;
  // CGI (src/cgi/): run the app as a CGI program, or host CGI scripts.
  cgi?: boolean;
  cgiMap: string[];
  cgiEnv: string[];
  cgiTimeout?: number;
  cgiMaxProcs?: number;
  // Config sources (src/cli/config.ts), logging, request limits, privileges.
  config?: string;
  chdir?: string;
  needApp?: boolean;
  noNeedApp?: boolean;
  env?: string[];
  printConfig?: boolean;
  accessLog?: string;
  accessLogFormat?: string;
  harakiri?: number;
  uid?: string;
  gid?: string;
  // Observability (src/stats/).
  stats?: string;
  appMetrics?: boolean;
  // Static files served by the core (src/server/static.ts, docs/static.md).
  staticMap: string[];
  checkStatic: string[];
  staticIndex: string[];
  staticExpires?: number;
  staticExpiresType: string[];
  offloadRoot: string[];
  staticFollowSymlinks?: boolean;
  staticDotfiles?: boolean;
  staticCacheEntries?: number;
}

type Kind = 'list' | 'int' | 'mode' | 'seconds' | 'bool' | 'choice' | 'string';
export interface Flag { names: string[]; key: keyof CliOptions; kind: Kind; arg: string; help: string; choices?: readonly string[] }

export const FLAGS: Flag[] = [
  { names: ['--http', '--http-socket'], key: 'http', kind: 'list', arg: 'ADDR', help: 'serve HTTP/1.1 on ADDR (repeatable): host:port, [v6]:port, :port, /path.sock, @abstract, fd:N; without any listener, $PORT (0.0.0.0:$PORT)' },
  { names: ['--module'], key: 'app', kind: 'string', arg: 'MODULE', help: 'the app module (app.js or app.js:name), as the argument after the options' },
  { names: ['--socket', '-s', '--uwsgi-socket'], key: 'uwsgi', kind: 'list', arg: 'ADDR', help: 'serve the uwsgi protocol (nginx uwsgi_pass) on ADDR (repeatable)' },
  { names: ['--scgi-socket'], key: 'scgi', kind: 'list', arg: 'ADDR', help: 'serve SCGI (nginx scgi_pass) on ADDR (repeatable)' },
  { names: ['--fastcgi-socket'], key: 'fastcgi', kind: 'list', arg: 'ADDR', help: 'serve FastCGI (nginx fastcgi_pass, Apache mod_proxy_fcgi) on ADDR (repeatable)' },
  { names: ['--mount'], key: 'mount', kind: 'list', arg: 'PATH=MODULE', help: 'serve MODULE (app.js or app.js:name) under the mount point PATH, e.g. /api=api.js, /=site.js (repeatable; longest match wins)' },
  { names: ['--manage-script-name'], key: 'manageScriptName', kind: 'bool', arg: '', help: 'match --mount points (the app argument is "/") against the whole path, SCRIPT_NAME + PATH_INFO, and split it anew: SCRIPT_NAME the mount point, PATH_INFO the rest, whatever the web server sent (needed behind Apache mod_proxy_scgi; as in uWSGI)' },
  { names: ['--vhost'], key: 'vhost', kind: 'list', arg: 'HOST[PATH]=MODULE', help: 'serve MODULE for requests to HOST (Host header, port ignored; *.example.com matches subdomains), at PATH or "/" (repeatable)' },
  { names: ['--app-type'], key: 'appType', kind: 'choice', choices: ['tsgi', 'node', 'fetch'], arg: 'TYPE', help: 'tsgi, node or fetch: the kind of every app module, instead of telling it from the export' },
  { names: ['--fetch-override-globals'], key: 'fetchOverrideGlobals', kind: 'bool', arg: '', help: 'fetch handlers (Hono): replace the global Response, for the whole process, with tsgi\'s light one, which sends new Response(string or bytes) without building undici\'s (off by default: every module sees the replaced global; docs/adapters.md)' },
  { names: ['--allow-from'], key: 'allowFrom', kind: 'list', arg: 'NET', help: 'TCP peers the uwsgi/SCGI/FastCGI listeners accept, e.g. 10.0.0.0/8 (repeatable; default loopback)' },
  { names: ['--trusted-proxy'], key: 'trustedProxy', kind: 'list', arg: 'NET', help: 'a reverse proxy in front of the HTTP listeners (repeatable): from its connections the client is the rightmost untrusted X-Forwarded-For address (REMOTE_ADDR, the access log)' },
  { names: ['--chmod-socket'], key: 'chmodSocket', kind: 'mode', arg: 'MODE', help: 'permissions of unix socket files, octal (e.g. 660)' },
  { names: ['--chown-socket'], key: 'chownSocket', kind: 'string', arg: 'USER[:GROUP]', help: 'owner (and group) of unix socket files, set before they accept (e.g. www-data:www-data)' },
  { names: ['--max-connections'], key: 'maxConnections', kind: 'int', arg: 'N', help: 'open connections at most (default 10000); more wait in the backlog' },
  { names: ['--buffer-size', '--max-header-size'], key: 'maxHeaderSize', kind: 'int', arg: 'BYTES', help: 'request head at most: HTTP headers, uwsgi/SCGI variables (default 65536) -> 431' },
  { names: ['--max-headers'], key: 'maxHeaders', kind: 'int', arg: 'N', help: 'request header fields at most, on every protocol (default 200, at most 256) -> 431' },
  { names: ['--max-body-size', '--limit-post'], key: 'maxBodySize', kind: 'int', arg: 'BYTES', help: 'request body at most (default 104857600) -> 413' },
  { names: ['--header-timeout'], key: 'headerTimeout', kind: 'seconds', arg: 'SECONDS', help: 'time for a request head to arrive (default 60) -> 408' },
  { names: ['--keepalive-timeout', '--http-keepalive'], key: 'keepAliveTimeout', kind: 'seconds', arg: 'SECONDS', help: 'idle keep-alive connections close after (default 15)' },
  { names: ['--socket-timeout'], key: 'socketTimeout', kind: 'seconds', arg: 'SECONDS', help: 'a stalled body upload or download is cut after (default 60)' },
  { names: ['--ws-max-message'], key: 'wsMaxMessage', kind: 'int', arg: 'BYTES', help: 'a WebSocket message at most (default 16777216); larger closes the connection with 1009' },
  { names: ['--ws-compression'], key: 'wsCompression', kind: 'bool', arg: '', help: 'offer permessage-deflate to WebSocket clients (about 180 KiB of zlib state per connection)' },
  { names: ['--ws-idle-timeout'], key: 'wsIdleTimeout', kind: 'seconds', arg: 'SECONDS', help: 'a silent WebSocket client is pinged after (default 120), closed if it stays silent; 0: never' },
  { names: ['--shutdown-timeout'], key: 'shutdownTimeout', kind: 'seconds', arg: 'SECONDS', help: 'on SIGTERM/SIGINT, in-flight requests get this long (default 10)' },
  { names: ['--drain-grace'], key: 'drainGrace', kind: 'seconds', arg: 'SECONDS', help: 'on SIGTERM/SIGINT, /ready says 503 and the listeners keep accepting this long (replies say Connection: close) before they close, for a load balancer to notice (default 0; docs/cluster.md)' },
  { names: ['--processes', '-p', '--workers'], key: 'processes', kind: 'string', arg: 'N|auto', help: 'run a master and N worker processes sharing the listeners (auto: one per CPU); see docs/master.md' },
  { names: ['--threads'], key: 'threads', kind: 'int', arg: 'N', help: 'N threads in each process (the one, or each worker), each with its own event loop on the same listeners (docs/master.md)' },
  { names: ['--need-app'], key: 'needApp', kind: 'bool', arg: '', help: 'with --processes, the default: a worker that cannot load the app at the first start ends the master (exit 1) with its error, instead of being restarted' },
  { names: ['--no-need-app'], key: 'noNeedApp', kind: 'bool', arg: '', help: 'with --processes: restart workers that cannot load the app at the first start, with backoff, until they can' },
  { names: ['--reload-mode'], key: 'reloadMode', kind: 'choice', choices: ['full', 'chain'], arg: 'MODE', help: 'on SIGHUP: full (a whole new set of workers, then the old drain; default) or chain (one at a time)' },
  { names: ['--max-requests'], key: 'maxRequests', kind: 'int', arg: 'N', help: 'replace a worker after N requests (+0-10 % jitter): its replacement starts at 90 %; at N the worker stops accepting, closes keep-alive connections after their reply and drains' },
  { names: ['--release-memory'], key: 'releaseMemory', kind: 'seconds', arg: 'SECONDS', help: 'after SECONDS with the event loop idle, a process whose memory grew by 8 MiB since the last time gives it back to the system: a memory-reducing garbage collection and the C heap\'s free pages (default 5; 0: never)' },
  { names: ['--reload-on-rss'], key: 'reloadOnRss', kind: 'int', arg: 'MB', help: 'replace a worker whose resident memory exceeds MB (checked every second)' },
  { names: ['--touch-reload'], key: 'touchReload', kind: 'string', arg: 'FILE', help: 'reload (as SIGHUP) when FILE\'s modification time changes' },
  { names: ['--pidfile'], key: 'pidfile', kind: 'string', arg: 'FILE', help: 'write the master\'s pid to FILE' },
  { names: ['--vacuum'], key: 'vacuum', kind: 'bool', arg: '', help: 'remove the pidfile on exit (unix sockets are always removed)' },
  { names: ['--cgi'], key: 'cgi', kind: 'bool', arg: '', help: 'run APP as a CGI program: one request from the environment and stdin, the reply on stdout (docs/cgi.md)' },
  { names: ['--cgi-map'], key: 'cgiMap', kind: 'list', arg: 'PATH=DIR', help: 'run the executable files in DIR as CGI scripts under PATH, e.g. /cgi-bin=./cgi-bin (repeatable)' },
  { names: ['--cgi-env'], key: 'cgiEnv', kind: 'list', arg: 'NAME[=VALUE]', help: 'give CGI scripts NAME (from tsgi\'s environment, or VALUE); only PATH is passed otherwise (repeatable)' },
  { names: ['--cgi-timeout'], key: 'cgiTimeout', kind: 'seconds', arg: 'SECONDS', help: 'kill a CGI script\'s process group after (default 60; 0: never) -> 504' },
  { names: ['--cgi-max-procs'], key: 'cgiMaxProcs', kind: 'int', arg: 'N', help: 'CGI scripts running at once at most (default 64); more -> 503' },
  { names: ['--static-map'], key: 'staticMap', kind: 'list', arg: 'PATH=DIR|FILE', help: 'serve the files of DIR (or the one FILE) under the URL PATH from the core, no app call: /static=./public, /favicon.ico=./public/favicon.ico (repeatable; longest match wins; docs/static.md)' },
  { names: ['--check-static'], key: 'checkStatic', kind: 'list', arg: 'DIR', help: 'serve a GET or HEAD from DIR when the file exists there, else pass it to the app (repeatable)' },
  { names: ['--static-index'], key: 'staticIndex', kind: 'list', arg: 'NAME', help: 'file served for a directory, e.g. index.html (repeatable, tried in order); without one a directory is 403, never listed' },
  { names: ['--static-expires'], key: 'staticExpires', kind: 'int', arg: 'SECONDS', help: 'static replies say Cache-Control: max-age=SECONDS (and Expires)' },
  { names: ['--static-expires-type'], key: 'staticExpiresType', kind: 'list', arg: 'TYPE=SECONDS', help: 'max-age for one MIME type, or a family ending in "/" (image/=86400); wins over --static-expires (repeatable)' },
  { names: ['--offload-root'], key: 'offloadRoot', kind: 'list', arg: '[PATH=]DIR', help: 'an app reply with X-Sendfile: /file under DIR (or X-Accel-Redirect: PATH/file) is sent by the core from DIR, the field never reaching the client (repeatable)' },
  { names: ['--static-follow-symlinks'], key: 'staticFollowSymlinks', kind: 'bool', arg: '', help: 'serve files through symlinks that leave their root (refused by default)' },
  { names: ['--static-dotfiles'], key: 'staticDotfiles', kind: 'bool', arg: '', help: 'serve names starting with "." (hidden, 404, by default)' },
  { names: ['--static-cache-entries'], key: 'staticCacheEntries', kind: 'int', arg: 'N', help: 'open files the static cache keeps at most (default 1024)' },
  { names: ['--access-log'], key: 'accessLog', kind: 'string', arg: 'FILE|-', help: 'one line per request to FILE (- : stdout), written without blocking; reopened on SIGUSR1 (logrotate)' },
  { names: ['--access-log-format'], key: 'accessLogFormat', kind: 'choice', choices: ['combined', 'json'], arg: 'FORMAT', help: 'combined (Apache/nginx, default) or json (one object per line)' },
  { names: ['--harakiri'], key: 'harakiri', kind: 'seconds', arg: 'SECONDS', help: 'a request running longer is aborted (504 if nothing was sent); a worker whose event loop is blocked that long is killed and replaced' },
  { names: ['--stats'], key: 'stats', kind: 'string', arg: 'ADDR', help: 'stats per worker and listener: one JSON document (uWSGI\'s shape) per connection to ADDR (PORT, :PORT: loopback; HOST:PORT, /path.sock, @name); http://ADDR serves it at / and Prometheus text at /metrics (docs/stats.md)' },
  { names: ['--app-metrics'], key: 'appMetrics', kind: 'bool', arg: '', help: 'with --stats http://ADDR: add the app\'s own prom-client metrics (its default registry) to /metrics, merged across workers and threads as prom-client\'s cluster mode does; read only when /metrics is scraped (docs/stats.md)' },
  { names: ['--uid'], key: 'uid', kind: 'string', arg: 'USER|UID', help: 'run as this user once the listeners are bound (refuses to stay root if that fails)' },
  { names: ['--gid'], key: 'gid', kind: 'string', arg: 'GROUP|GID', help: 'run as this group once the listeners are bound (default with --uid: the user\'s group)' },
  { names: ['--chdir'], key: 'chdir', kind: 'string', arg: 'DIR', help: 'change to DIR before anything else: relative paths of the app, sockets and files are below it' },
  { names: ['--env'], key: 'env', kind: 'list', arg: 'NAME=VALUE', help: 'set the environment variable NAME for the app (repeatable)' },
  { names: ['--config'], key: 'config', kind: 'string', arg: 'FILE', help: 'read options from FILE: tsgi.ini ([tsgi] section, key = value) or tsgi.json (tsgi --print-config shows the result)' },
  { names: ['--print-config'], key: 'printConfig', kind: 'bool', arg: '', help: 'print the merged options (command line > TSGI_* environment > config file) with their sources, and exit' },
  { names: ['-h', '--help'], key: 'help', kind: 'bool', arg: '', help: 'show this help' },
  { names: ['-V', '--version'], key: 'version', kind: 'bool', arg: '', help: 'print the version (with --verbose: tsgi doctor\'s report)' },
];

function usage(msg: string): TsgiError {
  return new TsgiError('TSGI_ERR_CLI_USAGE', msg);
}

function parseValue(flag: Flag, name: string, raw: string): number | string {
  switch (flag.kind) {
    case 'int': {
      if (!/^\d+$/.test(raw)) throw usage(`${name} needs a whole number, not "${raw}"`);
      return Number(raw);
    }
    case 'seconds': {
      if (!/^\d+(\.\d+)?$/.test(raw)) throw usage(`${name} needs seconds, not "${raw}"`);
      return Math.round(Number(raw) * 1000);
    }
    case 'choice': {
      if (!flag.choices!.includes(raw)) throw usage(`${name} needs one of ${flag.choices!.join(', ')}, not "${raw}"`);
      return raw;
    }
    case 'mode': {
      if (!/^0?[0-7]{3}$/.test(raw)) throw usage(`${name} needs an octal mode such as 660, not "${raw}"`);
      return parseInt(raw, 8);
    }
    default:
      return raw;
  }
}

/**
 * uWSGI options people bring along that tsgi has no alias for, because the
 * meaning differs or the job is done another way: what to write instead.
 * (Same meaning, same spelling: --http-socket, --module, --chdir, --env,
 * --socket, --processes, --harakiri... are accepted as they are.)
 */
const UWSGI_ONLY: Record<string, string> = {
  '--master': 'tsgi runs a master whenever --processes N is given: drop --master',
  '--logto': 'tsgi logs to stderr: redirect it (2>>FILE) or let systemd\'s journal keep it; --access-log FILE writes one line per request',
  '--daemonize': 'tsgi stays in the foreground: run it under systemd (docs/deploy.md) or another supervisor',
  '--wsgi-file': 'give the app module as the argument (tsgi app.js) or with --module app.js',
  '--callable': 'name the export after the module: tsgi app.js:name',
  '--lazy-apps': 'tsgi workers always load the app themselves: drop --lazy-apps',
  '--enable-threads': 'a Node app needs no threads to serve many requests; --threads N runs N event loops',
  '--die-on-term': 'tsgi stops gracefully on SIGTERM already (SIGHUP reloads): drop --die-on-term',
  '--plugin': 'tsgi has no plugins: HTTP, uwsgi, SCGI and FastCGI are built in',
  '--plugins': 'tsgi has no plugins: HTTP, uwsgi, SCGI and FastCGI are built in',
};

/** What to write instead of a uWSGI option tsgi does not take ("--master"), if it is one. */
export function uwsgiHint(name: string): string | undefined {
  return Object.hasOwn(UWSGI_ONLY, name) ? UWSGI_ONLY[name] : undefined;
}

/** The message for an option tsgi does not know: what to use instead, or the closest name. */
export function unknownOption(name: string): string {
  const hint = uwsgiHint(name);
  if (hint !== undefined) return `unknown option ${name} (uWSGI's): ${hint}`;
  const best = closestName(name, FLAGS.flatMap((f) => f.names.filter((n) => n.startsWith('--'))));
  return `unknown option ${name}${best !== undefined ? ` (did you mean ${best}?)` : ''} (see tsgi --help)`;
}

/** One command-line item: a flag with its raw value (none for a bool), or the app argument (no flag). */
export interface Arg { flag: Flag | undefined; name: string; raw: string | undefined }

/** The command line as flags and values, unvalidated values; unknown flags and missing values throw. */
export function splitArgs(argv: readonly string[]): Arg[] {
  const out: Arg[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-') {
      out.push({ flag: undefined, name: '', raw: arg });
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const flag = FLAGS.find((f) => f.names.includes(name));
    if (!flag) throw usage(unknownOption(name));
    if (flag.kind === 'bool') {
      if (eq !== -1) throw usage(`${name} takes no value`);
      out.push({ flag, name, raw: undefined });
      continue;
    }
    let raw: string;
    if (eq !== -1) {
      raw = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw usage(`${name} needs a value (${flag.arg})`);
      raw = next;
      i++;
    }
    out.push({ flag, name, raw });
  }
  return out;
}

export function parseArgs(argv: readonly string[]): CliOptions {
  const o: CliOptions = {
    http: [], uwsgi: [], scgi: [], fastcgi: [], allowFrom: [], trustedProxy: [], app: undefined, appType: undefined, mount: [], vhost: [],
    routes: [], chmodSocket: undefined, maxConnections: undefined, maxHeaderSize: undefined,
    maxBodySize: undefined, headerTimeout: undefined, keepAliveTimeout: undefined, socketTimeout: undefined,
    shutdownTimeout: undefined, releaseMemory: undefined, help: false, version: false, cgiMap: [], cgiEnv: [],
    staticMap: [], checkStatic: [], staticIndex: [], staticExpiresType: [], offloadRoot: [], env: [],
  };
  for (const a of splitArgs(argv)) {
    if (a.flag === undefined || a.flag.key === 'app') {
      if (o.app !== undefined) throw usage(`one app module only ("${o.app}" and "${a.raw}")`);
      o.app = a.raw;
      continue;
    }
    const flag = a.flag;
    if (flag.kind === 'bool') {
      (o[flag.key] as boolean) = true;
      continue;
    }
    const value = parseValue(flag, a.name, a.raw!);
    if (flag.kind === 'list') (o[flag.key] as string[]).push(value as string);
    else if (flag.kind === 'choice' || flag.kind === 'string') (o[flag.key] as string) = value as string;
    else (o[flag.key] as number) = value as number;
  }
  o.routes = routesOf(o);
  return o;
}

/** "/api=api.js" → ["/api", "api.js"]; the module may carry ":name". */
function splitRoute(flag: string, raw: string, example: string): [string, string] {
  const eq = raw.indexOf('=');
  if (eq <= 0 || eq === raw.length - 1) throw usage(`${flag} needs ${example}, not "${raw}"`);
  return [raw.slice(0, eq), raw.slice(eq + 1)];
}

function parseMount(raw: string): Route {
  const [point, spec] = splitRoute('--mount', raw, 'PATH=MODULE, e.g. /api=api.js');
  const err = mountPointError(point);
  if (err !== undefined) throw usage(`--mount ${raw}: ${err}`);
  return { host: undefined, point, spec, origin: `--mount ${raw}` };
}

function parseVhost(raw: string): Route {
  const [where, spec] = splitRoute('--vhost', raw, 'HOST=MODULE or HOST/PATH=MODULE, e.g. example.com=app.js');
  // "[::1]/api": the path starts at the first "/" after an IPv6 literal.
  const from = where.startsWith('[') ? Math.max(where.indexOf(']'), 0) : 0;
  const slash = where.indexOf('/', from);
  const host = slash === -1 ? where : where.slice(0, slash);
  const point = slash === -1 ? '/' : where.slice(slash);
  const hostErr = hostError(host);
  if (hostErr !== undefined) throw usage(`--vhost ${raw}: ${hostErr}`);
  const pointErr = mountPointError(point);
  if (pointErr !== undefined) throw usage(`--vhost ${raw}: ${pointErr}`);
  return { host: hostName(host), point, spec, origin: `--vhost ${raw}` };
}

/** The routes of --mount, --vhost and the app argument; one mount point per host at most. */
function routesOf(o: CliOptions): Route[] {
  if (o.mount.length === 0 && o.vhost.length === 0 && !o.manageScriptName) return [];
  const routes = [...o.mount.map(parseMount), ...o.vhost.map(parseVhost)];
  if (o.app !== undefined) routes.unshift({ host: undefined, point: '/', spec: o.app, origin: `the app argument ${o.app}` });
  const seen = new Map<string, Route>();
  for (const r of routes) {
    const key = `${r.host ?? ''} ${r.point}`;
    const prev = seen.get(key);
    if (prev !== undefined) {
      const where = r.host === undefined ? `"${r.point}"` : `"${r.point}" of host ${r.host}`;
      throw usage(`${where} is mounted twice: ${prev.origin} and ${r.origin}`);
    }
    seen.set(key, r);
  }
  return routes;
}

/** The detection rules of dispatch/load-app.ts, in its order, for --help. */
const KIND_RULES: ReadonlyArray<readonly [string, string]> = [
  ['an object with a fetch() method (a Hono app, { fetch })', 'fetch handler'],
  ['a function exported under the name fetch', 'fetch handler'],
  ['a function of 2+ parameters ((req, res), Express, koa.callback()),', ''],
  ['  a Koa app, a Fastify instance', 'Node listener'],
  ['a function of 1 parameter, (req) => reply', 'TSGI app'],
  ['a function of 0 parameters ((...args) =>, one reading arguments)', 'TSGI app (else use --app-type)'],
];

export function helpText(): string {
  const lines = [
    'Usage: tsgi [options] APP',
    '       tsgi [options] --mount PATH=MODULE ... [--vhost HOST[PATH]=MODULE ...] [APP]',
    '       tsgi bench [options] TARGET [PATH]   (load a server over HTTP, uwsgi, SCGI or FastCGI; tsgi bench --help)',
    '       tsgi doctor [--json]                 (which native addon loads, how it was built, the platform features it uses)',
    '',
    'Serves APP, a module (ESM or CommonJS) exporting an app. With --mount or --vhost, several apps:',
    'each request goes to the app of its host and of the longest mount point covering its path; the',
    'app sees SCRIPT_NAME = the mount point and PATH_INFO = the rest. APP, if also given, is mounted at',
    '"/". A host with --vhost entries is served by those only; other hosts by --mount and APP.',
    '',
    'Which export: "module.js:name" picks one; otherwise default, then app, then fetch, then handler.',
    'What kind of app it is (--app-type tsgi|node|fetch forces one):',
    ...KIND_RULES.map(([what, kind]) => kind === '' ? `  ${what}` : `  ${what.padEnd(62)} -> ${kind}`),
    '',
    'Every option may also be set in a config file (--config FILE: ini [tsgi] key = value, or JSON) or as',
    'TSGI_<NAME> (TSGI_MAX_BODY_SIZE=1000; lists split on commas or spaces). Command line > environment >',
    'file > defaults; tsgi --print-config shows the merged options and where each came from. The reference,',
    'docs/config.md, is in tsgi\'s source repository (the npm package ships README.md, not docs/).',
    '',
    'Options:',
  ];
  for (const f of FLAGS) {
    const left = `  ${f.names.join(', ')}${f.arg ? ' ' + f.arg : ''}`;
    lines.push(left.padEnd(34) + ' ' + f.help);
  }
  lines.push('', 'Examples:', '  tsgi --http 127.0.0.1:8000 --http /tmp/app.sock ./app.js',
    '  tsgi --socket /run/app.sock --chmod-socket 660 --scgi-socket 127.0.0.1:4000 ./app.js',
    '  tsgi --http :8000 --mount /api=api.js:router --mount /=site.js',
    '  tsgi --http :8000 --vhost example.com=site.js --vhost example.com/api=api.js --vhost \'*.example.com=other.mjs\'',
    '  tsgi --http :8000 --app-type fetch ./worker.js',
    '  tsgi --http :8000 --processes auto --max-requests 10000 ./app.js   (SIGHUP reloads, SIGTERM stops)',
    '  tsgi --config tsgi.ini --print-config                             (options from [tsgi]; TSGI_* variables override it)',
    '  tsgi --http :80 --uid www-data --harakiri 30 --access-log /var/log/app.log --access-log-format json ./app.js',
    '  tsgi --http :8000 --cgi-map /cgi-bin=./cgi-bin --cgi-env TZ        (CGI scripts; APP optional)',
    '  #!/usr/bin/env -S tsgi --cgi  + a line naming app.js: a CGI launcher for a web server\'s cgi-bin', '');
  return lines.join('\n');
}
