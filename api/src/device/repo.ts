/** All SQL for RFC 8628 device authorization requests. Times come from the database clock. */
import type { Queryable } from '@peep/pkg';
import type { Scope } from '@peep/pkg/schemas';

export interface DeviceRow {
  id: string;
  user_code: string;
  client_id: string;
  scopes: Scope[];
  status: 'pending' | 'approved' | 'denied' | 'consumed';
  interval_seconds: number;
  request_ip: string | null;
  request_user_agent: string | null;
  user_id: string | null;
  created_at: Date;
  expires_at: Date;
  expired: boolean;
}
const COLS = `id, user_code, client_id, scopes, status, interval_seconds, request_ip, request_user_agent, user_id,
              created_at, expires_at, (expires_at <= now()) AS expired`;

export const deviceRepo = {
  async insert(
    q: Queryable,
    d: {
      deviceCodeHash: string;
      userCode: string;
      clientId: string;
      scopes: Scope[];
      interval: number;
      ttlSeconds: number;
      ip: string | null;
      userAgent: string | null;
    },
  ): Promise<boolean> {
    const r = await q.query(
      `INSERT INTO device_codes (device_code_hash, user_code, client_id, scopes, interval_seconds, request_ip, request_user_agent, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now() + $8 * interval '1 second')
       ON CONFLICT DO NOTHING`,
      [
        d.deviceCodeHash,
        d.userCode,
        d.clientId,
        d.scopes,
        d.interval,
        d.ip,
        d.userAgent?.slice(0, 512) ?? null,
        d.ttlSeconds,
      ],
    );
    return r.rowCount > 0;
  },
  async byDeviceCode(q: Queryable, hash: string): Promise<DeviceRow | null> {
    const { rows } = await q.query<DeviceRow>(
      `SELECT ${COLS} FROM device_codes WHERE device_code_hash = $1`,
      [hash],
    );
    return rows[0] ?? null;
  },
  /** The newest request with this user code (pending ones are unique). */
  async byUserCode(q: Queryable, userCode: string): Promise<DeviceRow | null> {
    const { rows } = await q.query<DeviceRow>(
      `SELECT ${COLS} FROM device_codes WHERE user_code = $1 ORDER BY (status = 'pending') DESC, created_at DESC LIMIT 1`,
      [userCode],
    );
    return rows[0] ?? null;
  },
  /**
   * Records a poll if the client waited at least its interval since the previous one; otherwise
   * raises the interval by 5 s (RFC 8628 §3.5 slow_down) and returns false. Atomic under concurrency.
   */
  async registerPoll(q: Queryable, id: string): Promise<boolean> {
    const ok = await q.query(
      `UPDATE device_codes SET last_polled_at = now()
        WHERE id = $1 AND (last_polled_at IS NULL OR last_polled_at <= now() - interval_seconds * interval '1 second')`,
      [id],
    );
    if (ok.rowCount > 0) return true;
    await q.query(
      'UPDATE device_codes SET interval_seconds = interval_seconds + 5, last_polled_at = now() WHERE id = $1',
      [id],
    );
    return false;
  },
  async decide(q: Queryable, id: string, userId: string, status: 'approved' | 'denied'): Promise<boolean> {
    const r = await q.query(
      `UPDATE device_codes SET status = $3, user_id = $2, decided_at = now()
        WHERE id = $1 AND status = 'pending' AND expires_at > now()`,
      [id, userId, status],
    );
    return r.rowCount > 0;
  },
  /** Moves an approved request to consumed exactly once; returns the approving user. */
  async consume(q: Queryable, id: string): Promise<string | null> {
    const { rows } = await q.query<{ user_id: string }>(
      `UPDATE device_codes SET status = 'consumed' WHERE id = $1 AND status = 'approved' RETURNING user_id`,
      [id],
    );
    return rows[0]?.user_id ?? null;
  },
  async linkToken(q: Queryable, id: string, tokenId: string): Promise<void> {
    await q.query('UPDATE device_codes SET token_id = $2 WHERE id = $1', [id, tokenId]);
  },
};
