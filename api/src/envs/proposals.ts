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
import { randomUUID } from 'node:crypto';
import { AppError, type Clock, type Db, type Queryable } from '@peep/pkg';
import { defaultSecret } from '@peep/pkg/env-vars';
import { type MasterKeys, openForProject, sealForProject } from '@peep/pkg/project-keys';
import type { Project, Role } from '@peep/pkg/schemas';
import { iso, isoRequired } from '../core/types.js';
import {
  assertNotFrozen,
  atLeast,
  type EffectivePolicy,
  type EnvRow,
  effectivePolicy,
  findEnvironment,
} from './policy.js';
import { assertRequiredKeys } from './promote.js';
import { applyChange, currentVersion, parseImport, readVars, validateChange } from './store.js';

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

// ---- the service

export interface Actor {
  id: string;
  email: string;
}

export interface ProposeInput {
  kind: 'change' | 'import' | 'rollback';
  baseVersion: number;
  message: string;
  set?: { key: string; value: string; secret?: boolean; service?: string }[];
  unset?: { key: string; service?: string }[];
  toVersion?: number;
  format?: 'dotenv' | 'json';
  content?: string;
  service?: string;
  secret?: boolean;
  replace?: boolean;
}

export interface MaskedDiff {
  added: { key: string; service: string; secret: boolean; value: string | null }[];
  removed: { key: string; service: string; secret: boolean; value: string | null }[];
  changed: { key: string; service: string; secret: boolean; from: string | null; to: string | null }[];
  unchanged: number;
}

/** A current variable, by `scopedKey(service, key)`. */
export type CurrentVars = ReadonlyMap<string, { value: string; secret: boolean }>;

/**
 * The change without its no-ops (a set to the same value and flag, an unset of an absent variable),
 * each remaining item summarised as added, changed or removed against `current`, and its diff
 * (plaintext: the caller masks it).
 */
export function summarize(
  change: SealedChange,
  current: CurrentVars,
): { change: SealedChange; summary: ChangeSummary[]; diff: MaskedDiff } {
  const out: SealedChange = { set: [], unset: [] };
  const summary: ChangeSummary[] = [];
  const diff: MaskedDiff = { added: [], removed: [], changed: [], unchanged: 0 };
  for (const s of change.set) {
    const cur = current.get(scopedKey(s.service, s.key));
    if (cur && cur.value === s.value && cur.secret === s.secret) {
      diff.unchanged++;
      continue;
    }
    out.set.push(s);
    summary.push({ key: s.key, service: s.service, op: cur ? 'changed' : 'added', secret: s.secret });
    if (cur)
      diff.changed.push({
        key: s.key,
        service: s.service,
        secret: s.secret || cur.secret,
        from: cur.value,
        to: s.value,
      });
    else diff.added.push({ key: s.key, service: s.service, secret: s.secret, value: s.value });
  }
  for (const u of change.unset) {
    const cur = current.get(scopedKey(u.service, u.key));
    if (!cur) {
      diff.unchanged++;
      continue;
    }
    out.unset.push(u);
    summary.push({ key: u.key, service: u.service, op: 'removed', secret: cur.secret });
    diff.removed.push({ key: u.key, service: u.service, secret: cur.secret, value: cur.value });
  }
  const order = (a: { key: string; service: string }, b: { key: string; service: string }) =>
    a.service === b.service ? (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) : a.service < b.service ? -1 : 1;
  summary.sort(order);
  return { change: out, summary, diff };
}

/** Secret values become null; plain ones stay (the caller may read the environment). */
export function maskDiff(d: MaskedDiff): MaskedDiff {
  return {
    added: d.added.map((a) => ({ ...a, value: a.secret ? null : a.value })),
    removed: d.removed.map((a) => ({ ...a, value: a.secret ? null : a.value })),
    changed: d.changed.map((c) => ({ ...c, from: c.secret ? null : c.from, to: c.secret ? null : c.to })),
    unchanged: d.unchanged,
  };
}

export interface ProposalDeps {
  db: Db;
  clock: Clock;
  keys: MasterKeys;
}

