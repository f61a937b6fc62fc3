/** Housekeeping SQL: expired sessions, one-time links and device logins are deleted after a grace day. */
import type { Queryable } from '@peep/pkg';

export const janitorRepo = {
  async purge(
    q: Queryable,
    now: Date,
  ): Promise<{ sessions: number; setupTokens: number; deviceCodes: number }> {
    const cutoff = new Date(now.getTime() - 86_400_000);
    const sessions = await q.query('DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1', [cutoff]);
    const setupTokens = await q.query('DELETE FROM setup_tokens WHERE expires_at < $1', [cutoff]);
    const deviceCodes = await q.query('DELETE FROM device_codes WHERE expires_at < $1', [cutoff]);
    return {
      sessions: sessions.rowCount,
      setupTokens: setupTokens.rowCount,
      deviceCodes: deviceCodes.rowCount,
    };
  },
};
