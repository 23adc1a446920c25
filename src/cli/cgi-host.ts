// The CLI's CGI host: --cgi-map, --cgi-env, --cgi-timeout, --cgi-max-procs
// make a cgiHost in front of the app (or alone). `tsgi --cgi` is in cgi-main.ts.
import { TsgiError } from '../errors.js';
import type { App } from '../tsgi/types.js';
import { cgiHost } from '../cgi/host.js';
import type { CliOptions } from './flags.js';

function usage(msg: string): TsgiError {
  return new TsgiError('TSGI_ERR_CLI_USAGE', msg);
}

/** --cgi-env NAME=VALUE, or NAME: the value tsgi itself has (skipped if it has none). */
export function cgiEnvOf(list: readonly string[], from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of list) {
    const eq = raw.indexOf('=');
    const name = eq === -1 ? raw : raw.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw usage(`--cgi-env needs NAME or NAME=VALUE, not "${raw}"`);
    if (eq !== -1) env[name] = raw.slice(eq + 1);
    else if (from[name] !== undefined) env[name] = from[name]!;
  }
  return env;
}

/** --cgi-map PATH=DIR pairs. */
export function cgiMapOf(list: readonly string[]): Array<[string, string]> {
  return list.map((raw) => {
    const eq = raw.indexOf('=');
    if (eq <= 0 || eq === raw.length - 1) throw usage(`--cgi-map needs PATH=DIR, e.g. /cgi-bin=./cgi-bin, not "${raw}"`);
    return [raw.slice(0, eq), raw.slice(eq + 1)];
  });
}

/** The app with the --cgi-map host in front (paths under a CGI prefix go to scripts), or the host alone. */
export function withCgiHost(opts: CliOptions, app: App | undefined): App {
  try {
    return cgiHost({
      map: cgiMapOf(opts.cgiMap),
      env: cgiEnvOf(opts.cgiEnv),
      ...(opts.cgiTimeout !== undefined ? { timeout: opts.cgiTimeout } : {}),
      ...(opts.cgiMaxProcs !== undefined ? { maxProcs: opts.cgiMaxProcs } : {}),
      ...(app !== undefined ? { fallback: app } : {}),
    });
  } catch (err) {
    if (err instanceof TsgiError) throw err;
    throw usage(err instanceof Error ? err.message : String(err));
  }
}
