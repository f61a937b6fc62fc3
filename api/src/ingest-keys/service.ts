import { AppError, type Bus, type Db, newSecret, sha256 } from '@peep/pkg';
import type { Project } from '@peep/pkg/schemas';
import { AUTH_REVOKED, type AuthRevoked } from '../core/auth-cache.js';
import type { Clock } from '../core/types.js';
import { environmentsRepo } from '../projects/repo.js';
import { ingestKeysRepo } from './repo.js';

export function createIngestKeyService(deps: { db: Db; clock: Clock; bus: Bus }) {
  const { db, clock } = deps;
  return {
    list: (project: Project) => ingestKeysRepo.list(db, project.id),
    async create(project: Project, userId: string, input: { name: string; environmentId: string }) {
      if (!(await environmentsRepo.get(db, project.id, input.environmentId)))
        throw new AppError('environment_not_found');
      const secret = newSecret('peep_ik');
      const ingestKey = await ingestKeysRepo.insert(db, {
        projectId: project.id,
        environmentId: input.environmentId,
        name: input.name.trim(),
        keyHash: sha256(secret),
        prefix: secret.slice(0, 12),
        createdBy: userId,
      });
      return { ingestKey, secret };
    },
    async revoke(project: Project, id: string) {
      const k = await ingestKeysRepo.revoke(db, project.id, id, clock.now());
      if (!k) throw new AppError('ingest_key_not_found');
      deps.bus.publish<AuthRevoked>(AUTH_REVOKED, { ingestKeyId: k.id });
      return k;
    },
  };
}
