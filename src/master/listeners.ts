// The master binds every listener once, with the same native code serve()
// uses (address forms, stale-socket check, --chmod-socket before listen()),
// and hands the listening fds to its workers, which serve them as `fd:N` with
// EPOLLEXCLUSIVE. See docs/design.md, "Master process".
import { binding, type NativeServer } from '../native/load.js';
import { parseListen, type ListenProtocol } from '../server/listen.js';
import { resolveOwner } from '../cli/privileges.js';

export interface MasterListener {
  /** serve()'s protocol for it. */
  protocol: ListenProtocol;
  /** The master's fd, shared with each worker through spawn's stdio array. */
  fd: number;
  /** "http://127.0.0.1:8000", "/run/app.sock", "uwsgi:///run/app.sock": a form that can be given back. */
  where: string;
}

export interface BoundListeners {
  listeners: MasterListener[];
  /** Closes the master's copies; removes the unix socket files it created. */
  close(): void;
}

/**
 * Binds each address ("http://127.0.0.1:8000", "uwsgi:///run/app.sock", ...).
 * The native server that owns the sockets is made with maxConnections 0: the
 * core stops watching a listener at its connection limit without accepting,
 * so the master never takes a connection meant for a worker (at most one
 * wake-up per listener, at the first connection).
 */
export function bindListeners(listen: readonly string[], socketMode: number | undefined,
  socketOwner?: { uid?: number; gid?: number }): BoundListeners {
  const native: NativeServer = new binding.Server({ maxConnections: 0 }, () => {},
    (line) => process.stderr.write(`tsgi: ${line}\n`), new Float64Array(64));
  const listeners: MasterListener[] = [];
  try {
    for (const entry of listen) {
      const spec = parseListen(entry);
      const r = native.listen({ address: spec.address, protocol: 0, mode: socketMode ?? 0,
        owner: socketOwner?.uid ?? -1, group: socketOwner?.gid ?? -1, exclusive: false, allow: [] });
      const fd = r.fd;
      const bare = spec.address;
      const where = r.tcp
        ? `${spec.protocol}://${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}`
        : spec.protocol === 'http' ? bare : `${spec.protocol}://${bare}`;
      listeners.push({ protocol: spec.protocol, fd, where });
    }
  } catch (err) {
    native.close();
    throw err;
  }
  let closed = false;
  return {
    listeners,
    close() {
      if (closed) return;
      closed = true;
      native.close();
    },
  };
}

/**
 * bindListeners for the command line (the master, or the main thread of
 * --threads): --chmod-socket and --chown-socket applied; an address that
 * cannot be bound is one line on stderr and exit 1.
 */
export function bindForCli(listen: readonly string[], opts: { chmodSocket?: number; chownSocket?: string }): BoundListeners {
  try {
    return bindListeners(listen, opts.chmodSocket, opts.chownSocket !== undefined ? resolveOwner(opts.chownSocket) : undefined);
  } catch (err) {
    process.stderr.write(`tsgi: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
