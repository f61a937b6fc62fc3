/** All SQL for projects, their environments, services and memberships. */
import type { Queryable } from '@peep/pkg';
import type { Environment, Member, Project, ProjectDetail, Role, Service } from '@peep/pkg/schemas';
import { isoRequired } from '../core/types.js';

interface EnvRow {
  id: string;
  slug: string;
  name: string;
  position: number;
  created_at: Date;
}
const ENV_COLS = 'id, slug, name, position, created_at';
interface ServiceRow {
  id: string;
  slug: string;
  name: string;
  created_at: Date;
}
const SERVICE_COLS = 'id, slug, name, created_at';

const toEnv = (r: EnvRow): Environment => ({
  id: r.id,
  slug: r.slug,
  name: r.name,
  position: r.position,
  createdAt: isoRequired(r.created_at),
});
const toService = (r: ServiceRow): Service => ({
  id: r.id,
  slug: r.slug,
  name: r.name,
  createdAt: isoRequired(r.created_at),
});
const toProject = (r: { id: string; slug: string; name: string; role: Role; created_at: Date }): Project => ({
  id: r.id,
  slug: r.slug,
  name: r.name,
  role: r.role,
  createdAt: isoRequired(r.created_at),
});

export const projectsRepo = {
  async slugExists(q: Queryable, slug: string): Promise<boolean> {
    const { rows } = await q.query('SELECT 1 FROM projects WHERE slug = $1', [slug]);
    return rows.length > 0;
  },
  async insert(
    q: Queryable,
    p: { slug: string; name: string; createdBy: string },
  ): Promise<{ id: string; created_at: Date } | null> {
    const { rows } = await q.query<{ id: string; created_at: Date }>(
      'INSERT INTO projects (slug, name, created_by) VALUES ($1, $2, $3) ON CONFLICT (slug) DO NOTHING RETURNING id, created_at',
      [p.slug, p.name, p.createdBy],
    );
    return rows[0] ?? null;
  },
  async listForUser(q: Queryable, userId: string): Promise<Project[]> {
    const { rows } = await q.query<{ id: string; slug: string; name: string; role: Role; created_at: Date }>(
      `SELECT p.id, p.slug, p.name, m.role, p.created_at
         FROM projects p JOIN project_members m ON m.project_id = p.id
        WHERE m.user_id = $1 ORDER BY p.name, p.id`,
      [userId],
    );
    return rows.map(toProject);
  },
  /** The project as seen by a member, or null when it does not exist or the user is not a member. */
  async forMember(q: Queryable, projectId: string, userId: string): Promise<Project | null> {
    const { rows } = await q.query<{ id: string; slug: string; name: string; role: Role; created_at: Date }>(
      `SELECT p.id, p.slug, p.name, m.role, p.created_at
         FROM projects p JOIN project_members m ON m.project_id = p.id
        WHERE p.id = $1 AND m.user_id = $2`,
      [projectId, userId],
    );
    return rows[0] ? toProject(rows[0]) : null;
  },
  /** Project, role, environments and services in one round trip (the project page's read). */
  async detailForMember(q: Queryable, projectId: string, userId: string): Promise<ProjectDetail | null> {
    const { rows } = await q.query<{
      id: string;
      slug: string;
      name: string;
      role: Role;
      created_at: Date;
      environments: { id: string; slug: string; name: string; position: number; created_at: string }[] | null;
      services: { id: string; slug: string; name: string; created_at: string }[] | null;
    }>(
      `SELECT p.id, p.slug, p.name, m.role, p.created_at,
              (SELECT json_agg(json_build_object('id', e.id, 'slug', e.slug, 'name', e.name, 'position', e.position,
                                                 'created_at', e.created_at) ORDER BY e.position, e.created_at)
                 FROM environments e WHERE e.project_id = p.id) AS environments,
              (SELECT json_agg(json_build_object('id', s.id, 'slug', s.slug, 'name', s.name, 'created_at', s.created_at)
                                ORDER BY s.name, s.id)
                 FROM services s WHERE s.project_id = p.id) AS services
         FROM projects p JOIN project_members m ON m.project_id = p.id
        WHERE p.id = $1 AND m.user_id = $2`,
      [projectId, userId],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      project: toProject(r),
      environments: (r.environments ?? []).map((e) => toEnv({ ...e, created_at: new Date(e.created_at) })),
      services: (r.services ?? []).map((x) => toService({ ...x, created_at: new Date(x.created_at) })),
    };
  },
  async rename(q: Queryable, projectId: string, name: string): Promise<void> {
    await q.query('UPDATE projects SET name = $2 WHERE id = $1', [projectId, name]);
  },
  async delete(q: Queryable, projectId: string): Promise<void> {
    await q.query('DELETE FROM projects WHERE id = $1', [projectId]);
  },
};

