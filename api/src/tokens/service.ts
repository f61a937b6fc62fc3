/** Personal API tokens: the secret is returned once and only its SHA-256 is stored. */
import { AppError, type Bus, type Db, newSecret, sha256 } from '@peep/pkg';
import type { Scope } from '@peep/pkg/schemas';
import { AUTH_REVOKED, type AuthRevoked } from '../core/auth-cache.js';
import type { AuthContext, Clock } from '../core/types.js';
import { tokensRepo } from './repo.js';

export function createTokenService(deps: { db: Db; clock: Clock; bus: Bus }) {
  const { db, clock, bus } = deps;
  async function issue(
    userId: string,
    t: { name: string; kind: 'personal' | 'cli'; scopes: Scope[]; expiresAt: Date | null },
  ) {
    const secret = newSecret(t.kind === 'cli' ? 'peep_cli' : 'peep_pat');
    const token = await tokensRepo.create(db, {
      userId,
      ...t,
      tokenHash: sha256(secret),
      prefix: secret.slice(0, 13),
    });
    return { token, secret };
  }
  return {
    issue,
    list: (userId: string) => tokensRepo.listForUser(db, userId),
    async create(auth: AuthContext, input: { name: string; scopes: Scope[]; expiresInDays?: number }) {
      if (input.scopes.includes('admin') && !auth.scopes.includes('admin')) {
        throw new AppError(
          'forbidden',
          'Only an instance admin (signed in with the admin scope) can create admin tokens.',
        );
      }
      const expiresAt = input.expiresInDays
        ? new Date(clock.now().getTime() + input.expiresInDays * 86_400_000)
        : null;
      return issue(auth.user.id, {
        name: input.name.trim(),
        kind: 'personal',
        scopes: input.scopes,
        expiresAt,
      });
    },
    async revoke(userId: string, id: string) {
      const t = await tokensRepo.revoke(db, userId, id, clock.now());
      if (!t) throw new AppError('token_not_found');
      bus.publish<AuthRevoked>(AUTH_REVOKED, { tokenId: t.id });
      return t;
    },
  };
}
export type TokenService = ReturnType<typeof createTokenService>;
