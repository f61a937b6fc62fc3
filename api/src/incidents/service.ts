/**
 * Incidents, maintenance windows and service rules (docs/incidents.md): the rules behind the routes.
 * Incidents are read and changed through the incident store shared with the builder; a person's
 * acknowledgement, comment or resolution is recorded in the timeline under their email, and the
 * messages it enqueues wake the notifier (notify.wake) once committed.
 *
 * Maintenance windows: end after they start, end in the future, last at most 31 days, and name only
 * the project's own targets (services are names and need not have sent anything yet).
 */
import {
  type Actor,
  createIncidentStore,
  getIncident,
  type Incident,
  type IncidentStatus,
  listIncidents,
  NOTIFY_WAKE,
} from '@peep/builder';
import { DEFAULT_SERVICE_RULES } from '@peep/builder/incidents/evaluator';
import { AppError, type Bus, type Db } from '@peep/pkg';
import type { Project } from '@peep/pkg/schemas';
import type { AuthUser, Clock } from '../core/types.js';
import { incidentsRepo, type RuleRow, type WindowRow } from './repo.js';
import type {
  CreateMaintenanceInput,
  ListIncidentsQuery,
  MaintenanceWindow,
  PutServiceRuleInput,
  ServiceRule,
} from './schemas.js';

export const MAX_WINDOW_DAYS = 31;

export interface IncidentServiceDeps {
  db: Db;
  bus: Bus;
  clock: Clock;
}

function toWindow(w: WindowRow, now: Date): MaintenanceWindow {
  const startsAt = new Date(w.starts_at);
  const endsAt = new Date(w.ends_at);
  return {
    id: w.id,
    projectId: w.project_id,
    title: w.title,
    startsAt: startsAt.toISOString(),
    endsAt: endsAt.toISOString(),
    targetIds: w.target_ids,
    services: w.services,
    wholeProject: w.target_ids.length === 0 && w.services.length === 0,
    state: startsAt > now ? 'upcoming' : endsAt > now ? 'active' : 'ended',
    createdBy: w.created_by,
    createdAt: new Date(w.created_at).toISOString(),
  };
}

function toRule(service: string, env: string, r: RuleRow | null): ServiceRule {
  const d = DEFAULT_SERVICE_RULES;
  return {
    service,
    env,
    p95AboveMs: r ? r.p95_above_ms : d.p95AboveMs,
    errorRateAbove: r ? r.error_rate_above : d.errorRateAbove,
    minRequests: r ? r.min_requests : d.minRequests,
    anomaly: r ? r.anomaly : d.anomaly,
    sensitivity: r ? r.sensitivity : d.sensitivity,
    custom: r !== null,
  };
}

