// The serve() options the command line's flags give, in one place for the
// single process (main.ts) and each --threads thread (thread.ts): a new limit
// flag is mapped here once.
import type { ServeOptions } from '../server/serve.js';
import type { CliOptions } from './flags.js';
import type { StaticOptions } from '../server/static.js';
import { TsgiError } from '../errors.js';

function pair(flag: string, raw: string, example: string): [string, string] {
  const eq = raw.indexOf('=');
  if (eq <= 0 || eq === raw.length - 1) throw new TsgiError('TSGI_ERR_CLI_USAGE', `${flag} needs ${example}, not "${raw}"`);
  return [raw.slice(0, eq), raw.slice(eq + 1)];
}

/** The static flags as serve()'s `static` option, or undefined when none is given. */
export function staticOptions(opts: CliOptions): StaticOptions | undefined {
  if (opts.staticMap.length === 0 && opts.checkStatic.length === 0 && opts.offloadRoot.length === 0) return undefined;
  const map = opts.staticMap.map((raw) => {
    const [prefix, dir] = pair('--static-map', raw, 'PATH=DIR, e.g. /static=./public');
    if (!prefix.startsWith('/')) throw new TsgiError('TSGI_ERR_CLI_USAGE', `--static-map ${raw}: the PATH must start with "/"`);
    return [prefix, dir] as const;
  });
  const expiresType: Record<string, number> = {};
  for (const raw of opts.staticExpiresType) {
    const [type, seconds] = pair('--static-expires-type', raw, 'TYPE=SECONDS, e.g. image/=86400');
    if (!/^\d+$/.test(seconds)) throw new TsgiError('TSGI_ERR_CLI_USAGE', `--static-expires-type ${raw}: SECONDS must be a whole number`);
    expiresType[type] = Number(seconds);
  }
  return {
    map, check: opts.checkStatic, index: opts.staticIndex, offloadRoot: opts.offloadRoot,
    expires: opts.staticExpires, expiresType, followSymlinks: opts.staticFollowSymlinks,
    dotfiles: opts.staticDotfiles, cacheEntries: opts.staticCacheEntries,
  };
}

/**
 * The flags' limits and timeouts, with what only the caller knows (`site`:
 * listeners, allow-list, hooks, process shape). Socket file mode and owner are
 * not here: they apply where the socket is bound (bindForCli in
 * listeners.ts), which for threads is before any thread starts.
 */
export function serveOptions(opts: CliOptions, site: ServeOptions): ServeOptions {
  return {
    maxConnections: opts.maxConnections,
    maxHeaderSize: opts.maxHeaderSize,
    maxHeaders: opts.maxHeaders,
    maxBodySize: opts.maxBodySize,
    headerTimeout: opts.headerTimeout,
    keepAliveTimeout: opts.keepAliveTimeout,
    ioTimeout: opts.socketTimeout,
    shutdownTimeout: opts.shutdownTimeout,
    releaseMemory: opts.releaseMemory,
    wsMaxMessage: opts.wsMaxMessage,
    wsIdleTimeout: opts.wsIdleTimeout,
    wsCompression: opts.wsCompression,
    static: staticOptions(opts),
    ...(opts.trustedProxy.length > 0 ? { trustedProxies: opts.trustedProxy } : {}),
    ...site,
  };
}
