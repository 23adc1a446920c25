// The command line's binding of listeners (the master's, or the main thread's
// of --threads): --chmod-socket and --chown-socket applied; an address that
// cannot be bound is one line on stderr and exit 1.
import { bindListeners, type BoundListeners } from '../master/listeners.js';
import { resolveOwner } from './privileges.js';

export function bindForCli(listen: readonly string[], opts: { chmodSocket?: number; chownSocket?: string }): BoundListeners {
  try {
    return bindListeners(listen, opts.chmodSocket, opts.chownSocket !== undefined ? resolveOwner(opts.chownSocket) : undefined);
  } catch (err) {
    process.stderr.write(`tsgi: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
