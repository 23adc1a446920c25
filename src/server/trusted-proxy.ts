// --trusted-proxy / serve({ trustedProxies }): behind a reverse proxy on
// HTTP (nginx proxy_pass), the peer is the proxy; the client is in
// X-Forwarded-For, which anyone can write. So the header is believed only
// hop by hop from the right: starting at the peer, while the address in hand
// is a trusted proxy, the next address to its left is taken. The first
// untrusted address (or the leftmost) is the client; a malformed entry stops
// the walk. An untrusted peer's header is ignored entirely.
import { BlockList, isIP } from 'node:net';
import { TsgiError } from '../errors.js';
import { checkNetwork } from './listen.js';

/** At most this many hops are walked (a header is bounded anyway by the header size limit). */
const MAX_HOPS = 32;

export type Trust = (address: string) => boolean;

/** A matcher for the networks (checked like allowFrom: "10.0.0.0/8", "::1", "192.0.2.7"); undefined for none. */
export function trustOf(networks: readonly string[] | undefined): Trust | undefined {
  if (networks === undefined || networks.length === 0) return undefined;
  const list = new BlockList();
  for (const n of networks) {
    try {
      checkNetwork(n);
    } catch {
      throw new TsgiError('TSGI_ERR_LISTEN', `bad network ${JSON.stringify(n)} in trustedProxies (--trusted-proxy): ` +
        'expected an IP address or address/prefix, e.g. 10.0.0.0/8');
    }
    const [addr, bits] = n.split('/') as [string, string | undefined];
    const type = isIP(addr) === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return (address) => {
    const a = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    const family = isIP(a);
    return family !== 0 && list.check(a, family === 4 ? 'ipv4' : 'ipv6');
  };
}

/** The client's address: `peer`, or the rightmost untrusted hop of X-Forwarded-For (its values in order) when `peer` is trusted. */
export function clientAddress(peer: string, forwardedFor: readonly string[], trust: Trust): string {
  if (forwardedFor.length === 0 || !trust(peer)) return peer;
  const hops = forwardedFor.join(',').split(',');
  let addr = peer;
  for (let i = hops.length - 1, n = 0; i >= 0 && n < MAX_HOPS && trust(addr); i--, n++) {
    const hop = hops[i]!.trim();
    if (isIP(hop) === 0) break;
    addr = hop;
  }
  return addr;
}
