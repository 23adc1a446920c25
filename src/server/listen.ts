// Listen addresses: the forms serve() and the master accept, and the checks
// made on them before anything is bound.
import { isIP } from 'node:net';
import { TsgiError } from '../errors.js';
import type { PROTOCOLS } from '../native/abi.js';

export type ListenProtocol = keyof typeof PROTOCOLS;

/** One listener: an address string ("uwsgi:///run/app.sock") or the parts. */
export type ListenSpec = string | {
  address: string;
  protocol?: ListenProtocol;
  /** Unix socket file mode, e.g. 0o660 (default: ServeOptions.socketMode). */
  mode?: number;
  /** TCP peers allowed (uwsgi/SCGI default: loopback only). */
  allowFrom?: readonly string[];
};

export const LOOPBACK = ['127.0.0.0/8', '::1'];

/** "uwsgi://127.0.0.1:3031", "scgi:///run/app.sock", "http://:8000", or a bare address (HTTP). */
export function parseListen(spec: ListenSpec): { address: string; protocol: ListenProtocol; mode?: number;
  allowFrom?: readonly string[] } {
  if (typeof spec !== 'string') return { ...spec, protocol: spec.protocol ?? 'http' };
  const m = /^(http|uwsgi|scgi|fastcgi):\/\/(.*)$/.exec(spec);
  if (m) return { address: m[2]!, protocol: m[1] as ListenProtocol };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    throw new TsgiError('TSGI_ERR_LISTEN', `${spec}: unknown scheme (use http://, uwsgi://, scgi:// or fastcgi://)`);
  }
  return { address: spec, protocol: 'http' };
}

/** Checks an allow-list entry up front, whatever listeners use it. */
export function checkNetwork(entry: string): void {
  const [addr = '', bits, extra] = entry.split('/');
  const family = isIP(addr);
  const max = family === 4 ? 32 : 128;
  const ok = family !== 0 && extra === undefined &&
    (bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max));
  if (!ok) {
    throw new TsgiError('TSGI_ERR_LISTEN',
      `bad network ${JSON.stringify(entry)} in allowFrom: expected an IP address or address/prefix, e.g. 10.0.0.0/8`);
  }
}

export function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1';
}
