/**
 * The rules of uptime targets (docs/uptime.md): what a valid target is, defaults, keyset paging,
 * heartbeat secrets (only their hash and prefix are stored), uptime percentages and latency series
 * from the per-target rollups. Every change is published on the bus as `uptime.targets` so the
 * scheduler reloads; heartbeats as `uptime.beat`. No HTTP here, no SQL (repo.ts).
 */
import { createIncidentStore, NOTIFY_WAKE } from '@peep/builder';
import { AppError, type Bus, type Config, type Db, newSecret, type Queryable, sha256 } from '@peep/pkg';
import { type CheckError, validateCheck } from '@peep/pkg/probe-spec';
import type { Project } from '@peep/pkg/schemas';
import { Sketch } from '@peep/pkg/sketch';
import type { Clock } from '../core/types.js';
import { type ListFilters, type StoredTarget, type TargetValues, type Tier, targetsRepo } from './repo.js';
import type {
  ListTargetsQuery,
  SeriesPoint,
  SeriesRange,
  Target,
  TargetDetail,
  TargetInput,
  TargetKind,
  TargetList,
  TargetPatch,
  TargetSeries,
} from './schemas.js';

export const TARGETS_SUBJECT = 'uptime.targets';
export const BEAT_SUBJECT = 'uptime.beat';
export interface TargetsChanged {
  projectId: string;
  /** null: many targets of the project changed at once (apply); reload all of them. */
  targetId: string | null;
}
export interface Beat {
  targetId: string;
  shard: number;
}
/** Beyond this many changed targets, apply publishes one project-wide message instead of one each. */
export const PUBLISH_EACH_MAX = 100;

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const HEARTBEAT_PREFIX = 'peep_hb';
export const newHeartbeatToken = () => {
  const token = newSecret(HEARTBEAT_PREFIX);
  return { token, hash: sha256(token), prefix: token.slice(0, 12) };
};

/** The fields apply compares, in the order its diff lists them. */
export const COMPARED = [
  'kind',
  'spec',
  'intervalS',
  'graceS',
  'failAfter',
  'recoverAfter',
  'degradedMs',
  'anomaly',
  'sensitivity',
  'enabled',
  'tags',
] as const;

/** JSON with object keys sorted, so two specs compare equal whatever order jsonb keeps keys in. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/** The fields of `after` that differ from `before`. */
export function changedFields(before: Target, after: TargetValues): string[] {
  const out: string[] = [];
  for (const f of COMPARED) {
    const a = before[f];
    const b = after[f];
    if (canonical(a) !== canonical(b)) out.push(f);
  }
  return out;
}

/**
 * The stored spec of a target of `kind`: heartbeats have none (`{}`); HTTP and TCP specs go through
 * validateCheck, with `kind` filled in from the target when left out.
 */
export function normalizeSpec(
  kind: TargetKind,
  spec: unknown,
): { ok: true; spec: Record<string, unknown> } | { ok: false; errors: CheckError[] } {
  if (kind === 'heartbeat') {
    if (spec === undefined || spec === null) return { ok: true, spec: {} };
    if (typeof spec === 'object' && !Array.isArray(spec) && Object.keys(spec).length === 0)
      return { ok: true, spec: {} };
    return {
      ok: false,
      errors: [{ path: '', code: 'unknown_field', message: 'a heartbeat target takes no spec' }],
    };
  }
  if (spec === undefined || spec === null)
    return { ok: false, errors: [{ path: '', code: 'required', message: `a ${kind} target needs a spec` }] };
  let input = spec;
  if (typeof spec === 'object' && !Array.isArray(spec)) {
    const k = (spec as { kind?: unknown }).kind;
    if (k === undefined) input = { kind, ...spec };
    else if (k !== kind)
      return {
        ok: false,
        errors: [
          {
            path: 'kind',
            code: 'invalid_kind',
            message: `spec kind ${JSON.stringify(k)} is not the target's ${kind}`,
          },
        ],
      };
  }
  const v = validateCheck(input);
  if (!v.ok) return v;
  const nul = nulPath(v.check, '');
  if (nul !== null)
    return {
      ok: false,
      errors: [{ path: nul, code: 'invalid_value', message: `${nul || 'spec'} contains a NUL character` }],
    };
  return { ok: true, spec: v.check as unknown as Record<string, unknown> };
}

