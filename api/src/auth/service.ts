/** Owner setup, invitations, password sign-in and dashboard sessions. */
import { randomBytes } from 'node:crypto';
import { Algorithm, hash, verify } from '@node-rs/argon2';
import { AppError, type Bus, type Config, type Db, newSecret, sha256 } from '@peep/pkg';
import { AUTH_REVOKED, type AuthRevoked } from '../core/auth-cache.js';
import type { AuthUser, Clock } from '../core/types.js';
import { sessionsRepo, setupTokensRepo, usersRepo } from './repo.js';

/** OWASP's argon2id parameters: 19 MiB, 2 iterations, 1 lane. */
const ARGON2 = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
export const MIN_PASSWORD = 12;
let dummyHash: Promise<string> | null = null;

export interface NewSession {
  user: AuthUser;
  sessionToken: string;
  csrfToken: string;
  expiresAt: Date;
}

export function createAuthService(deps: { db: Db; config: Config; clock: Clock; bus: Bus }) {
  const { db, config, clock, bus } = deps;

  async function startSession(
    user: AuthUser,
    meta: { ip: string | null; userAgent: string | null },
  ): Promise<NewSession> {
    const sessionToken = newSecret('peep_sess');
    const csrfToken = randomBytes(24).toString('base64url');
    const expiresAt = new Date(clock.now().getTime() + config.sessionTtlHours * 3_600_000);
    await sessionsRepo.create(db, {
      tokenHash: sha256(sessionToken),
      csrfHash: sha256(csrfToken),
      userId: user.id,
      ...meta,
      expiresAt,
    });
    return { user, sessionToken, csrfToken, expiresAt };
  }

  function checkPassword(password: string) {
    if ([...password].length < MIN_PASSWORD) throw new AppError('weak_password');
  }

  return {
    needsSetup: async () => (await usersRepo.count(db)) === 0,

    /** A fresh one-time owner link while no user exists (older unused ones stop working). */
    async issueOwnerSetupToken(): Promise<{ token: string; expiresAt: Date } | null> {
      if ((await usersRepo.count(db)) > 0) return null;
      const token = randomBytes(24).toString('base64url');
      const expiresAt = new Date(clock.now().getTime() + config.setupTtlMinutes * 60_000);
      await db.transaction(async (tx) => {
        await setupTokensRepo.dropUnusedOwnerTokens(tx);
        await setupTokensRepo.create(tx, {
          tokenHash: sha256(token),
          purpose: 'owner',
          email: null,
          isAdmin: true,
          createdBy: null,
          expiresAt,
        });
      });
      return { token, expiresAt };
    },

    async invite(
      byUserId: string,
      email: string,
      admin: boolean,
    ): Promise<{ token: string; expiresAt: Date }> {
      if (await usersRepo.byEmail(db, email)) throw new AppError('email_taken');
      const token = randomBytes(24).toString('base64url');
      const expiresAt = new Date(clock.now().getTime() + config.setupTtlMinutes * 60_000);
      await setupTokensRepo.create(db, {
        tokenHash: sha256(token),
        purpose: 'invite',
        email,
        isAdmin: admin,
        createdBy: byUserId,
        expiresAt,
      });
      return { token, expiresAt };
    },

    /** Completes owner setup or accepts an invitation, then signs the new user in. */
    async completeSetup(
      input: { token: string; email?: string; name: string; password: string },
      meta: { ip: string | null; userAgent: string | null },
    ): Promise<NewSession> {
      checkPassword(input.password);
      const passwordHash = await hash(input.password, ARGON2);
      const user = await db.transaction(async (tx) => {
        const t = await setupTokensRepo.consume(tx, sha256(input.token), clock.now());
        if (!t) throw new AppError('setup_token_invalid');
        let email: string;
        if (t.purpose === 'owner') {
          if ((await usersRepo.count(tx)) > 0) throw new AppError('setup_already_completed');
          if (!input.email)
            throw new AppError('validation_failed', 'body must have required property email', [
              { where: 'body', path: '/email', message: 'required' },
            ]);
          email = input.email;
        } else {
          email = t.email ?? '';
          if (input.email && input.email.toLowerCase() !== email.toLowerCase()) {
            throw new AppError('validation_failed', `This invitation is for ${email}.`);
          }
        }
        const created = await usersRepo.create(tx, {
          email,
          name: input.name.trim(),
          passwordHash,
          isAdmin: t.is_admin,
        });
        if (!created) throw new AppError('email_taken');
        return created;
      });
      return startSession(user, meta);
    },

    async login(
      email: string,
      password: string,
      meta: { ip: string | null; userAgent: string | null },
    ): Promise<NewSession> {
      const u = await usersRepo.byEmail(db, email);
      if (!u) {
        // Same work as a real check, so response time does not tell which emails exist.
        dummyHash ??= hash(randomBytes(16).toString('hex'), ARGON2);
        await verify(await dummyHash, password).catch(() => false);
        throw new AppError('invalid_credentials');
      }
      if (!(await verify(u.passwordHash, password).catch(() => false)))
        throw new AppError('invalid_credentials');
      const { passwordHash: _omit, ...user } = u;
      return startSession(user, meta);
    },

    async logout(sessionId: string) {
      await sessionsRepo.revoke(db, sessionId, clock.now());
      bus.publish<AuthRevoked>(AUTH_REVOKED, { sessionId });
    },
  };
}
export type AuthService = ReturnType<typeof createAuthService>;
