/**
 * Proposals (docs/environments-policy.md): a change to an environment that waits for a different
 * admin or owner to approve it, then is applied atomically as one new version.
 *
 * - The set/unset lists (values included) are sealed with the project's data key, AAD purpose
 *   `proposal:<id>`; `summary` keeps keys and operations only, so listings never open anything.
 * - Every kind becomes set/unset when proposed: an import is parsed then, a rollback is the
 *   difference from the base version to the version restored, a promotion the plan of promote.ts.
 * - Conflict: a change whose keys were changed in the environment after its base version (a
 *   rollback: any change after its base) cannot be applied any more; approving it answers 409
 *   proposal_conflict and marks it `conflict`. Other keys may have changed: the proposal is then
 *   applied on top of the newest version.
 * - Freezes do not block proposing, only approving.
 */
import { AppError, type Queryable } from '@peep/pkg';
import { type MasterKeys, openForProject, sealForProject } from '@peep/pkg/project-keys';
import { iso, isoRequired } from '../core/types.js';

export const PROPOSAL_KINDS = ['change', 'import', 'rollback', 'promotion'] as const;
export type ProposalKind = (typeof PROPOSAL_KINDS)[number];
export const PROPOSAL_STATUSES = ['pending', 'applied', 'rejected', 'cancelled', 'conflict'] as const;
export type ProposalStatus = (typeof PROPOSAL_STATUSES)[number];

export interface SetItem {
  key: string;
  value: string;
  secret: boolean;
  service: string;
}
export interface UnsetItem {
  key: string;
  service: string;
}
/** What is sealed: the change with its values. */
export interface SealedChange {
  set: SetItem[];
  unset: UnsetItem[];
}
export interface ChangeSummary {
  key: string;
  service: string;
  op: 'added' | 'changed' | 'removed';
  secret: boolean;
}
export interface ProposalSummary {
  changes: ChangeSummary[];
  /** Rollback proposals: the version they restore. */
  restoredVersion: number | null;
}

export interface Proposal {
  id: string;
  number: number;
  environment: { id: string; slug: string };
  kind: ProposalKind;
  status: ProposalStatus;
  baseVersion: number;
  message: string;
  changes: ChangeSummary[];
  restoredVersion: number | null;
  author: { id: string; email: string } | null;
  createdAt: string;
  decidedBy: { id: string; email: string } | null;
  decidedAt: string | null;
  decisionComment: string | null;
  appliedVersion: number | null;
  source: { environment: { id: string; slug: string } | null; version: number } | null;
}

export interface ProposalRecord {
  id: string;
  project_id: string;
  environment_id: string;
  environment_slug: string;
  number: number;
  kind: ProposalKind;
  base_version: number;
  message: string;
  changes_sealed: string;
  summary: ProposalSummary | ChangeSummary[];
  status: ProposalStatus;
  author_id: string | null;
  author_email: string | null;
  created_at: Date;
  decided_by: string | null;
  decided_by_email: string | null;
  decided_at: Date | null;
  decision_comment: string | null;
  applied_version: number | null;
  source_environment_id: string | null;
  source_slug: string | null;
  source_version: number | null;
}

const purpose = (proposalId: string) => `proposal:${proposalId}`;

export const sealChange = (
  q: Queryable,
  keys: MasterKeys,
  projectId: string,
  proposalId: string,
  c: SealedChange,
) => sealForProject(q, keys, projectId, JSON.stringify({ set: c.set, unset: c.unset }), purpose(proposalId));

export async function openChange(
  q: Queryable,
  keys: MasterKeys,
  r: Pick<ProposalRecord, 'id' | 'project_id' | 'changes_sealed'>,
): Promise<SealedChange> {
  const c = JSON.parse(
    await openForProject(q, keys, r.project_id, r.changes_sealed, purpose(r.id)),
  ) as SealedChange;
  return { set: c.set ?? [], unset: c.unset ?? [] };
}

const summaryOf = (r: ProposalRecord): ProposalSummary =>
  Array.isArray(r.summary) ? { changes: r.summary, restoredVersion: null } : r.summary;

export function toProposal(r: ProposalRecord): Proposal {
  const s = summaryOf(r);
  return {
    id: r.id,
    number: r.number,
    environment: { id: r.environment_id, slug: r.environment_slug },
    kind: r.kind,
    status: r.status,
    baseVersion: r.base_version,
    message: r.message,
    changes: s.changes,
    restoredVersion: s.restoredVersion,
    author: r.author_id && r.author_email ? { id: r.author_id, email: r.author_email } : null,
    createdAt: isoRequired(r.created_at),
    decidedBy: r.decided_by && r.decided_by_email ? { id: r.decided_by, email: r.decided_by_email } : null,
    decidedAt: iso(r.decided_at),
    decisionComment: r.decision_comment,
    appliedVersion: r.applied_version,
    source:
      r.source_version !== null
        ? {
            environment:
              r.source_environment_id && r.source_slug
                ? { id: r.source_environment_id, slug: r.source_slug }
                : null,
            version: r.source_version,
          }
        : null,
  };
}