export function createIncidentService(deps: IncidentServiceDeps) {
  const { db, clock } = deps;
  const wake = () => deps.bus.publish(NOTIFY_WAKE, { reason: 'incident' });

  async function envId(project: Project, slug: string): Promise<string> {
    const id = await incidentsRepo.environmentId(db, project.id, slug);
    if (!id) throw new AppError('environment_not_found', `The project has no environment "${slug}".`);
    return id;
  }

  async function find(project: Project, ref: string) {
    const ok =
      /^\d{1,9}$/.test(ref) || /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(ref);
    const got = ok ? await getIncident(db, project.id, ref) : null;
    if (!got) throw new AppError('incident_not_found', `The project has no incident ${ref}.`);
    return got;
  }

  /** Acknowledge, comment or resolve as `user`; messages link to `baseUrl`. */
  async function act(
    project: Project,
    user: AuthUser,
    ref: string,
    action: 'acknowledge' | 'comment' | 'resolve',
    body: string | undefined,
    baseUrl: string,
  ): Promise<Incident> {
    const { incident } = await find(project, ref);
    const actor: Actor = { id: user.id, name: user.email };
    const store = createIncidentStore({ publicUrl: baseUrl, wake });
    const out = await store.act(db, {
      projectId: project.id,
      incidentId: incident.id,
      action,
      actor,
      ...(body !== undefined ? { body } : {}),
      at: clock.now(),
    });
    if (out === null) throw new AppError('incident_not_found', `The project has no incident ${ref}.`);
    if (out === 'resolved')
      throw new AppError(
        'incident_resolved',
        `Incident #${incident.number} is already resolved (by ${incident.resolvedBy ?? 'peep'}).`,
      );
    return out.incident;
  }

  return {
    async list(project: Project, q: ListIncidentsQuery) {
      let before: number | undefined;
      if (q.cursor !== undefined) {
        if (!/^[1-9]\d{0,8}$/.test(q.cursor))
          throw new AppError(
            'invalid_cursor',
            'The cursor is malformed; use nextCursor from a previous page.',
          );
        before = Number(q.cursor);
      }
      const page = await listIncidents(db, project.id, {
        ...(q.status ? { status: q.status as IncidentStatus | 'active' | 'all' } : {}),
        ...(q.kind ? { kind: q.kind } : {}),
        ...(q.subject ? { subject: q.subject } : {}),
        ...(q.env ? { environmentId: await envId(project, q.env) } : {}),
        ...(before !== undefined ? { before } : {}),
        limit: q.limit ?? 50,
      });
      return {
        incidents: page.incidents,
        nextCursor: page.nextBefore === null ? null : String(page.nextBefore),
      };
    },

    get: find,
    acknowledge: (p: Project, u: AuthUser, ref: string, comment: string | undefined, base: string) =>
      act(p, u, ref, 'acknowledge', comment, base),
    comment: (p: Project, u: AuthUser, ref: string, body: string, base: string) =>
      act(p, u, ref, 'comment', body, base),
    resolve: (p: Project, u: AuthUser, ref: string, comment: string | undefined, base: string) =>
      act(p, u, ref, 'resolve', comment, base),

    async windows(project: Project, state?: 'upcoming' | 'active' | 'ended' | 'all') {
      const now = clock.now();
      return (await incidentsRepo.windows(db, project.id, now, state)).map((w) => toWindow(w, now));
    },

    async createWindow(project: Project, user: AuthUser, input: CreateMaintenanceInput) {
      const now = clock.now();
      const startsAt = new Date(input.startsAt);
      const endsAt = new Date(input.endsAt);
      const bad = (why: string) => new AppError('invalid_maintenance_window', why);
      if (!(endsAt > startsAt)) throw bad('endsAt must be after startsAt.');
      if (endsAt <= now) throw bad('The window has already ended; endsAt must be in the future.');
      if (endsAt.getTime() - startsAt.getTime() > MAX_WINDOW_DAYS * 86_400_000)
        throw bad(`A maintenance window lasts at most ${MAX_WINDOW_DAYS} days.`);
      const targetIds = (input.targetIds ?? []).map((id) => id.toLowerCase());
      const foreign = await incidentsRepo.foreignTargets(db, project.id, targetIds);
      if (foreign.length > 0)
        throw new AppError(
          'invalid_maintenance_target',
          `${foreign.length === 1 ? 'One target id is' : `${foreign.length} target ids are`} not targets of this project.`,
          { targetIds: foreign },
        );
      const row = await incidentsRepo.createWindow(db, {
        projectId: project.id,
        title: input.title.trim(),
        startsAt,
        endsAt,
        targetIds,
        services: input.services ?? [],
        createdBy: user.id,
      });
      return toWindow(row, now);
    },

    async deleteWindow(project: Project, id: string): Promise<void> {
      const gone = await incidentsRepo.deleteWindow(db, project.id, id);
      if (!gone) throw new AppError('maintenance_not_found');
    },

    async rule(project: Project, service: string, env: string): Promise<ServiceRule> {
      const id = await envId(project, env);
      return toRule(service, env, await incidentsRepo.rule(db, project.id, id, service));
    },

    /** Fields left out keep their current value (the stored rule's, else the default). */
    async putRule(project: Project, service: string, env: string, input: PutServiceRuleInput) {
      const id = await envId(project, env);
      const cur = toRule(service, env, await incidentsRepo.rule(db, project.id, id, service));
      const next: RuleRow = {
        p95_above_ms: input.p95AboveMs !== undefined ? input.p95AboveMs : cur.p95AboveMs,
        error_rate_above: input.errorRateAbove !== undefined ? input.errorRateAbove : cur.errorRateAbove,
        min_requests: input.minRequests ?? cur.minRequests,
        anomaly: input.anomaly ?? cur.anomaly,
        sensitivity: input.sensitivity ?? cur.sensitivity,
      };
      await incidentsRepo.putRule(db, project.id, id, service, next);
      return toRule(service, env, next);
    },
  };
}
export type IncidentService = ReturnType<typeof createIncidentService>;
