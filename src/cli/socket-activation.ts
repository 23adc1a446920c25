// systemd socket activation (sd_listen_fds(3)): systemd binds the sockets of a
// .socket unit and starts tsgi with them as fds 3, 4, ..., LISTEN_FDS of them,
// LISTEN_PID naming the process they are meant for. LISTEN_FDNAMES (the
// units' FileDescriptorName=) may name each one's protocol: http, uwsgi, scgi
// or fastcgi (anything else, or no name, is HTTP).
import { binding } from '../native/load.js';
import { TsgiError } from '../errors.js';

const SD_LISTEN_FDS_START = 3;
const PROTOCOLS = new Set(['http', 'uwsgi', 'scgi', 'fastcgi']);

/**
 * The listeners systemd passed, as "proto://fd:N" forms, or [] when none were
 * passed to this process. The variables are removed either way, so the app's
 * children do not take the sockets for theirs (as sd_listen_fds(1) does).
 */
export function activatedListeners(env: NodeJS.ProcessEnv = process.env, pid = process.pid): string[] {
  const count = env.LISTEN_FDS;
  const forPid = env.LISTEN_PID;
  const names = env.LISTEN_FDNAMES;
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  if (count === undefined || forPid === undefined || Number(forPid) !== pid) return [];
  if (!/^\d{1,4}$/.test(count)) throw new TsgiError('TSGI_ERR_LISTEN', `LISTEN_FDS=${JSON.stringify(count)} is not a count of sockets`);
  const nameList = names === undefined ? [] : names.split(':');
  const out: string[] = [];
  for (let i = 0; i < Number(count); i++) {
    const fd = SD_LISTEN_FDS_START + i;
    if (binding.listeningSocket(fd) === null) {
      throw new TsgiError('TSGI_ERR_LISTEN', `LISTEN_FDS: fd ${fd} is not a listening stream socket (a .socket unit needs ListenStream=)`);
    }
    const name = (nameList[i] ?? '').toLowerCase();
    out.push(`${PROTOCOLS.has(name) ? name : 'http'}://fd:${fd}`);
  }
  return out;
}