const SELECT = `SELECT p.id, p.project_id, p.environment_id, e.slug AS environment_slug, p.number, p.kind,
    p.base_version, p.message, p.changes_sealed, p.summary, p.status, p.author_id, p.author_email, p.created_at,
    p.decided_by, p.decided_by_email, p.decided_at, p.decision_comment, p.applied_version,
    p.source_environment_id, s.slug AS source_slug, p.source_version
  FROM env_proposals p
  JOIN environments e ON e.id = p.environment_id
  LEFT JOIN environments s ON s.id = p.source_environment_id`;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface NewProposal {
  projectId: string;
  environmentId: string;
  kind: ProposalKind;
  baseVersion: number;
  message: string;
  summary: ProposalSummary;
  author: { id: string; email: string };
  source?: { environmentId: string; version: number };
}

export const proposalsRepo = {
  /**
   * A proposal by uuid or by its number in the project (`12`, or `#12`); null when neither, or when
   * it belongs to another project. `lock` takes the row for the rest of the transaction.
   */
  async get(q: Queryable, projectId: string, ref: string, lock = false): Promise<ProposalRecord | null> {
    const r = ref.startsWith('#') ? ref.slice(1) : ref;
    let where: string;
    if (UUID_RE.test(r)) where = 'p.id = $2';
    else if (/^[1-9][0-9]{0,8}$/.test(r)) where = 'p.number = $2::int';
    else return null;
    const { rows } = await q.query<ProposalRecord>(
      `${SELECT} WHERE p.project_id = $1 AND ${where}${lock ? ' FOR UPDATE OF p' : ''}`,
      [projectId, r.toLowerCase()],
    );
    return rows[0] ?? null;
  },

  async list(
    q: Queryable,
    projectId: string,
    f: { status?: ProposalStatus; environmentId?: string; limit: number },
  ): Promise<ProposalRecord[]> {
    const { rows } = await q.query<ProposalRecord>(
      `${SELECT} WHERE p.project_id = $1 AND ($2::text IS NULL OR p.status = $2)
         AND ($3::uuid IS NULL OR p.environment_id = $3)
       ORDER BY p.number DESC LIMIT $4`,
      [projectId, f.status ?? null, f.environmentId ?? null, f.limit],
    );
    return rows;
  },

  /**
   * Inserts a proposal with the project's next number (the project row is locked for it, so two
   * proposals never get the same number). `id` is chosen by the caller, which sealed the change with it.
   */
  async insert(q: Queryable, id: string, p: NewProposal, changesSealed: string): Promise<void> {
    await q.query('SELECT id FROM projects WHERE id = $1 FOR UPDATE', [p.projectId]);
    const { rows } = await q.query<{ n: number }>(
      'SELECT COALESCE(max(number), 0)::int + 1 AS n FROM env_proposals WHERE project_id = $1',
      [p.projectId],
    );
    await q.query(
      `INSERT INTO env_proposals (id, project_id, environment_id, number, kind, base_version, message, changes_sealed,
         summary, author_id, author_email, source_environment_id, source_version)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [
        id,
        p.projectId,
        p.environmentId,
        rows[0]?.n ?? 1,
        p.kind,
        p.baseVersion,
        p.message,
        changesSealed,
        JSON.stringify(p.summary),
        p.author.id,
        p.author.email,
        p.source?.environmentId ?? null,
        p.source?.version ?? null,
      ],
    );
  },

  /** Records a decision on a pending proposal; false when it was no longer pending. */
  async decide(
    q: Queryable,
    id: string,
    d: {
      status: Exclude<ProposalStatus, 'pending'>;
      by: { id: string; email: string } | null;
      comment: string | null;
      appliedVersion?: number;
      at: Date;
    },
  ): Promise<boolean> {
    const r = await q.query(
      `UPDATE env_proposals SET status = $2, decided_by = $3, decided_by_email = $4, decision_comment = $5,
         applied_version = $6, decided_at = $7
       WHERE id = $1 AND status = 'pending'`,
      [id, d.status, d.by?.id ?? null, d.by?.email ?? null, d.comment, d.appliedVersion ?? null, d.at],
    );
    return r.rowCount > 0;
  },

  /** `service\0key` of every variable changed in the environment after `version`. */
  async changedSince(q: Queryable, environmentId: string, version: number): Promise<Set<string>> {
    const { rows } = await q.query<{ changes: { key: string; service?: string }[] }>(
      'SELECT changes FROM env_versions WHERE environment_id = $1 AND number > $2',
      [environmentId, version],
    );
    const out = new Set<string>();
    for (const r of rows) for (const c of r.changes ?? []) out.add(scopedKey(c.service ?? '', c.key));
    return out;
  },
};

export const scopedKey = (service: string, key: string) => `${service}\u0000${key}`;

/** The keys (with their service) a proposal touches that were changed after its base version. */
export function conflicts(
  kind: ProposalKind,
  change: SealedChange,
  changedSince: Set<string>,
): { key: string; service: string }[] {
  const split = (s: string) => {
    const [service = '', key = ''] = s.split('\u0000');
    return { key, service };
  };
  if (kind === 'rollback') return [...changedSince].sort().map(split);
  const touched = [...change.set, ...change.unset].map((c) => scopedKey(c.service, c.key));
  return [...new Set(touched.filter((t) => changedSince.has(t)))].sort().map(split);
}

/** Refuses a proposal that is not pending (409 proposal_not_pending, with its status). */
export function assertPending(r: Pick<ProposalRecord, 'status' | 'number'>): void {
  if (r.status !== 'pending')
    throw new AppError('proposal_not_pending', `Proposal #${r.number} is ${r.status}, not pending.`, {
      status: r.status,
    });
}