export const environmentsRepo = {
  async list(q: Queryable, projectId: string): Promise<Environment[]> {
    const { rows } = await q.query<EnvRow>(
      `SELECT ${ENV_COLS} FROM environments WHERE project_id = $1 ORDER BY position, created_at`,
      [projectId],
    );
    return rows.map(toEnv);
  },
  async get(q: Queryable, projectId: string, id: string): Promise<Environment | null> {
    const { rows } = await q.query<EnvRow>(
      `SELECT ${ENV_COLS} FROM environments WHERE project_id = $1 AND id = $2`,
      [projectId, id],
    );
    return rows[0] ? toEnv(rows[0]) : null;
  },
  async insert(
    q: Queryable,
    e: { projectId: string; slug: string; name: string; position: number },
  ): Promise<Environment | null> {
    const { rows } = await q.query<EnvRow>(
      `INSERT INTO environments (project_id, slug, name, position) VALUES ($1, $2, $3, $4)
       ON CONFLICT (project_id, slug) DO NOTHING RETURNING ${ENV_COLS}`,
      [e.projectId, e.slug, e.name, e.position],
    );
    return rows[0] ? toEnv(rows[0]) : null;
  },
  async shiftFrom(q: Queryable, projectId: string, position: number): Promise<void> {
    await q.query(
      'UPDATE environments SET position = position + 1 WHERE project_id = $1 AND position >= $2',
      [projectId, position],
    );
  },
  async update(
    q: Queryable,
    projectId: string,
    id: string,
    patch: { name?: string; position?: number },
  ): Promise<Environment | null> {
    const { rows } = await q.query<EnvRow>(
      `UPDATE environments SET name = COALESCE($3, name), position = COALESCE($4, position)
        WHERE project_id = $1 AND id = $2 RETURNING ${ENV_COLS}`,
      [projectId, id, patch.name ?? null, patch.position ?? null],
    );
    return rows[0] ? toEnv(rows[0]) : null;
  },
  async delete(q: Queryable, projectId: string, id: string): Promise<boolean> {
    const r = await q.query('DELETE FROM environments WHERE project_id = $1 AND id = $2', [projectId, id]);
    return r.rowCount > 0;
  },
  async count(q: Queryable, projectId: string): Promise<number> {
    const { rows } = await q.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM environments WHERE project_id = $1',
      [projectId],
    );
    return rows[0]?.n ?? 0;
  },
};

export const servicesRepo = {
  async list(q: Queryable, projectId: string): Promise<Service[]> {
    const { rows } = await q.query<{ id: string; slug: string; name: string; created_at: Date }>(
      `SELECT ${SERVICE_COLS} FROM services WHERE project_id = $1 ORDER BY name, id`,
      [projectId],
    );
    return rows.map(toService);
  },
  async insert(q: Queryable, s: { projectId: string; slug: string; name: string }): Promise<Service | null> {
    const { rows } = await q.query<{ id: string; slug: string; name: string; created_at: Date }>(
      `INSERT INTO services (project_id, slug, name) VALUES ($1, $2, $3)
       ON CONFLICT (project_id, slug) DO NOTHING RETURNING ${SERVICE_COLS}`,
      [s.projectId, s.slug, s.name],
    );
    return rows[0] ? toService(rows[0]) : null;
  },
  async delete(q: Queryable, projectId: string, id: string): Promise<boolean> {
    const r = await q.query('DELETE FROM services WHERE project_id = $1 AND id = $2', [projectId, id]);
    return r.rowCount > 0;
  },
};

interface MemberRow {
  user_id: string;
  email: string;
  name: string;
  role: Role;
  created_at: Date;
}
const toMember = (r: MemberRow): Member => ({
  userId: r.user_id,
  email: r.email,
  name: r.name,
  role: r.role,
  createdAt: isoRequired(r.created_at),
});
const MEMBER_SELECT = `SELECT m.user_id, u.email, u.name, m.role, m.created_at
                         FROM project_members m JOIN users u ON u.id = m.user_id`;

export const membersRepo = {
  async list(q: Queryable, projectId: string): Promise<Member[]> {
    const { rows } = await q.query<MemberRow>(`${MEMBER_SELECT} WHERE m.project_id = $1 ORDER BY u.email`, [
      projectId,
    ]);
    return rows.map(toMember);
  },
  async get(q: Queryable, projectId: string, userId: string): Promise<Member | null> {
    const { rows } = await q.query<MemberRow>(`${MEMBER_SELECT} WHERE m.project_id = $1 AND m.user_id = $2`, [
      projectId,
      userId,
    ]);
    return rows[0] ? toMember(rows[0]) : null;
  },
  async insert(q: Queryable, projectId: string, userId: string, role: Role): Promise<boolean> {
    const r = await q.query(
      'INSERT INTO project_members (project_id, user_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [projectId, userId, role],
    );
    return r.rowCount > 0;
  },
  async setRole(q: Queryable, projectId: string, userId: string, role: Role): Promise<void> {
    await q.query('UPDATE project_members SET role = $3 WHERE project_id = $1 AND user_id = $2', [
      projectId,
      userId,
      role,
    ]);
  },
  async delete(q: Queryable, projectId: string, userId: string): Promise<void> {
    await q.query('DELETE FROM project_members WHERE project_id = $1 AND user_id = $2', [projectId, userId]);
  },
  /** Owners of the project, locked for the rest of the transaction (last-owner checks). */
  async lockOwners(q: Queryable, projectId: string): Promise<string[]> {
    const { rows } = await q.query<{ user_id: string }>(
      `SELECT user_id FROM project_members WHERE project_id = $1 AND role = 'owner' FOR UPDATE`,
      [projectId],
    );
    return rows.map((r) => r.user_id);
  },
};
