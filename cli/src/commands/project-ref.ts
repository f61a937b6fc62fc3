/**
 * Which project a telemetry command reads: `--project <id|slug>`, else PEEP_PROJECT, else your only
 * project when you have exactly one. Anything else is a usage error that lists the way out.
 */
import type { Project, ProjectList, Static } from '@peep/pkg/schemas';
import type { ApiClient } from '../client.js';
import type { Context } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { resolveProject } from './projects.js';

export async function pickProject(ctx: Context, api: ApiClient, ref: string | undefined): Promise<Project> {
  const chosen = ref ?? ctx.env.PEEP_PROJECT;
  if (chosen) return resolveProject(api, chosen);
  const { projects } = await api.get<Static<typeof ProjectList>>('/api/v1/projects');
  if (projects.length === 1) return projects[0] as Project;
  throw new CliError(
    EXIT.usage,
    'usage',
    projects.length === 0
      ? 'you have no projects yet'
      : `you have ${projects.length} projects: say which one`,
    {
      hint:
        projects.length === 0
          ? 'create one with `peep projects create <name>`'
          : 'add --project <id|slug> (or set PEEP_PROJECT); `peep projects ls` lists them',
    },
  );
}
