/**
 * Where outgoing webhooks may connect (PEEP_WEBHOOK_DENY): a list of networks, by name or CIDR, that
 * channel URLs must not reach. It is checked twice: when a channel is saved (a URL whose host is a
 * literal address in a denied network is refused) and when a message is delivered (every address
 * the host name resolves to is checked before connecting, so a name that later points at a denied
 * address, DNS rebinding, is refused too; redirects are never followed).
 *
 * Names: `loopback` (127.0.0.0/8, ::1), `link-local` (169.254.0.0/16, fe80::/10: cloud metadata
 * endpoints such as 169.254.169.254 live here), `private` (10/8, 172.16/12, 192.168/16, 100.64/10,
 * fc00::/7), `unspecified` (0.0.0.0/8, ::), `multicast`, `broadcast`. The default denies
 * link-local, unspecified, multicast and broadcast: webhooks to services on the same host or the
 * private network are common for self-hosted peep, while the metadata endpoint hands out cloud
 * credentials. An instance whose channel editors are not its operators should deny `loopback` and
 * `private` too. `none` (or an empty value) denies nothing.
 */
import dns from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

export const NET_GROUPS: Record<string, string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  'link-local': ['169.254.0.0/16', 'fe80::/10'],
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7'],
  unspecified: ['0.0.0.0/8', '::/128'],
  multicast: ['224.0.0.0/4', 'ff00::/8'],
  broadcast: ['255.255.255.255/32'],
};
export const DEFAULT_WEBHOOK_DENY = 'link-local,unspecified,multicast,broadcast';

export interface NetPolicy {
  /** The entries as given (names and CIDRs), for messages. */
  readonly entries: readonly string[];
  /** Whether an IP address (v4, v6 or v4-mapped v6) is in a denied network. */
  denies(ip: string): boolean;
}

/** Parses `loopback,10.1.0.0/16,…`; throws RangeError naming the first bad entry. */
export function parseNetPolicy(spec: string): NetPolicy {
  const list = new BlockList();
  const entries = spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s && s !== 'none');
  for (const e of entries) {
    for (const cidr of NET_GROUPS[e] ?? [e]) {
      const m = /^(.+)\/(\d{1,3})$/.exec(cidr);
      const addr = m?.[1] ?? cidr;
      const family = isIP(addr);
      const bits = m ? Number(m[2]) : family === 6 ? 128 : 32;
      if (family === 0 || bits > (family === 6 ? 128 : 32))
        throw new RangeError(
          `"${e}" is not a network: use ${Object.keys(NET_GROUPS).join(', ')}, or an address or CIDR`,
        );
      list.addSubnet(addr, bits, family === 6 ? 'ipv6' : 'ipv4');
    }
  }
  return {
    entries,
    denies(ip: string): boolean {
      const family = isIP(ip);
      if (family === 0) return false;
      const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
      if (mapped) return list.check(mapped, 'ipv4');
      return list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
    },
  };
}

/** An error whose code deliver() reports as `blocked` (not retried). */
export class BlockedAddressError extends Error {
  readonly code = 'EBLOCKED';
  constructor(host: string) {
    super(`${host} resolves to an address in a network PEEP_WEBHOOK_DENY refuses`);
  }
}

/**
 * A `lookup` for http.request that resolves like dns.lookup but fails with BlockedAddressError when
 * any address of the name is denied (all of them are checked, not just the first).
 */
export function guardedLookup(policy: NetPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as dns.LookupAddress[];
      if (list.some((a) => policy.denies(a.address)))
        return callback(new BlockedAddressError(hostname) as NodeJS.ErrnoException, '', 0);
      if ((options as dns.LookupOptions).all) return (callback as never as LookupAll)(null, list);
      const first = list[0];
      if (!first) return callback(Object.assign(new Error('no address'), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  };
}
type LookupAll = (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void;

/** The literal address of a URL's host (brackets of IPv6 removed), or null for a name. */
export function literalHost(hostname: string): string | null {
  const h = hostname.replace(/^\[(.*)\]$/, '$1');
  return isIP(h) ? h : null;
}
