// --uid / --gid: give up root once the listeners are bound. Names are looked
// up with getent (so NSS sources count), falling back to /etc/passwd and
// /etc/group. The drop is checked afterwards: a process asked to leave root
// that is still root is an error, never a warning.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { TsgiError } from '../errors.js';

export interface Identity {
  uid: number | undefined;
  gid: number | undefined;
  /** The user's name, for initgroups (its supplementary groups). */
  user: string | undefined;
  /** As given, for messages: "nobody", "65534:65534". */
  label: string;
}

function fail(msg: string): TsgiError {
  return new TsgiError('TSGI_ERR_PRIVILEGES', msg);
}

/** An entry of the passwd or group database: its fields, or undefined. */
function lookup(db: 'passwd' | 'group', key: string): string[] | undefined {
  try {
    const out = execFileSync('getent', [db, key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const line = out.split('\n')[0];
    if (line) return line.split(':');
  } catch {
    // not found (exit 2), or no getent: the file below
  }
  try {
    const byName = /^\d+$/.test(key) ? 2 : 0;
    for (const line of fs.readFileSync(`/etc/${db}`, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[byName] === key) return f;
    }
  } catch {
    // no such file
  }
  return undefined;
}

/** Resolves --uid and --gid (names or numbers); undefined when neither is given. */
export function resolveIdentity(uid: string | undefined, gid: string | undefined): Identity | undefined {
  if (uid === undefined && gid === undefined) return undefined;
  let id: Identity = { uid: undefined, gid: undefined, user: undefined, label: [uid, gid].filter((x) => x !== undefined).join(':') };
  if (uid !== undefined) {
    const pw = lookup('passwd', uid);
    if (pw === undefined && !/^\d+$/.test(uid)) throw fail(`--uid ${uid}: no such user`);
    id = { ...id, uid: pw ? Number(pw[2]) : Number(uid), user: pw?.[0], gid: pw ? Number(pw[3]) : undefined };
  }
  if (gid !== undefined) {
    const gr = lookup('group', gid);
    if (gr === undefined && !/^\d+$/.test(gid)) throw fail(`--gid ${gid}: no such group`);
    id.gid = gr ? Number(gr[2]) : Number(gid);
  }
  // A numeric --uid unknown to the user database keeps its group unless --gid says.
  return id;
}

/** --chown-socket USER[:GROUP] (names or numbers; ":GROUP" alone keeps the owner) as ids. Throws TSGI_ERR_PRIVILEGES. */
export function resolveOwner(spec: string): { uid?: number; gid?: number } {
  const [user, group, extra] = spec.split(':');
  if (extra !== undefined || (user === '' && (group === undefined || group === ''))) {
    throw fail(`--chown-socket ${spec}: expected USER, USER:GROUP or :GROUP`);
  }
  let id: Identity;
  try {
    id = resolveIdentity(user === '' ? undefined : user, group === undefined || group === '' ? undefined : group)!;
  } catch (err) {
    throw fail(`--chown-socket ${spec}: ${(err as Error).message.replace(/^.*?--(uid|gid) \S+: /, '')}`);
  }
  return { ...(id.uid !== undefined ? { uid: id.uid } : {}), ...(id.gid !== undefined ? { gid: id.gid } : {}) };
}

/** Whether this process already runs as the identity (a worker of a master that dropped). */
function already(id: Identity): boolean {
  return (id.uid === undefined || (process.getuid!() === id.uid && process.geteuid!() === id.uid)) &&
    (id.gid === undefined || (process.getgid!() === id.gid && process.getegid!() === id.gid));
}

/** Sets groups, then gid, then uid; checks the result. Throws TSGI_ERR_PRIVILEGES. */
export function dropPrivileges(id: Identity): void {
  if (process.getuid === undefined) throw fail('--uid/--gid are not supported on this platform');
  if (already(id)) return;
  const wasRoot = process.geteuid!() === 0;
  try {
    if (id.gid !== undefined) {
      if (wasRoot) {
        if (id.user !== undefined && id.uid !== undefined) (process as unknown as { initgroups(user: string, group: number): void }).initgroups(id.user, id.gid);
        else process.setgroups!([id.gid]);
      }
      process.setgid!(id.gid);
    }
    if (id.uid !== undefined) process.setuid!(id.uid);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw fail(`to ${id.label}: ${why}${wasRoot ? '; refusing to keep running as root' : ''}`);
  }
  if (!already(id) || (id.uid !== undefined && id.uid !== 0 && (process.getuid!() === 0 || process.geteuid!() === 0))) {
    throw fail(`to ${id.label}: still uid ${process.getuid!()} gid ${process.getgid!()}; refusing to keep running`);
  }
}

/**
 * Makes a file the dropped identity can append to: created (as root) and
 * handed to it, as nginx does with its logs. Nothing when not root.
 */
export function handOver(file: string, id: Identity | undefined): void {
  const fd = fs.openSync(file, 'a', 0o640);
  try {
    if (id !== undefined && process.geteuid?.() === 0) fs.fchownSync(fd, id.uid ?? -1, id.gid ?? -1);
  } finally {
    fs.closeSync(fd);
  }
}
