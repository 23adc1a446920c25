// The serve() options the command line's flags give, in one place for the
// single process (main.ts) and each --threads thread (thread.ts): a new limit
// flag is mapped here once.
import type { ServeOptions } from '../server/serve.js';
import type { CliOptions } from './flags.js';

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
    wsMaxMessage: opts.wsMaxMessage,
    wsIdleTimeout: opts.wsIdleTimeout,
    wsCompression: opts.wsCompression,
    ...site,
  };
}
