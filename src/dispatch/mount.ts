// dispatch(): one app made of several, chosen per request by virtual host
// (Host, else SERVER_NAME) and then by mount point, as uWSGI's --mount and
// WSGI's DispatcherMiddleware do. The app under a mount point sees
// SCRIPT_NAME = the outer SCRIPT_NAME + the mount point and PATH_INFO = the
// rest, through a thin view over the server's request: two own fields, every
// other property delegated, nothing copied.
import { TsgiError } from '../errors.js';
import type { App, Reply, Request } from '../tsgi/types.js';
import { MountedRequest } from '../server/mount-view.js';

/** Mount point → app: an object, or pairs (which keep their order and may be built in a loop). */
export type MountList = Readonly<Record<string, App>> | ReadonlyArray<readonly [string, App]>;

/** The apps of one host: mount points, and what answers a path no mount point covers. */
export interface MountTable {
  /**
   * Mount points start with "/" and do not end with "/" ("/" itself is the
   * root). The longest one that matches the path on a segment boundary wins:
   * "/api" serves "/api" and "/api/x", never "/apix".
   */
  mounts?: MountList;
  /** Answers when no mount point matches (default: a 404). */
  fallback?: App;
}

/**
 * Virtual hosts and mounts. A request whose host matches a key of `vhosts` is
 * served by that host's app (or its own mount table) only; any other request
 * by the top-level `mounts`. `fallback` answers what neither covers.
 */
export interface DispatchTable extends MountTable {
  /**
   * Host → an app (served at "/") or a mount table. Hosts match the Host
   * header (else SERVER_NAME) case-insensitively, port ignored;
   * "*.example.com" matches any name ending in ".example.com" (not
   * "example.com" itself); an exact name beats a wildcard, a longer wildcard
   * a shorter one.
   */
  vhosts?: Readonly<Record<string, App | MountTable>> | ReadonlyArray<readonly [string, App | MountTable]>;
  /**
   * Match mount points against the whole path, SCRIPT_NAME + PATH_INFO, and
   * give the app SCRIPT_NAME = the mount point and PATH_INFO = the rest,
   * whatever split the web server sent (uWSGI's --manage-script-name). For
   * fronts that do not split the path where the app is mounted: Apache's
   * mod_proxy_scgi sends the whole path as SCRIPT_NAME and no PATH_INFO.
   * Default false: the split is the web server's, and mounts cut PATH_INFO.
   */
  manageScriptName?: boolean;
}

function bad(detail: string): TsgiError {
  // No catalogue code is about dispatch tables yet; APP_KIND is the nearest:
  // the table does not describe apps tsgi can serve.
  return new TsgiError('TSGI_ERR_DISPATCH_TABLE', detail);
}

/** The app at `point` for `req`: SCRIPT_NAME grows by the mount point, PATH_INFO loses it. */
function mounted(req: Request, point: string, path: string): Request {
  if (point === '') return req;
  const outer = req instanceof MountedRequest ? req.outer : req;
  return new MountedRequest(outer, req.SCRIPT_NAME + point, path.slice(point.length));
}

/** manageScriptName: `path` is the whole path; SCRIPT_NAME becomes the mount point. */
function remounted(req: Request, point: string, path: string): Request {
  const rest = path.slice(point.length);
  if (req.SCRIPT_NAME === point && req.PATH_INFO === rest) return req;  // split right already
  const outer = req instanceof MountedRequest ? req.outer : req;
  return new MountedRequest(outer, point, rest);
}

interface Compiled {
  /** Longest first; the root is "" so that SCRIPT_NAME + point stays right. */
  points: string[];
  apps: App[];
  fallback: App | undefined;
}

function checkApp(app: unknown, where: string): App {
  if (typeof app !== 'function') {
    throw bad(`${where} is ${app === null ? 'null' : typeof app}, not an app function (req) => reply`);
  }
  return app as App;
}

function entries<V>(list: Readonly<Record<string, V>> | ReadonlyArray<readonly [string, V]> | undefined,
  what: string): Array<readonly [string, V]> {
  if (list === undefined) return [];
  if (Array.isArray(list)) {
    for (const e of list as unknown[]) {
      if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string') throw bad(`${what} pairs must be [string, app]`);
    }
    return list as Array<readonly [string, V]>;
  }
  if (typeof list !== 'object' || list === null) throw bad(`${what} must be an object or a list of pairs`);
  return Object.entries(list as Record<string, V>);
}

/** A misspelt key ("mount") would otherwise be ignored in silence. */
function checkKeys(o: object, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) throw bad(`${where}unknown key ${JSON.stringify(key)} (expected ${allowed.join(', ')})`);
  }
}

/** Why `point` is not a mount point, or undefined when it is one. */
export function mountPointError(point: string): string | undefined {
  if (!point.startsWith('/')) return `mount point ${JSON.stringify(point)} must start with "/"`;
  if (point.length > 1 && point.endsWith('/')) return `mount point ${JSON.stringify(point)} must not end with "/"`;
  return undefined;
}

