// `tsgi --cgi APP`: bin/tsgi comes here before anything else, so a CGI
// request never loads the native addon, the server or the master.
import { TsgiError } from '../errors.js';
import { runCgiAndExit } from '../cgi/run.js';
import { helpText, parseArgs, type CliOptions } from './flags.js';

function usage(msg: string): TsgiError {
  return new TsgiError('TSGI_ERR_CLI_USAGE', msg);
}

/** `tsgi --cgi APP`: one request, then exit with 0 (served) or 1 (the app failed; a 500 went out). */
export function cgiMain(argv: readonly string[]): void {
  let opts: CliOptions;
  try {
    opts = parseArgs(argv);
    if (opts.help) {
      process.stdout.write(helpText());
      return;
    }
    if (opts.app === undefined) throw usage('--cgi needs the app module (or a launcher naming it)');
    const extra = ['http', 'uwsgi', 'scgi', 'fastcgi', 'mount', 'vhost', 'cgiMap'] as const;
    const bad = extra.find((k) => opts[k].length > 0);
    if (bad !== undefined) throw usage(`--cgi serves one request from the environment; it takes no --${bad === 'cgiMap' ? 'cgi-map' : bad} listeners or mounts`);
  } catch (err) {
    process.stderr.write(`tsgi: ${err instanceof Error ? err.message : String(err)}\n`);
    // A CGI program must still answer: the web server would say "malformed header" instead.
    process.stdout.write('Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\nInternal Server Error\n');
    process.exitCode = 2;
    return;
  }
  runCgiAndExit({ app: opts.app, appType: opts.appType, fetch: { overrideGlobalObjects: opts.fetchOverrideGlobals === true } });
}

