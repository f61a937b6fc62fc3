/** All SQL for ingest keys (project + environment scoped credentials for SDKs and agents). */
import type { Queryable } from '@peep/pkg';
import type { IngestKey } from '@peep/pkg/schemas';
import { iso, isoRequired } from '../core/types.js';

interface Row {
  id: string;
  name: string;
  environment_id: string;
  prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}
const COLS = 'id, name, environment_id, prefix, created_at, last_used_at, revoked_at';
const toKey = (r: Row): IngestKey => ({
  id: r.id,
  name: r.name,
  environmentId: r.environment_id,
  prefix: r.prefix,
  createdAt: isoRequired(r.created_at),
  lastUsedAt: iso(r.last_used_at),
  revokedAt: iso(r.revoked_at),
});

export const ingestKeysRepo = {
  async list(q: Queryable, projectId: string): Promise<IngestKey[]> {
    const { rows } = await q.query<Row>(
      `SELECT ${COLS} FROM ingest_keys WHERE project_id = $1 ORDER BY created_at DESC`,
      [projectId],
    );
    return rows.map(toKey);
  },
  async insert(
    q: Queryable,
    k: {
      projectId: string;
      environmentId: string;
      name: string;
      keyHash: string;
      prefix: string;
      createdBy: string;
    },
  ): Promise<IngestKey> {
    const { rows } = await q.query<Row>(
      `INSERT INTO ingest_keys (project_id, environment_id, name, key_hash, prefix, created_by)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLS}`,
      [k.projectId, k.environmentId, k.name, k.keyHash, k.prefix, k.createdBy],
    );
    return toKey(rows[0] as Row);
  },
  async revoke(q: Queryable, projectId: string, id: string, now: Date): Promise<IngestKey | null> {
    const { rows } = await q.query<Row>(
      `UPDATE ingest_keys SET revoked_at = COALESCE(revoked_at, $3) WHERE project_id = $1 AND id = $2 RETURNING ${COLS}`,
      [projectId, id, now],
    );
    return rows[0] ? toKey(rows[0]) : null;
  },
  /** For the ingest endpoints of the next issue: the key's scope, if it is known and not revoked. */
  async byHash(
    q: Queryable,
    keyHash: string,
  ): Promise<{ id: string; projectId: string; environmentId: string; revoked: boolean } | null> {
    const { rows } = await q.query<{
      id: string;
      project_id: string;
      environment_id: string;
      revoked_at: Date | null;
    }>('SELECT id, project_id, environment_id, revoked_at FROM ingest_keys WHERE key_hash = $1', [keyHash]);
    const r = rows[0];
    return r
      ? { id: r.id, projectId: r.project_id, environmentId: r.environment_id, revoked: r.revoked_at !== null }
      : null;
  },
};
