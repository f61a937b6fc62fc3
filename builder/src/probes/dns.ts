/**
 * A small TTL cache in front of `dns.lookup`, given to sockets as their `lookup` function.
 *
 * Why: `dns.lookup` (what the OS does: /etc/hosts, nsswitch, then DNS) runs getaddrinfo on libuv's
 * thread pool of 4; at a thousand checks a second that pool, not the CPU, would cap the prober. So a
 * name's addresses are kept for `ttlMs` (default 10 s; getaddrinfo does not tell the record's TTL, so
 * a DNS change reaches checks within that long), concurrent look-ups of one name share one call, and
 * failures are never cached (a check after a DNS failure asks again). At most `maxEntries` names are
 * kept; the oldest go first. IP literals never get here (sockets skip the lookup for them).
 *
 * Every redirect hop and every check goes through the cache, so "each hop re-resolving" means each
 * hop resolves its own host, at most `ttlMs` stale.
 */
import dns from 'node:dns';
import type { LookupFunction } from 'node:net';

export type Resolve = (
  host: string,
  cb: (err: NodeJS.ErrnoException | null, addrs: dns.LookupAddress[]) => void,
) => void;

export interface LookupCacheOptions {
  ttlMs?: number;
  maxEntries?: number;
  /** Monotonic milliseconds; defaults to performance.now. */
  now?: () => number;
  /** Where misses go; defaults to dns.lookup with all addresses, as net.connect asks for them. */
  resolve?: Resolve;
}

export interface LookupCache {
  lookup: LookupFunction;
  /** Names cached now. */
  size(): number;
  clear(): void;
}

const osResolve: Resolve = (host, cb) => dns.lookup(host, { all: true, hints: dns.ADDRCONFIG }, cb);

export function createLookupCache(opts: LookupCacheOptions = {}): LookupCache {
  const ttl = opts.ttlMs ?? 10_000;
  const max = opts.maxEntries ?? 10_000;
  const now = opts.now ?? (() => performance.now());
  const resolve = opts.resolve ?? osResolve;
  const entries = new Map<string, { addrs: dns.LookupAddress[]; expires: number }>();
  const pending = new Map<
    string,
    ((err: NodeJS.ErrnoException | null, addrs: dns.LookupAddress[]) => void)[]
  >();

  const answer = (
    host: string,
    options: dns.LookupOptions,
    addrs: dns.LookupAddress[],
    cb: Parameters<LookupFunction>[2],
  ) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
    const list = family ? addrs.filter((a) => a.family === family) : addrs;
    const first = list[0];
    if (!first) {
      const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${host}`);
      err.code = 'ENOTFOUND';
      cb(err, '', 0);
    } else if (options.all) cb(null, list);
    else cb(null, first.address, first.family);
  };

  const lookup: LookupFunction = (host, options, cb) => {
    const hit = entries.get(host);
    if (hit && hit.expires > now()) {
      // Asynchronous like a real lookup, so listeners attached right after connect() see it.
      process.nextTick(answer, host, options, hit.addrs, cb);
      return;
    }
    const waiting = pending.get(host);
    const done = (err: NodeJS.ErrnoException | null, addrs: dns.LookupAddress[]) =>
      err ? cb(err, '', 0) : answer(host, options, addrs, cb);
    if (waiting) {
      waiting.push(done);
      return;
    }
    pending.set(host, [done]);
    resolve(host, (err, addrs) => {
      const cbs = pending.get(host) ?? [];
      pending.delete(host);
      if (!err && addrs.length) {
        entries.delete(host);
        entries.set(host, { addrs, expires: now() + ttl });
        if (entries.size > max) {
          const oldest = entries.keys().next();
          if (!oldest.done) entries.delete(oldest.value);
        }
      }
      for (const f of cbs) f(err, addrs);
    });
  };

  return { lookup, size: () => entries.size, clear: () => entries.clear() };
}
