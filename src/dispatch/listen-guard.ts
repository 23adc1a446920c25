// An app module that calls app.listen() while tsgi loads it (Express's,
// Koa's, node:http's) would serve on a server of its own beside tsgi's
// listeners, and under --processes every worker would bind that port again
// and die of EADDRINUSE. While tsgi imports the module, net.Server#listen
// records where it was called from and binds nothing; the load then fails
// with that place and the fix. A Fastify instance listens after its ready(),
// past the import: its adapter guards its own server the same way
// (src/adapters/node/frameworks.ts).
import * as net from 'node:net';
import * as path from 'node:path';
import { TsgiError } from '../errors.js';

const OWN_DIR = path.resolve(__dirname, '..');

/** The app's line that called listen(): the first frame outside Node, tsgi and node_modules (else outside Node and tsgi). */
export function callSite(stack: string | undefined): string | undefined {
  const frames = (stack ?? '').split('\n').filter((l) => /^\s+at /.test(l))
    .map((l) => l.trim().replace(/^at (?:async )?/, ''))
    .filter((l) => !/(^|\()node:/.test(l) && !l.includes(OWN_DIR + path.sep));
  const where = frames.find((l) => !l.includes(`${path.sep}node_modules${path.sep}`)) ?? frames[0];
  return where?.replace(/^.*\((.*)\)$/, '$1');
}

/** The error for a module that listened: where, why it cannot, how to write it. */
export function listenError(file: string, site: string | undefined): TsgiError {
  return new TsgiError('TSGI_ERR_APP_LISTEN',
    `${file} calls listen()${site !== undefined ? ` at ${site}` : ''} while tsgi loads it. tsgi serves the exported app ` +
    'on its own listeners (--http, --socket...); a server of the app\'s own would serve beside them, and under --processes ' +
    'every worker would bind its port again (EADDRINUSE). Export the app without listening, or listen only when node ' +
    'runs the file itself: if (require.main === module) app.listen(3000) (an ES module: ' +
    'if (import.meta.filename === process.argv[1]) ...). Start other servers (metrics) in a startup hook.');
}

/** Runs `load` with net.Server#listen recording its callers instead of binding; the first caller's line, if any. */
export async function withoutListen<T>(load: () => Promise<T>): Promise<{ value: T; listened: boolean; site: string | undefined }> {
  const original = Object.getOwnPropertyDescriptor(net.Server.prototype, 'listen')!;
  let listened = false;
  let site: string | undefined;
  Object.defineProperty(net.Server.prototype, 'listen', {
    ...original,
    value: function listen(this: net.Server): net.Server {
      if (!listened) site = callSite(new Error().stack);
      listened = true;
      return this;
    },
  });
  try {
    const value = await load();
    return { value, listened, site };
  } finally {
    Object.defineProperty(net.Server.prototype, 'listen', original);
  }
}