/** The path of the first string holding U+0000 (which jsonb cannot store), else null. */
function nulPath(v: unknown, path: string): string | null {
  if (typeof v === 'string') return v.includes('\u0000') ? path : null;
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) {
      const p = nulPath(x, `${path}[${i}]`);
      if (p !== null) return p;
    }
  } else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) {
      const p = nulPath(x, path ? `${path}.${k}` : k);
      if (p !== null) return p;
    }
  return null;
}

export function specError(errors: CheckError[]): AppError {
  const first = errors[0];
  return new AppError(
    'invalid_spec',
    first ? `spec${first.path ? `.${first.path}` : ''}: ${first.message}` : 'invalid spec',
    errors,
  );
}

/** A target's settings with the defaults filled in (what a create or an apply item means). */
export function withDefaults(
  input: Omit<TargetInput, 'env'>,
  environmentId: string,
  spec: Record<string, unknown>,
): TargetValues {
  return {
    environmentId,
    name: input.name,
    kind: input.kind,
    spec,
    intervalS: input.intervalS,
    graceS: input.graceS ?? 0,
    failAfter: input.failAfter ?? 1,
    recoverAfter: input.recoverAfter ?? 1,
    degradedMs: input.degradedMs ?? null,
    anomaly: input.anomaly ?? true,
    sensitivity: input.sensitivity ?? 'medium',
    enabled: input.enabled ?? true,
    tags: [...(input.tags ?? [])].sort(),
  };
}

export function encodeCursor(t: { name: string; id: string }): string {
  return Buffer.from(JSON.stringify([t.name, t.id])).toString('base64url');
}
export function decodeCursor(c: string): { name: string; id: string } {
  try {
    const v: unknown = JSON.parse(Buffer.from(c, 'base64url').toString('utf8'));
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      typeof v[0] === 'string' &&
      !v[0].includes('\u0000') &&
      typeof v[1] === 'string' &&
      UUID.test(v[1])
    )
      return { name: v[0], id: v[1] };
  } catch {}
  throw new AppError('invalid_cursor');
}

const UPTIME_WINDOWS = [
  ['24h', DAY, '1m'],
  ['7d', 7 * DAY, '1h'],
  ['30d', 30 * DAY, '1h'],
  ['90d', 90 * DAY, '1d'],
] as const;
const SERIES_SPANS: Record<SeriesRange, [number, Tier]> = {
  '1h': [HOUR, '1m'],
  '24h': [DAY, '1m'],
  '7d': [7 * DAY, '1h'],
  '30d': [30 * DAY, '1h'],
  '90d': [90 * DAY, '1d'],
};

const round3 = (v: number) => Math.round(v * 1000) / 1000;
const floorTo = (t: number, u: number) => Math.floor(t / u) * u;