function compile(table: MountTable, where: string): Compiled {
  const seen = new Set<string>();
  const list: Array<[string, App]> = [];
  for (const [point, app] of entries(table.mounts, `${where}mounts`)) {
    const err = mountPointError(point);
    if (err !== undefined) throw bad(where + err);
    if (seen.has(point)) throw bad(`${where}mount point ${JSON.stringify(point)} given twice`);
    seen.add(point);
    list.push([point === '/' ? '' : point, checkApp(app, `${where}the app at ${JSON.stringify(point)}`)]);
  }
  list.sort((a, b) => b[0].length - a[0].length);
  const fallback = table.fallback === undefined ? undefined : checkApp(table.fallback, `${where}fallback`);
  return { points: list.map((e) => e[0]), apps: list.map((e) => e[1]), fallback };
}

/** The index of the longest mount point covering `path` on a segment boundary, or -1. */
function match(points: readonly string[], path: string): number {
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    if (p.length === 0) return i;
    if (path.length === p.length ? path === p : path.charCodeAt(p.length) === 47 /* / */ && path.startsWith(p)) return i;
  }
  return -1;
}

/** "Example.COM:8080" → "example.com", "[::1]:80" → "[::1]", "a.example." → "a.example". */
export function hostName(host: string): string {
  let h = host;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end !== -1) h = h.slice(0, end + 1);
  } else {
    const colon = h.indexOf(':');
    if (colon !== -1) h = h.slice(0, colon);
  }
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h.toLowerCase();
}

/** Why `host` is not a vhost name, or undefined when it is one. */
export function hostError(host: string): string | undefined {
  const name = JSON.stringify(host);
  if (host === '' || host === '*.' || host === '*') return `virtual host ${name} names no host`;
  if (/[/\s]/.test(host)) return `virtual host ${name} must be a host name, e.g. example.com or *.example.com`;
  if (host.startsWith('[') ? !host.endsWith(']') : host.includes(':')) {
    return `virtual host ${name} must be given without a port (ports are ignored)`;
  }
  if (host.indexOf('*') > 0 || (host.startsWith('*') && !host.startsWith('*.'))) {
    return `virtual host ${name}: a wildcard is only allowed as "*." at the start, e.g. *.example.com`;
  }
  return undefined;
}

function notFound(req: Request): Reply {
  const path = req.SCRIPT_NAME + req.PATH_INFO;
  return {
    status: 404,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
    body: `Not Found: no app is mounted for the path ${path === '' ? '/' : path}\n`,
  };
}

function serveFrom(c: Compiled, req: Request, fallback: App | undefined, whole: boolean): Reply | Promise<Reply> {
  const path = whole ? req.SCRIPT_NAME + req.PATH_INFO : req.PATH_INFO;
  const i = match(c.points, path);
  if (i !== -1) return c.apps[i]!(whole ? remounted(req, c.points[i]!, path) : mounted(req, c.points[i]!, path));
  const f = c.fallback ?? fallback;
  return f !== undefined ? f(req) : notFound(req);
}

/**
 * One app that hands each request to the app mounted for its host and path.
 * The table is checked here: a bad mount point, a host with a port, a
 * duplicate or a value that is not a function throws a TsgiError at once.
 */
export function dispatch(table: DispatchTable): App {
  if (table === null || typeof table !== 'object') throw bad('expected an object { mounts, vhosts, fallback }');
  checkKeys(table, ['mounts', 'vhosts', 'fallback', 'manageScriptName'], '');
  const whole = table.manageScriptName === true;
  const top = compile(table, '');
  const exact = new Map<string, Compiled>();
  const wild: Array<[string, Compiled]> = [];
  for (const [key, value] of entries(table.vhosts, 'vhosts')) {
    const err = hostError(key);
    if (err !== undefined) throw bad(err);
    const host = hostName(key);
    const where = `virtual host ${host}: `;
    let c: Compiled;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      checkKeys(value, ['mounts', 'fallback'], where);
      c = compile(value, where);
    } else {
      c = compile({ mounts: [['/', checkApp(value, `virtual host ${host}`)]] }, where);
    }
    if (host.startsWith('*.')) {
      const suffix = host.slice(1);
      if (wild.some((w) => w[0] === suffix)) throw bad(`virtual host ${host} given twice`);
      wild.push([suffix, c]);
    } else {
      if (exact.has(host)) throw bad(`virtual host ${host} given twice`);
      exact.set(host, c);
    }
  }
  wild.sort((a, b) => b[0].length - a[0].length);
  const fallback = top.fallback;

  if (exact.size === 0 && wild.length === 0) return (req) => serveFrom(top, req, undefined, whole);

  const forHost = (req: Request): Compiled => {
    const raw = req.header('host') || req.SERVER_NAME;
    const host = hostName(raw);
    const c = exact.get(host);
    if (c !== undefined) return c;
    for (const [suffix, w] of wild) {
      if (host.length > suffix.length && host.endsWith(suffix)) return w;
    }
    return top;
  };
  return (req) => {
    const c = forHost(req);
    return serveFrom(c, req, c === top ? undefined : fallback, whole);
  };
}
