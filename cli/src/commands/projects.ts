/** `peep projects ls | create | show`, and the id-or-slug lookup the other commands share. */
import type { Project, ProjectDetail, Static, ProjectList as TProjectList } from '@peep/pkg/schemas';
import type { ApiClient } from '../client.js';
import type { Context } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { formatTime } from '../output.js';

type ProjectList = Static<typeof TProjectList>;

/** A project of yours by id or slug (one GET /api/v1/projects; exit 4 when none matches). */
export async function resolveProject(api: ApiClient, ref: string): Promise<Project> {
  const { projects } = await api.get<ProjectList>('/api/v1/projects');
  const key = ref.trim();
  const found = projects.find((p) => p.id === key.toLowerCase() || p.slug === key.toLowerCase());
  if (!found)
    throw new CliError(
      EXIT.notFound,
      'project_not_found',
      `no project "${ref}" among yours on ${api.server}`,
      {
        hint: 'list them with `peep projects ls`',
      },
    );
  return found;
}

export async function list(ctx: Context): Promise<void> {
  const body = await ctx.client().get<ProjectList>('/api/v1/projects');
  ctx.out.result(body, () =>
    ctx.out.table(
      ['SLUG', 'NAME', 'ROLE', 'CREATED', 'ID'],
      body.projects.map((p) => [
        p.slug,
        p.name,
        p.role,
        formatTime(p.createdAt),
        { text: p.id, style: ctx.out.c.dim },
      ]),
      'No projects yet. Create one with `peep projects create <name>`.',
    ),
  );
}

export interface CreateOptions {
  slug?: string;
  environments?: string[];
}

export async function create(ctx: Context, name: string, opts: CreateOptions): Promise<void> {
  const body = await ctx.client().post<ProjectDetail>('/api/v1/projects', {
    name,
    ...(opts.slug ? { slug: opts.slug } : {}),
    ...(opts.environments ? { environments: opts.environments } : {}),
  });
  ctx.out.result(body, () => {
    const { c } = ctx.out;
    ctx.out.line(
      `${c.green('Created')} project ${c.bold(body.project.name)} (${body.project.slug}, ${body.project.id})`,
    );
    ctx.out.line(`environments: ${body.environments.map((e) => e.slug).join(', ')}`);
  });
}

export async function show(ctx: Context, ref: string): Promise<void> {
  const api = ctx.client();
  const { id } = await resolveProject(api, ref);
  const body = await api.get<ProjectDetail>(`/api/v1/projects/${id}`);
  ctx.out.result(body, () => {
    const { out } = ctx;
    const { c } = out;
    const p = body.project;
    out.line(`${c.bold(p.name)} ${c.dim(`(${p.slug})`)}`);
    out.line(`${c.dim('id')}       ${p.id}`);
    out.line(`${c.dim('role')}     ${p.role}`);
    out.line(`${c.dim('created')}  ${formatTime(p.createdAt)}`);
    out.line('');
    out.line(c.bold('Environments'));
    out.table(
      ['#', 'SLUG', 'NAME', 'ID'],
      body.environments.map((e) => [String(e.position), e.slug, e.name, { text: e.id, style: c.dim }]),
      'No environments.',
    );
    out.line('');
    out.line(c.bold('Services'));
    out.table(
      ['SLUG', 'NAME', 'CREATED', 'ID'],
      body.services.map((s) => [s.slug, s.name, formatTime(s.createdAt), { text: s.id, style: c.dim }]),
      'No services yet.',
    );
  });
}