export function createTargetService(deps: { db: Db; bus: Bus; clock: Clock; config: Config }) {
  const { db, bus, clock, config } = deps;
  const incidents = createIncidentStore({ publicUrl: config.publicUrl });

  /**
   * A paused or deleted target cannot recover, so its open incidents (down, degraded, certificate,
   * anomaly...) are resolved with the reason, in the same transaction; their channels hear it.
   */
  async function closeIncidents(tx: Queryable, projectId: string, id: string, why: string): Promise<number> {
    const { enqueued } = await incidents.resolveIn(tx, {
      projectId,
      subjectType: 'target',
      subjectId: id,
      at: clock.now(),
      reason: `Resolved: ${why}.`,
    });
    return enqueued;
  }
  const wake = (n: number) => {
    if (n > 0) bus.publish(NOTIFY_WAKE, { reason: 'incident' });
  };

  async function environmentId(q: Queryable, projectId: string, slug: string): Promise<string> {
    const e = (await targetsRepo.environments(q, projectId)).find((x) => x.slug === slug);
    if (!e) throw new AppError('environment_not_found', `The project has no environment "${slug}".`);
    return e.id;
  }

  async function stored(projectId: string, id: string, q: Queryable = db): Promise<StoredTarget> {
    const t = await targetsRepo.get(q, projectId, id);
    if (!t) throw new AppError('target_not_found');
    return t;
  }

  const changed = (projectId: string, targetId: string | null) =>
    bus.publish<TargetsChanged>(TARGETS_SUBJECT, { projectId, targetId });

  /** `preferred`, or a coarser tier when the finer one is not kept for the whole span. */
  function tierOf(preferred: Tier, span: number): Tier {
    let tier = preferred;
    if (tier === '1m' && span > config.rollupMinuteHours * HOUR) tier = '1h';
    if (tier === '1h' && span > config.rollupHourDays * DAY) tier = '1d';
    return tier;
  }
  const unit = (t: Tier) => (t === '1m' ? MIN : t === '1h' ? HOUR : DAY);

  return {
    changed,
    /**
     * Resolves the open incidents of targets an apply paused or deleted (inside its transaction);
     * call `wake` with the result once it committed.
     */
    async closeIncidentsOf(tx: Queryable, projectId: string, ids: string[], why: string): Promise<number> {
      let n = 0;
      for (const id of ids) n += await closeIncidents(tx, projectId, id, why);
      return n;
    },
    wake,

    async list(project: Project, query: ListTargetsQuery): Promise<TargetList> {
      const f: ListFilters = {};
      if (query.env) f.environmentId = await environmentId(db, project.id, query.env);
      if (query.status) f.status = query.status;
      if (query.kind) f.kind = query.kind;
      if (query.tag) f.tag = query.tag;
      if (query.q) f.q = query.q;
      const limit = query.limit ?? 50;
      const after = query.cursor ? decodeCursor(query.cursor) : null;
      const [rows, counts] = await Promise.all([
        targetsRepo.page(db, project.id, f, after, limit + 1),
        targetsRepo.counts(db, project.id, f),
      ]);
      const targets = rows.slice(0, limit);
      const last = targets.at(-1);
      return { targets, nextCursor: rows.length > limit && last ? encodeCursor(last) : null, counts };
    },

    async get(project: Project, id: string): Promise<TargetDetail> {
      const { target } = await stored(project.id, id);
      const now = clock.now().getTime();
      const windows = UPTIME_WINDOWS.map(([name, ms, preferred]) => {
        const tier = tierOf(preferred, ms);
        return { name, tier, from: new Date(floorTo(now - ms, unit(tier))) };
      });
      const totals = await targetsRepo.totals(db, target.id, windows);
      const uptime = { '24h': null, '7d': null, '30d': null, '90d': null } as TargetDetail['uptime'];
      for (const [i, w] of windows.entries()) {
        const t = totals[i];
        uptime[w.name] = t && t.count > 0 ? round3(((t.count - t.failures) / t.count) * 100) : null;
      }
      return { target, uptime };
    },

    async create(
      project: Project,
      userId: string,
      input: TargetInput,
    ): Promise<{ target: Target; token?: string }> {
      const spec = normalizeSpec(input.kind, input.spec);
      if (!spec.ok) throw specError(spec.errors);
      const envId = await environmentId(db, project.id, input.env);
      const values = withDefaults(input, envId, spec.spec);
      const hb = input.kind === 'heartbeat' ? newHeartbeatToken() : null;
      const ids = await targetsRepo.insertMany(db, project.id, userId, [
        { values, heartbeatHash: hb?.hash ?? null, heartbeatPrefix: hb?.prefix ?? null },
      ]);
      const id = ids?.[0]?.id;
      if (!id)
        throw new AppError('target_exists', `A target named "${input.name}" already exists in ${input.env}.`);
      changed(project.id, id);
      const { target } = await stored(project.id, id);
      return hb ? { target, token: hb.token } : { target };
    },

    async update(
      project: Project,
      id: string,
      patch: TargetPatch,
    ): Promise<{ target: Target; token?: string }> {
      const out = await db.transaction(async (tx) => {
        const cur = await stored(project.id, id, tx);
        const t = cur.target;
        const kind = patch.kind ?? t.kind;
        // A new kind without a new spec keeps the old one only if it still fits.
        const spec = normalizeSpec(
          kind,
          'spec' in patch ? patch.spec : kind === 'heartbeat' && t.kind !== 'heartbeat' ? {} : t.spec,
        );
        if (!spec.ok) throw specError(spec.errors);
        const envId = patch.env ? await environmentId(tx, project.id, patch.env) : cur.environmentId;
        const values: TargetValues = {
          environmentId: envId,
          name: patch.name ?? t.name,
          kind,
          spec: spec.spec,
          intervalS: patch.intervalS ?? t.intervalS,
          graceS: patch.graceS ?? t.graceS,
          failAfter: patch.failAfter ?? t.failAfter,
          recoverAfter: patch.recoverAfter ?? t.recoverAfter,
          degradedMs: patch.degradedMs === undefined ? t.degradedMs : patch.degradedMs,
          anomaly: patch.anomaly ?? t.anomaly,
          sensitivity: patch.sensitivity ?? t.sensitivity,
          enabled: patch.enabled ?? t.enabled,
          tags: patch.tags ? [...patch.tags].sort() : t.tags,
        };
        const hb = kind === 'heartbeat' && t.kind !== 'heartbeat' ? newHeartbeatToken() : null;
        const ok = await targetsRepo.updateMany(
          tx,
          project.id,
          [
            {
              id,
              values,
              ...(hb
                ? { heartbeatHash: hb.hash, heartbeatPrefix: hb.prefix }
                : kind !== 'heartbeat' && t.kind === 'heartbeat'
                  ? { heartbeatHash: null, heartbeatPrefix: null }
                  : {}),
              resumed: values.enabled && !t.enabled,
              paused: !values.enabled && t.enabled,
            },
          ],
          clock.now(),
        );
        if (!ok)
          throw new AppError(
            'target_exists',
            `A target named "${values.name}" already exists in that environment.`,
          );
        const enqueued =
          !values.enabled && t.enabled ? await closeIncidents(tx, project.id, id, 'target paused') : 0;
        return { target: (await stored(project.id, id, tx)).target, token: hb?.token, enqueued };
      });
      wake(out.enqueued);
      changed(project.id, id);
      return out.token ? { target: out.target, token: out.token } : { target: out.target };
    },

    async remove(project: Project, id: string): Promise<StoredTarget> {
      const { gone, enqueued } = await db.transaction(async (tx) => {
        const [g] = await targetsRepo.deleteMany(tx, project.id, [id]);
        if (!g) throw new AppError('target_not_found');
        return { gone: g, enqueued: await closeIncidents(tx, project.id, id, 'target deleted') };
      });
      wake(enqueued);
      changed(project.id, id);
      return gone;
    },

    /** A new push URL for a heartbeat target; the old one stops working at once. */
    async rotateHeartbeat(project: Project, id: string): Promise<{ target: Target; token: string }> {
      const cur = await stored(project.id, id);
      if (cur.target.kind !== 'heartbeat')
        throw new AppError('validation_failed', 'Only heartbeat targets have a push URL.');
      const hb = newHeartbeatToken();
      await targetsRepo.setHeartbeat(db, project.id, id, hb.hash, hb.prefix, clock.now());
      changed(project.id, id);
      return { target: (await stored(project.id, id)).target, token: hb.token };
    },

    /** A push to a heartbeat URL. */
    async beat(token: string): Promise<{ targetId: string }> {
      if (!token.startsWith(`${HEARTBEAT_PREFIX}_`) || token.length > 200)
        throw new AppError('heartbeat_not_found');
      const b = await db.transaction((tx) => targetsRepo.beat(tx, sha256(token), clock.now()));
      if (!b) throw new AppError('heartbeat_not_found');
      if (!b.enabled) throw new AppError('target_paused');
      bus.publish<Beat>(BEAT_SUBJECT, { targetId: b.id, shard: b.shard });
      return { targetId: b.id };
    },

    async results(project: Project, id: string, limit: number, before: string | undefined) {
      await stored(project.id, id);
      return { results: await targetsRepo.results(db, id, limit, before ? new Date(before) : null) };
    },

    /** 1 h and 24 h from minute rollups, 7 d and 30 d from hourly ones, 90 d from daily ones. */
    async series(project: Project, id: string, range: SeriesRange): Promise<TargetSeries> {
      await stored(project.id, id);
      const [span, preferred] = SERIES_SPANS[range];
      const tier = tierOf(preferred, span);
      const step = unit(tier);
      const from = floorTo(clock.now().getTime(), step) - span + step;
      const rows = await targetsRepo.rollups(db, tier, id, new Date(from));
      const points: SeriesPoint[] = rows.map((r) => {
        const sk = Sketch.fromArray(r.sketch);
        const q = (p: number) => {
          const v = sk.quantile(p);
          return v === null ? null : round3(Math.min(r.maxMs, Math.max(r.minMs, v)));
        };
        const has = r.count > 0;
        return {
          t: new Date(r.bucket).toISOString(),
          count: r.count,
          failures: r.failures,
          p50: q(0.5),
          p95: q(0.95),
          p99: q(0.99),
          avg: has ? round3(r.sumMs / r.count) : null,
          min: has ? round3(r.minMs) : null,
          max: has ? round3(r.maxMs) : null,
        };
      });
      return { step: step / 1000, points };
    },
  };
}
export type TargetService = ReturnType<typeof createTargetService>;
