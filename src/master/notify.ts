// systemd's sd_notify: READY=1, RELOADING=1, STOPPING=1 as datagrams to the
// unix socket named by NOTIFY_SOCKET. Node cannot send a unix datagram
// (node:dgram is UDP only, node:net is streams), and the addon has no call
// for it yet, so:
//   1. the addon's sdNotify(socket, message), when a build has it;
//   2. else `systemd-notify`, which sends from its own pid: systemd accepts it
//      only with NotifyAccess=all in the unit (docs/master.md says so);
//   3. else a log line, once, naming the gap.
import { spawn } from 'node:child_process';
import { binding } from '../native/load.js';

type SdNotify = (socket: string, message: string) => number;

export class Notifier {
  private readonly socket = process.env.NOTIFY_SOCKET;
  private warned = false;

  constructor(private readonly log: (line: string) => void) {
    // Workers and the app's own children must not talk to systemd as if
    // they were the service.
    delete process.env.NOTIFY_SOCKET;
  }

  get enabled(): boolean {
    return this.socket !== undefined && this.socket !== '';
  }

  send(state: string): void {
    if (!this.enabled) return;
    const message = `${state}\nMAINPID=${process.pid}`;
    const native = (binding as unknown as { sdNotify?: SdNotify }).sdNotify;
    if (typeof native === 'function') {
      const rc = native(this.socket!, message);
      if (rc < 0) this.once(`sd_notify ${state} failed (errno ${-rc})`);
      return;
    }
    const child = spawn('systemd-notify', [`--pid=${process.pid}`, ...message.split('\n')], {
      stdio: 'ignore', env: { ...process.env, NOTIFY_SOCKET: this.socket },
    });
    child.on('error', () => this.once(
      `NOTIFY_SOCKET is set but this build cannot notify systemd (no sdNotify in the addon, no systemd-notify on PATH): ${state} not sent`));
    child.on('exit', (code) => {
      if (code !== 0 && code !== null) this.once(`systemd-notify ${state.split('\n')[0]} failed (exit ${code}): is NOTIFY_SOCKET ${this.socket} listening?`);
    });
    child.unref();
  }

  private once(line: string): void {
    if (this.warned) return;
    this.warned = true;
    this.log(line);
  }
}
