// systemd's readiness protocol (sd_notify(3)): READY=1, RELOADING=1 and
// STOPPING=1 as one datagram each, with MAINPID, to the unix socket named by
// NOTIFY_SOCKET. Node cannot send a unix datagram (node:dgram is UDP only,
// node:net is streams), so the addon sends it (native/net/notify.cc), from
// the master's own pid: the default NotifyAccess=main accepts it.
import { binding } from '../native/load.js';

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
    const rc = binding.sdNotify(this.socket!, `${state}\nMAINPID=${process.pid}`);
    if (rc < 0) this.once(`sd_notify ${state} to ${this.socket} failed (errno ${-rc}): is it listening?`);
  }

  /** One line per process, not one per notification: a missing socket stays missing. */
  private once(line: string): void {
    if (this.warned) return;
    this.warned = true;
    this.log(line);
  }
}
