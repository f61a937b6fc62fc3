/**
 * Which worker checks which targets. Targets are spread over SHARDS shards (`targets.shard`); a worker
 * checks the targets of the shards it leases in `scheduler_leases`. Every tick (about a second) each
 * worker records that it is alive, renews its leases, and moves towards its fair share
 * (ceil(SHARDS / live workers)): it claims free or expired shards when below, releases extras when
 * above, so a new worker gets work within a few ticks and a dead one's shards are taken as soon as
 * its leases expire (TTL, default 10 s: long enough that a stalled event loop or a busy embedded
 * database, which delay renewals by a second or two, do not make the worker drop its own checks;
 * short next to usual check intervals for a crashed worker's targets).
 *
 * A lease is trusted locally only until `ttl` after the renewal was *sent*, minus a margin, so a
 * worker whose renewals stall stops checking before another can take over: a target is checked by at
 * most one worker at a time. Lease times come from the database's clock, never from workers' clocks.
 */
import type { Queryable } from '@peep/pkg';

export const SHARDS = 64;

export interface LeaseOptions {
  db: Queryable;
  workerId: string;
  host: string;
  pid: number;
  /** How long a lease lasts without renewal. Default 10,000 ms. */
  ttlMs?: number;
  /** Local clock in ms (performance.now-like, monotonic). */
  now?: () => number;
}

export interface LeaseTick {
  /** Shards held after this tick. */
  shards: number[];
  gained: number[];
  lost: number[];
  liveWorkers: number;
}

export interface Leases {
  tick(): Promise<LeaseTick>;
  /** Whether this worker may check targets of `shard` now. */
  holds(shard: number): boolean;
  owned(): number[];
  /** Gives every lease back (clean shutdown), so others take over at once. */
  release(): Promise<void>;
}

export function createLeases(o: LeaseOptions): Leases {
  const ttl = o.ttlMs ?? 10_000;
  const now = o.now ?? (() => performance.now());
  // Trusted until: renewal sent + ttl - margin (a fifth of the TTL for clock rate and latency).
  const validUntil = new Map<number, number>();

  async function tick(): Promise<LeaseTick> {
    const sentAt = now();
    const { db, workerId } = o;
    await db.query(
      `INSERT INTO workers (id, host, pid) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET seen_at = now()`,
      [workerId, o.host, o.pid],
    );
    const live = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM workers WHERE seen_at > now() - $1 * interval '1 millisecond'`,
      [ttl],
    );
    const liveWorkers = Math.max(1, live.rows[0]?.n ?? 1);
    const renewed = await db.query<{ shard: number }>(
      `UPDATE scheduler_leases SET until = now() + $2 * interval '1 millisecond'
       WHERE owner = $1 AND until > now() RETURNING shard`,
      [workerId, ttl],
    );
    let mine = renewed.rows.map((r) => r.shard);
    const share = Math.ceil(SHARDS / liveWorkers);
    if (mine.length < share) {
      const free = await db.query<{ shard: number }>(
        `SELECT s AS shard FROM generate_series(0, $1 - 1) s
         WHERE NOT EXISTS (SELECT 1 FROM scheduler_leases l WHERE l.shard = s AND l.until > now())
         ORDER BY random() LIMIT $2`,
        [SHARDS, share - mine.length],
      );
      if (free.rows.length > 0) {
        const claimed = await db.query<{ shard: number }>(
          `INSERT INTO scheduler_leases (shard, owner, until)
           SELECT s, $1, now() + $2 * interval '1 millisecond' FROM unnest($3::int[]) s
           ON CONFLICT (shard) DO UPDATE SET owner = excluded.owner, until = excluded.until
             WHERE scheduler_leases.until <= now() OR scheduler_leases.owner = excluded.owner
           RETURNING shard`,
          [workerId, ttl, free.rows.map((r) => r.shard)],
        );
        mine = mine.concat(claimed.rows.map((r) => r.shard));
      }
    } else if (mine.length > share) {
      const extra = mine.slice(share);
      await db.query('DELETE FROM scheduler_leases WHERE owner = $1 AND shard = ANY($2::int[])', [
        workerId,
        extra,
      ]);
      mine = mine.slice(0, share);
    }
    // Workers gone for an hour are forgotten.
    await db.query(`DELETE FROM workers WHERE seen_at < now() - interval '1 hour'`);

    const held = new Set(mine);
    const gained = mine.filter((s) => !validUntil.has(s));
    const lost = [...validUntil.keys()].filter((s) => !held.has(s));
    for (const s of lost) validUntil.delete(s);
    const until = sentAt + ttl * 0.8;
    for (const s of mine) validUntil.set(s, until);
    return { shards: mine.sort((a, b) => a - b), gained, lost, liveWorkers };
  }

  return {
    tick,
    holds(shard) {
      const u = validUntil.get(shard);
      return u !== undefined && now() < u;
    },
    owned: () => [...validUntil.keys()].filter((s) => (validUntil.get(s) ?? 0) > now()).sort((a, b) => a - b),
    async release() {
      validUntil.clear();
      await o.db.query('DELETE FROM scheduler_leases WHERE owner = $1', [o.workerId]);
      await o.db.query('DELETE FROM workers WHERE id = $1', [o.workerId]);
    },
  };
}
