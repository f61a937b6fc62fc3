/**
 * `peep ingest-keys ls | create | revoke`: the keys apps, the SDK and `peep agent nginx` send
 * telemetry with. One key belongs to one project and environment; its secret is printed once.
 * Managing keys takes the project's admin role (the API checks it).
 */
import type {
  CreateIngestKeyResponse,
  IngestKey,
  IngestKeyList,
  ProjectDetail,
  Static,
} from '@peep/pkg/schemas';
import type { Context } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { type Cell, formatTime } from '../output.js';
import { pickProject } from './project-ref.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface IngestKeyOptions {
  project?: string;
  env?: string;
}

const base = (projectId: string) => `/api/v1/projects/${projectId}/ingest-keys`;

async function projectAndEnvironments(ctx: Context, ref: string | undefined) {
  const api = ctx.client();
  const p = await pickProject(ctx, api, ref);
  const detail = await api.get<ProjectDetail>(`/api/v1/projects/${p.id}`);
  return { api, project: p, environments: detail.environments };
}

export async function list(ctx: Context, opts: IngestKeyOptions): Promise<void> {
  const { api, project, environments } = await projectAndEnvironments(ctx, opts.project);
  const body = await api.get<Static<typeof IngestKeyList>>(base(project.id));
  const envSlug = (id: string) => environments.find((e) => e.id === id)?.slug ?? id;
  const keys = opts.env
    ? body.ingestKeys.filter((k) => envSlug(k.environmentId) === opts.env)
    : body.ingestKeys;
  const { c } = ctx.out;
  ctx.out.result({ ingestKeys: keys }, () =>
    ctx.out.table(
      ['ID', 'NAME', 'ENV', 'PREFIX', 'CREATED', 'LAST USED', 'STATUS'],
      keys.map((k): Cell[] => [
        { text: k.id, style: c.dim },
        k.name,
        envSlug(k.environmentId),
        k.prefix,
        formatTime(k.createdAt),
        formatTime(k.lastUsedAt),
        k.revokedAt ? { text: 'revoked', style: c.red } : { text: 'active', style: c.green },
      ]),
      `No ingest keys in ${project.slug}. Create one with \`peep ingest-keys create <name> --project ${project.slug} --env <env>\`.`,
    ),
  );
}

export async function create(ctx: Context, name: string, opts: IngestKeyOptions): Promise<void> {
  const { api, project, environments } = await projectAndEnvironments(ctx, opts.project);
  const env = environments.find((e) => e.slug === opts.env || e.id === opts.env);
  if (!env)
    throw new CliError(
      EXIT.notFound,
      'environment_not_found',
      `${project.slug} has no environment "${opts.env}"`,
      {
        hint: `its environments: ${environments.map((e) => e.slug).join(', ')}`,
      },
    );
  const body = await api.post<Static<typeof CreateIngestKeyResponse>>(base(project.id), {
    name,
    environmentId: env.id,
  });
  ctx.out.result(body, () => {
    const { c } = ctx.out;
    ctx.out.line(
      `${c.green('Created')} ingest key ${c.bold(body.ingestKey.name)} (${body.ingestKey.id}) for ${project.slug}/${env.slug}.`,
    );
    ctx.out.line('');
    ctx.out.line(`  ${c.bold(body.secret)}`);
    ctx.out.line('');
    ctx.out.note(
      `${ctx.out.errColors.yellow('warning:')} copy the key now: it is shown once. Use it as PEEP_INGEST_KEY or Authorization: Bearer <key>.`,
    );
  });
}

/** Revokes by id, or by name when exactly one active key of the project has it. */
export async function revoke(ctx: Context, ref: string, opts: IngestKeyOptions): Promise<void> {
  const api = ctx.client();
  const project = await pickProject(ctx, api, opts.project);
  let id = ref.trim();
  if (!UUID.test(id)) {
    const { ingestKeys } = await api.get<Static<typeof IngestKeyList>>(base(project.id));
    const byName = ingestKeys.filter((k) => k.name === ref && !k.revokedAt);
    if (byName.length === 0)
      throw new CliError(
        EXIT.notFound,
        'ingest_key_not_found',
        `no active ingest key "${ref}" in ${project.slug}`,
        {
          hint: `list them with \`peep ingest-keys ls --project ${project.slug}\``,
        },
      );
    if (byName.length > 1)
      throw new CliError(
        EXIT.usage,
        'usage',
        `${byName.length} active ingest keys are named "${ref}"; revoke one by id`,
      );
    id = (byName[0] as IngestKey).id;
  }
  await api.delete(`${base(project.id)}/${id}`);
  ctx.out.result({ revoked: id }, () =>
    ctx.out.line(`Revoked ingest key ${id}: requests with it now get 401 ingest_key_revoked.`),
  );
}
