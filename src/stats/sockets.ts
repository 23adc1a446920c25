// --stats: each listener's accept queue, read from /proc on Linux. For a
// listening TCP socket, /proc/net/tcp{,6}'s rx_queue column is the accept
// queue's length (sk_ack_backlog); the socket is found by the inode that
// /proc/self/fd/N links to. Its maximum (sk_max_ack_backlog) is not in /proc
// (only netlink's inet_diag, as `ss -lt` shows it): it is the backlog the
// core asks for (1024) capped by net.core.somaxconn, read when the stats are.
// Unix sockets: /proc/net/unix lists them with no queue length, so a unix
// listener's queue is null. Elsewhere than Linux both are null.
import * as fs from 'node:fs';

/** The backlog native/net/socket.h passes to listen(). */
export const CORE_BACKLOG = 1024;

export interface SocketSource {
  /** "127.0.0.1:8000", "/run/app.sock", as uWSGI names sockets. */
  name: string;
  proto: string;
  /** This process's fd for it, if known. */
  fd: number | undefined;
  /** Inherited (fd:N, LISTEN_FDS): its backlog was set by someone else. */
  inherited: boolean;
}

export interface SocketStat {
  name: string;
  proto: string;
  /** Connections waiting to be accepted; null where it cannot be read. */
  queue: number | null;
  max_queue: number | null;
  shared: number;
  can_offload: number;
}

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function inodeOf(fd: number): string | undefined {
  try {
    return /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`))?.[1];
  } catch {
    return undefined;
  }
}

/** inode → accept queue length, for the listening sockets of /proc/net/tcp and tcp6. */
function tcpListenQueues(): Map<string, number> {
  const out = new Map<string, number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = read(file);
    if (text === undefined) continue;
    for (const line of text.split('\n').slice(1)) {
      // sl local rem st tx_queue:rx_queue tr:when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue;  // 0A: TCP_LISTEN
      const rx = f[4]!.split(':')[1];
      if (rx !== undefined) out.set(f[9]!, parseInt(rx, 16));
    }
  }
  return out;
}

export function socketStats(sources: readonly SocketSource[]): SocketStat[] {
  const linux = process.platform === 'linux';
  const queues = linux ? tcpListenQueues() : new Map<string, number>();
  const somaxconn = linux ? Number(read('/proc/sys/net/core/somaxconn')?.trim() ?? NaN) : NaN;
  return sources.map((s) => {
    const inode = linux && s.fd !== undefined ? inodeOf(s.fd) : undefined;
    const queue = inode !== undefined ? queues.get(inode) : undefined;
    let max: number | null = null;
    if (queue !== undefined && Number.isFinite(somaxconn)) max = s.inherited ? somaxconn : Math.min(CORE_BACKLOG, somaxconn);
    return { name: s.name, proto: s.proto, queue: queue ?? null, max_queue: max, shared: 0, can_offload: 0 };
  });
}
