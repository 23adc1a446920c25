// The master binds every listener once, with the native code serve() uses
// (address forms, stale-socket check, --chmod-socket before listen()), and
// hands the listening fds to its workers, which serve them as `fd:N` with
// EPOLLEXCLUSIVE. See docs/design.md, "Master process".
import * as fs from 'node:fs';
import { binding } from '../native/load.js';
import { parseListen, type ListenProtocol } from '../server/listen.js';

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
 * The sockets are only bound and listening: no loop watches them, so the
 * master never wakes for, nor takes, a connection meant for a worker.
 */
export function bindListeners(listen: readonly string[], socketMode: number | undefined,
  socketOwner?: { uid?: number; gid?: number }): BoundListeners {
  const listeners: MasterListener[] = [];
  const owned: Array<{ fd: number; path: string }> = [];
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    for (const { fd, path } of owned) {
      // Best effort, as a server's own close: a failure leaves nothing to undo.
      try {
        fs.closeSync(fd);
      } catch {}
      if (path === '') continue;
      try {
        fs.unlinkSync(path);
      } catch {}
    }
  };
  try {
    for (const entry of listen) {
      const spec = parseListen(entry);
      const r = binding.bindListener({ address: spec.address, mode: socketMode ?? 0,
        owner: socketOwner?.uid ?? -1, group: socketOwner?.gid ?? -1 });
      owned.push({ fd: r.fd, path: r.path });
      const bare = spec.address;
      const where = r.tcp
        ? `${spec.protocol}://${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}`
        : spec.protocol === 'http' ? bare : `${spec.protocol}://${bare}`;
      listeners.push({ protocol: spec.protocol, fd: r.fd, where });
    }
  } catch (err) {
    close();
    throw err;
  }
  return { listeners, close };
}
