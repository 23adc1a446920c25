// Static files, answered by the core without a JavaScript call
// (native/static/): the serve() option, turned once into what the core
// reads, with the MIME table from the mime-db package; and the request
// fields an app's X-Sendfile / X-Accel-Redirect reply hands the core.
import { createRequire } from 'node:module';
import type { NativeStaticOptions } from '../native/load.js';

export interface StaticOptions {
  /**
   * URL path prefix -> directory or file, as uWSGI's --static-map:
   * `{ '/static': './public', '/favicon.ico': './public/favicon.ico' }` or
   * a list of pairs. Longest prefix first. GET and HEAD only (else 405).
   */
  map?: Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]>;
  /** Directories whose files are served when they exist; every other request goes to the app (--check-static). */
  check?: readonly string[];
  /** File names served for a directory, tried in order (--static-index), e.g. ['index.html']. */
  index?: readonly string[];
  /**
   * Where an app's X-Sendfile and X-Accel-Redirect replies may point
   * (--offload-root): a directory, or `prefix=dir` for X-Accel-Redirect's
   * URL space. Without any, those fields pass through untouched (for a web
   * server in front).
   */
  offloadRoot?: readonly string[];
  /** Cache-Control: max-age (and Expires) in seconds for every static reply (--static-expires). */
  expires?: number;
  /** Per type: `{ 'image/': 86400, 'text/css': 3600 }` ('x/' is a prefix); wins over `expires`. */
  expiresType?: Readonly<Record<string, number>>;
  /** Serve files reached through symlinks that leave their root (default: refused, 403). */
  followSymlinks?: boolean;
  /** Serve names starting with '.' (default: hidden, 404). */
  dotfiles?: boolean;
  /** Open files kept, at most (default 1024). */
  cacheEntries?: number;
  /** Milliseconds a cached file is trusted before a stat(2) checks it (default 1000). */
  cacheValid?: number;
}

let mimeTable: string[] | undefined;

/**
 * mime-db's extension -> type table, flat ([ext, type, ...]). Where several
 * types claim an extension, the one from the better source wins (IANA, then
 * Apache, then nginx), and on a tie the one whose top-level type names the
 * kind of media (video/mp4 over application/mp4). Text types, and those
 * mime-db marks UTF-8, get `; charset=utf-8`.
 */
export function mimeTypes(): string[] {
  if (mimeTable) return mimeTable;
  const require = createRequire(__filename);
  const db = require('mime-db') as Record<string, { source?: string; charset?: string; extensions?: string[] }>;
  const rank = (source: string | undefined): number => source === 'iana' ? 3 : source === 'apache' ? 2 : source === 'nginx' ? 1 : 0;
  const best = new Map<string, { type: string; score: number }>();
  for (const type of Object.keys(db)) {
    const entry = db[type]!;
    const score = rank(entry.source) * 2 + (type.startsWith('application/') ? 0 : 1);
    for (const ext of entry.extensions ?? []) {
      const prev = best.get(ext);
      if (!prev || score > prev.score) best.set(ext, { type, score });
    }
  }
  const out: string[] = [];
  for (const [ext, { type }] of best) {
    const utf8 = type.startsWith('text/') || db[type]!.charset?.toUpperCase() === 'UTF-8';
    out.push(ext, utf8 ? `${type}; charset=utf-8` : type);
  }
  mimeTable = out;
  return out;
}

function pairs(v: StaticOptions['map']): string[] {
  if (!v) return [];
  const list = Array.isArray(v) ? v as ReadonlyArray<readonly [string, string]> : Object.entries(v);
  return list.flatMap(([prefix, path]) => {
    if (!prefix.startsWith('/')) throw new TypeError(`static map: the prefix ${JSON.stringify(prefix)} must start with "/"`);
    return [prefix, path];
  });
}

/** The `static` option as the core reads it (native/napi/static_options.cc). */
export function nativeStatic(o: StaticOptions): NativeStaticOptions {
  const offload = (o.offloadRoot ?? []).flatMap((entry) => {
    const eq = entry.indexOf('=');
    return eq > 0 && entry.startsWith('/') ? [entry.slice(0, eq), entry.slice(eq + 1)] : ['/', entry];
  });
  const expiresType = Object.entries(o.expiresType ?? {}).flatMap(([type, s]) => [type, String(Math.max(0, Math.floor(s)))]);
  return {
    map: pairs(o.map),
    check: [...(o.check ?? [])],
    index: [...(o.index ?? [])],
    offload,
    expires: o.expires,
    expiresType,
    followSymlinks: o.followSymlinks === true,
    dotfiles: o.dotfiles === true,
    cacheEntries: o.cacheEntries,
    cacheValid: o.cacheValid,
    mime: mimeTypes(),
  };
}

interface HeaderSource {
  readonly REQUEST_METHOD: string;
  readonly REQUEST_URI: string;
  readonly QUERY_STRING: string;
  header(name: string): string | undefined;
}

/** What the core's rules read of the request an offload answers (native/napi/static_options.cc). */
export function offloadFields(req: HeaderSource): Array<string | undefined> {
  const uri = req.REQUEST_URI;
  const q = uri.indexOf('?');
  return [req.REQUEST_METHOD, q >= 0 ? uri.slice(0, q) : uri, req.QUERY_STRING || undefined,
    req.header('if-match'), req.header('if-none-match'), req.header('if-modified-since'),
    req.header('if-unmodified-since'), req.header('range'), req.header('if-range'), req.header('accept-encoding')];
}