export function createProposalService(deps: ProposalDeps) {
  const { db, clock, keys } = deps;

  /** Every variable of the environment (all scopes) at `version` (default: current), by scopedKey. */
  async function varsOf(q: Queryable, env: EnvRow, version?: number) {
    const vars = await readVars(q, keys, {
      projectId: env.projectId,
      environmentId: env.id,
      ...(version !== undefined ? { version } : {}),
    });
    return new Map(vars.map((v) => [scopedKey(v.service, v.key), { value: v.value, secret: v.secret }]));
  }

  /** The set/unset a proposal input stands for, validated like the direct write would be. */
  async function changeOf(env: EnvRow, input: ProposeInput): Promise<SealedChange> {
    const now = await varsOf(db, env);
    const split = (k: string) => {
      const [service = '', key = ''] = k.split('\u0000');
      return { key, service };
    };
    if (input.kind === 'rollback') {
      if (input.toVersion === undefined)
        throw new AppError('validation_failed', 'A rollback proposal needs `toVersion`.');
      const then = await varsOf(db, env, input.toVersion);
      return {
        set: [...then].map(([k, v]) => ({ ...split(k), value: v.value, secret: v.secret })),
        unset: [...now.keys()].filter((k) => !then.has(k)).map(split),
      };
    }
    let items: { key: string; value: string; secret?: boolean; service?: string }[];
    let unsetItems: { key: string; service?: string }[];
    if (input.kind === 'import') {
      if (input.content === undefined || input.format === undefined)
        throw new AppError('validation_failed', 'An import proposal needs `format` and `content`.');
      const entries = parseImport(input.content, input.format);
      const service = input.service ?? '';
      items = entries.map((e) => ({
        key: e.key,
        value: e.value,
        service,
        ...(input.secret !== undefined ? { secret: input.secret } : {}),
      }));
      const inFile = new Set(entries.map((e) => e.key));
      unsetItems = input.replace
        ? [...now.keys()].map(split).filter((u) => u.service === service && !inFile.has(u.key))
        : [];
    } else {
      items = input.set ?? [];
      unsetItems = input.unset ?? [];
    }
    const { set, unset } = validateChange({ set: items, unset: unsetItems });
    const missing = unset.filter((u) => !now.has(scopedKey(u.service, u.key)));
    if (missing.length)
      throw new AppError(
        'variable_not_found',
        `Not in ${env.slug}: ${missing.map((m) => m.key).join(', ')}.`,
        missing,
      );
    return {
      set: set.map((s) => ({
        key: s.key,
        value: s.value,
        service: s.service,
        secret: s.secret ?? now.get(scopedKey(s.service, s.key))?.secret ?? defaultSecret(s.key),
      })),
      unset,
    };
  }

  async function load(project: Project, ref: string): Promise<{ r: ProposalRecord; env: EnvRow }> {
    const r = await proposalsRepo.get(db, project.id, ref);
    if (!r) throw new AppError('proposal_not_found', `Project has no proposal ${ref}.`);
    return { r, env: await findEnvironment(db, project.id, r.environment_id) };
  }

  const reload = async (project: Project, id: string) => toProposal((await load(project, id)).r);

  /** Seals and stores a proposal for `change` (no-ops dropped); 400 when nothing would change. */
  async function create(
    project: Project,
    env: EnvRow,
    actor: Actor,
    p: {
      kind: ProposalKind;
      baseVersion: number;
      message: string;
      change: SealedChange;
      restoredVersion?: number;
      source?: { environmentId: string; version: number };
    },
  ): Promise<Proposal> {
    const current = await varsOf(db, env);
    const s = summarize(p.change, current);
    if (s.summary.length === 0)
      throw new AppError(
        'validation_failed',
        'The proposal changes nothing: every value is already as proposed.',
      );
    const id = randomUUID();
    const sealed = await sealChange(db, keys, project.id, id, s.change);
    await db.transaction((tx) =>
      proposalsRepo.insert(
        tx,
        id,
        {
          projectId: project.id,
          environmentId: env.id,
          kind: p.kind,
          baseVersion: p.baseVersion,
          message: p.message,
          summary: { changes: s.summary, restoredVersion: p.restoredVersion ?? null },
          author: actor,
          ...(p.source ? { source: p.source } : {}),
        },
        sealed,
      ),
    );
    return reload(project, id);
  }

  const policyFor = (env: EnvRow): Promise<EffectivePolicy> => effectivePolicy(db, env);

  function need(project: Project, role: Role, what: string): void {
    if (!atLeast(project.role, role))
      throw new AppError(
        'forbidden',
        `${what} needs the ${role} role or higher here; you are ${project.role}.`,
      );
  }

  return {
    create,

    async propose(project: Project, env: EnvRow, actor: Actor, input: ProposeInput): Promise<Proposal> {
      need(project, (await policyFor(env)).proposeRole, `Proposing changes to ${env.slug}`);
      const current = await currentVersion(db, env.id);
      if (input.baseVersion !== current)
        throw new AppError(
          'version_conflict',
          `The proposal is based on version ${input.baseVersion}; ${env.slug} is at version ${current}.`,
          { currentVersion: current },
        );
      const change = await changeOf(env, input);
      return create(project, env, actor, {
        kind: input.kind,
        baseVersion: current,
        message: input.message,
        change,
        ...(input.kind === 'rollback' && input.toVersion !== undefined
          ? { restoredVersion: input.toVersion }
          : {}),
      });
    },

    /** Proposals of environments the caller may read, newest first. */
    async list(
      project: Project,
      f: { status?: ProposalStatus; env?: string; limit?: number },
    ): Promise<Proposal[]> {
      const env = f.env ? await findEnvironment(db, project.id, f.env) : null;
      const rows = await proposalsRepo.list(db, project.id, {
        ...(f.status ? { status: f.status } : {}),
        ...(env ? { environmentId: env.id } : {}),
        limit: f.limit ?? 100,
      });
      const readable = new Map<string, boolean>();
      const out: Proposal[] = [];
      for (const r of rows) {
        let ok = readable.get(r.environment_id);
        if (ok === undefined) {
          const e = await findEnvironment(db, project.id, r.environment_id);
          ok = atLeast(project.role, (await policyFor(e)).readRole);
          readable.set(r.environment_id, ok);
        }
        if (ok) out.push(toProposal(r));
      }
      return out;
    },

    /** The proposal and what it would change now (secret values masked). */
    async get(project: Project, ref: string): Promise<{ proposal: Proposal; diff: MaskedDiff }> {
      const { r, env } = await load(project, ref);
      need(project, (await policyFor(env)).readRole, `Reading ${env.slug}`);
      const change = await openChange(db, keys, r);
      const s = summarize(change, await varsOf(db, env));
      return { proposal: toProposal(r), diff: maskDiff(s.diff) };
    },

    /** The same with secret values shown, for those with revealRole (the route audits it). */
    async reveal(
      project: Project,
      ref: string,
      seen: (p: Proposal) => void,
    ): Promise<{ proposal: Proposal; diff: MaskedDiff }> {
      const { r, env } = await load(project, ref);
      seen(toProposal(r));
      need(project, (await policyFor(env)).revealRole, `Seeing secret values of ${env.slug}`);
      const change = await openChange(db, keys, r);
      return { proposal: toProposal(r), diff: summarize(change, await varsOf(db, env)).diff };
    },

    /**
     * Applies a pending proposal as one new version, authored by its author and approved by `actor`:
     * 403 forbidden below approveRole, 403 self_approval for the author, 423 environment_frozen, 409
     * proposal_conflict (and the proposal marked `conflict`) when its keys changed since its base,
     * 422 required_keys_missing when a promotion would leave required keys missing.
     */
    async approve(
      project: Project,
      ref: string,
      actor: Actor,
      comment: string | null,
      /** Called with the proposal once found (so a refusal is audited with its keys). */
      seen: (p: Proposal) => void = () => {},
    ): Promise<{ proposal: Proposal; version: number }> {
      const { r, env } = await load(project, ref);
      seen(toProposal(r));
      assertPending(r);
      need(project, (await policyFor(env)).approveRole, `Approving changes to ${env.slug}`);
      if (r.author_id === actor.id)
        throw new AppError(
          'self_approval',
          'You proposed this change; a different admin or owner must approve it.',
        );
      const change = await openChange(db, keys, r);
      if (r.kind === 'promotion') await assertRequiredKeys(db, keys, env, change);
      const outcome = await db.transaction(async (tx) => {
        const locked = await proposalsRepo.get(tx, project.id, r.id, true);
        if (!locked) throw new AppError('proposal_not_found');
        assertPending(locked);
        await assertNotFrozen(tx, env, clock.now());
        const base = await lockEnvironment(tx, env.id);
        const clash = conflicts(r.kind, change, await proposalsRepo.changedSince(tx, env.id, r.base_version));
        if (clash.length) return { clash, version: 0 };
        const applied = await applyChange(tx, keys, {
          projectId: project.id,
          environmentId: env.id,
          baseVersion: base,
          set: change.set,
          unset: change.unset,
          kind: r.kind,
          message: r.message,
          actor: r.author_id && r.author_email ? { id: r.author_id, email: r.author_email } : null,
          proposalId: r.id,
          approvedBy: actor.id,
          ...(r.kind === 'rollback' ? { restoredVersion: toProposal(r).restoredVersion ?? undefined } : {}),
          ...(r.source_environment_id && r.source_version !== null
            ? { source: { environmentId: r.source_environment_id, version: r.source_version } }
            : {}),
        });
        await proposalsRepo.decide(tx, r.id, {
          status: 'applied',
          by: actor,
          comment,
          appliedVersion: applied.version,
          at: clock.now(),
        });
        return { clash: null, version: applied.version };
      });
      if (outcome.clash) {
        await proposalsRepo.decide(db, r.id, {
          status: 'conflict',
          by: actor,
          comment,
          at: clock.now(),
        });
        throw new AppError(
          'proposal_conflict',
          `Changed in ${env.slug} since version ${r.base_version}: ${outcome.clash.map((c) => c.key).join(', ')}. Propose it again.`,
          { keys: outcome.clash },
        );
      }
      return { proposal: await reload(project, r.id), version: outcome.version };
    },

    async reject(project: Project, ref: string, actor: Actor, comment: string | null): Promise<Proposal> {
      const { r, env } = await load(project, ref);
      assertPending(r);
      need(project, (await policyFor(env)).approveRole, `Rejecting changes to ${env.slug}`);
      if (
        !(await proposalsRepo.decide(db, r.id, { status: 'rejected', by: actor, comment, at: clock.now() }))
      )
        assertPending({ status: 'applied', number: r.number });
      return reload(project, r.id);
    },

    /** The author, or an admin or owner of the project, withdraws a pending proposal. */
    async cancel(project: Project, ref: string, actor: Actor): Promise<Proposal> {
      const { r } = await load(project, ref);
      assertPending(r);
      if (r.author_id !== actor.id && !atLeast(project.role, 'admin'))
        throw new AppError('forbidden', 'Only its author or an admin or owner can cancel a proposal.');
      if (
        !(await proposalsRepo.decide(db, r.id, {
          status: 'cancelled',
          by: actor,
          comment: null,
          at: clock.now(),
        }))
      )
        assertPending({ status: 'applied', number: r.number });
      return reload(project, r.id);
    },

    /** What an audit entry says about a proposal: keys and services, never values. */
    details(p: Proposal): Record<string, unknown> {
      return {
        proposal: { id: p.id, number: p.number },
        keys: [...new Set(p.changes.map((c) => c.key))].sort(),
        services: [...new Set(p.changes.map((c) => c.service))].sort(),
        kind: p.kind,
      };
    },
  };
}
export type ProposalService = ReturnType<typeof createProposalService>;

/** Locks the environment row for the transaction and answers its current version. */
async function lockEnvironment(tx: Queryable, environmentId: string): Promise<number> {
  const { rows } = await tx.query<{ v: number }>(
    'SELECT var_version AS v FROM environments WHERE id = $1 FOR UPDATE',
    [environmentId],
  );
  return rows[0]?.v ?? 0;
}
