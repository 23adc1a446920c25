// Separate hosts on one machine for the cluster drills: a bridge in the root
// namespace and N network namespaces, each joined to it by a veth pair, in a
// private 10.x.y.0/24 range picked at random (and checked against the
// routes already there). Every name carries a random id, so parallel runs do
// not clash; everything is removed by remove(), and by an exit hook if the
// test dies first. Needs root and iproute2 (`ip netns`).
import { spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';

export interface LabHost {
  /** 1..N */
  index: number;
  netns: string;
  address: string;
  /** The veth end on the bridge (root namespace): `ip link set … down` cuts the host off. */
  link: string;
}

function ip(args: string[], allowFail = false): string {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0 && !allowFail) throw new Error(`ip ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/** Whether this process can create namespaces and links (root, iproute2 with netns). */
export function canMakeLab(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (ip netns)';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.status !== 0) return `ip netns does not work here: ${r.stderr || r.error?.message}`;
  return undefined;
}

export class Lab {
  readonly id = randomBytes(3).toString('hex').slice(0, 5);
  readonly bridge = `tsb${this.id}`;
  /** "10.X.Y." */
  readonly prefix: string;
  /** The bridge's address: where the balancers' connections come from. */
  readonly gateway: string;
  readonly subnet: string;
  readonly hosts: LabHost[] = [];
  private removed = false;
  private readonly onExit = () => this.remove();

  constructor(n: number) {
    const routes = ip(['-4', 'route', 'show', 'table', 'all']);
    let prefix: string;
    do {
      prefix = `10.${randomInt(100, 255)}.${randomInt(0, 256)}.`;
    } while (routes.includes(prefix));
    this.prefix = prefix;
    this.gateway = `${prefix}1`;
    this.subnet = `${prefix}0/24`;
    process.on('exit', this.onExit);
    try {
      ip(['link', 'add', this.bridge, 'type', 'bridge']);
      ip(['addr', 'add', `${this.gateway}/24`, 'dev', this.bridge]);
      ip(['link', 'set', this.bridge, 'up']);
      for (let i = 1; i <= n; i++) {
        const h: LabHost = { index: i, netns: `tsgi-${this.id}-h${i}`, address: `${prefix}${10 + i}`, link: `tsv${this.id}h${i}` };
        const peer = `tsp${this.id}h${i}`;
        ip(['netns', 'add', h.netns]);
        this.hosts.push(h);
        ip(['link', 'add', h.link, 'type', 'veth', 'peer', 'name', peer]);
        ip(['link', 'set', peer, 'netns', h.netns]);
        ip(['link', 'set', h.link, 'master', this.bridge, 'up']);
        ip(['-n', h.netns, 'addr', 'add', `${h.address}/24`, 'dev', peer]);
        ip(['-n', h.netns, 'link', 'set', peer, 'up']);
        ip(['-n', h.netns, 'link', 'set', 'lo', 'up']);
      }
    } catch (err) {
      this.remove();
      throw err;
    }
  }

  /** The command line that runs `argv` inside host i's namespace (ip execs it: its pid is the program's). */
  exec(h: LabHost, argv: string[]): string[] {
    return ['ip', 'netns', 'exec', h.netns, ...argv];
  }

  setLink(h: LabHost, up: boolean): void {
    ip(['link', 'set', h.link, up ? 'up' : 'down']);
  }

  /** Deletes the namespaces (with their veth ends) and the bridge; idempotent, never throws. */
  remove(): void {
    if (this.removed) return;
    this.removed = true;
    process.off('exit', this.onExit);
    for (const h of this.hosts) {
      ip(['link', 'del', h.link], true);
      ip(['netns', 'del', h.netns], true);
    }
    ip(['link', 'del', this.bridge], true);
  }
}
