/** Projects, environments and services, and the role check every project route goes through. */
import { AppError, type Bus, type Db } from '@peep/pkg';
import type { Project, ProjectDetail, Role } from '@peep/pkg/schemas';
import { environmentsRepo, membersRepo, projectsRepo, servicesRepo } from './repo.js';

export const ROLE_RANK: Record<Role, number> = { viewer: 0, developer: 1, admin: 2, owner: 3 };

const DEFAULT_ENVIRONMENTS = [
  { slug: 'dev', name: 'Development' },
  { slug: 'staging', name: 'Staging' },
  { slug: 'prod', name: 'Production' },
];

export function slugify(name: string): string {
  const s = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32)
    .replace(/-+$/g, '');
  return s || 'project';
}

export function createProjectService(deps: { db: Db; bus: Bus }) {
  const { db, bus } = deps;

  /**
   * The project as the user sees it, if their role is at least `min`. A project the user is not a
   * member of is reported exactly like one that does not exist.
   */
  async function access(userId: string, projectId: string, min: Role = 'viewer'): Promise<Project> {
    const p = await projectsRepo.forMember(db, projectId, userId);
    if (!p) throw new AppError('project_not_found');
    if (ROLE_RANK[p.role] < ROLE_RANK[min]) {
      throw new AppError(
        'forbidden',
        `This needs the ${min} role or higher in the project; you are ${p.role}.`,
      );
    }
    return p;
  }

  async function detail(project: Project): Promise<ProjectDetail> {
    const [environments, services] = await Promise.all([
      environmentsRepo.list(db, project.id),
      servicesRepo.list(db, project.id),
    ]);
    return { project, environments, services };
  }

  return {
    access,
    detail,
    /** The project page: one query, same 404 for strangers as `access`. */
    async get(userId: string, projectId: string): Promise<ProjectDetail> {
      const d = await projectsRepo.detailForMember(db, projectId, userId);
      if (!d) throw new AppError('project_not_found');
      return d;
    },
    list: (userId: string) => projectsRepo.listForUser(db, userId),

    async create(
      userId: string,
      input: { name: string; slug?: string; environments?: string[] },
    ): Promise<ProjectDetail> {
      const name = input.name.trim();
      if (!name) throw new AppError('validation_failed', 'The project name is empty.');
      const envs = input.environments
        ? input.environments.map((slug) => ({
            slug,
            name: DEFAULT_ENVIRONMENTS.find((d) => d.slug === slug)?.name ?? slug,
          }))
        : DEFAULT_ENVIRONMENTS;
      const out = await db.transaction(async (tx) => {
        let slug = input.slug ?? slugify(name);
        let row = await projectsRepo.insert(tx, { slug, name, createdBy: userId });
        if (!row && input.slug)
          throw new AppError('slug_taken', `A project with the slug "${slug}" already exists.`);
        for (let i = 2; !row && i < 1000; i++) {
          slug = `${slugify(name).slice(0, 35)}-${i}`;
          row = await projectsRepo.insert(tx, { slug, name, createdBy: userId });
        }
        if (!row) throw new AppError('slug_taken');
        await membersRepo.insert(tx, row.id, userId, 'owner');
        for (const [i, e] of envs.entries())
          await environmentsRepo.insert(tx, { projectId: row.id, slug: e.slug, name: e.name, position: i });
        return { id: row.id };
      });
      const project = await access(userId, out.id);
      bus.publish('project.created', { projectId: project.id, slug: project.slug });
      return detail(project);
    },

    async rename(project: Project, name: string): Promise<ProjectDetail> {
      await projectsRepo.rename(db, project.id, name.trim());
      return detail({ ...project, name: name.trim() });
    },

    async remove(project: Project): Promise<void> {
      await projectsRepo.delete(db, project.id);
      bus.publish('project.deleted', { projectId: project.id });
    },

    environments: {
      list: (project: Project) => environmentsRepo.list(db, project.id),
      async get(project: Project, id: string) {
        const e = await environmentsRepo.get(db, project.id, id);
        if (!e) throw new AppError('environment_not_found');
        return e;
      },
      /** Adds an environment at the end, or at `position` (later ones move one place down). */
      async create(project: Project, input: { slug: string; name?: string; position?: number }) {
        return db.transaction(async (tx) => {
          const existing = await environmentsRepo.list(tx, project.id);
          const last = (existing.at(-1)?.position ?? -1) + 1;
          const position = Math.min(input.position ?? last, last);
          await environmentsRepo.shiftFrom(tx, project.id, position);
          const e = await environmentsRepo.insert(tx, {
            projectId: project.id,
            slug: input.slug,
            name: input.name ?? input.slug,
            position,
          });
          if (!e) throw new AppError('slug_taken', `The project already has an environment "${input.slug}".`);
          return e;
        });
      },
      async update(project: Project, id: string, patch: { name?: string; position?: number }) {
        const e = await environmentsRepo.update(db, project.id, id, patch);
        if (!e) throw new AppError('environment_not_found');
        return e;
      },
      async remove(project: Project, id: string) {
        await db.transaction(async (tx) => {
          if (!(await environmentsRepo.get(tx, project.id, id))) throw new AppError('environment_not_found');
          if ((await environmentsRepo.count(tx, project.id)) <= 1) throw new AppError('last_environment');
          await environmentsRepo.delete(tx, project.id, id);
        });
      },
    },

    services: {
      list: (project: Project) => servicesRepo.list(db, project.id),
      async create(project: Project, input: { name: string; slug?: string }) {
        const slug = input.slug ?? slugify(input.name);
        const s = await servicesRepo.insert(db, { projectId: project.id, slug, name: input.name.trim() });
        if (!s) throw new AppError('slug_taken', `The project already has a service "${slug}".`);
        return s;
      },
      async remove(project: Project, id: string) {
        if (!(await servicesRepo.delete(db, project.id, id))) throw new AppError('service_not_found');
      },
    },
  };
}
export type ProjectService = ReturnType<typeof createProjectService>;
