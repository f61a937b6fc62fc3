/**
 * OAuth 2.0 Device Authorization Grant (RFC 8628): the CLI asks for a code, a signed-in user approves
 * it in the dashboard, and the CLI's polling turns into an access token (a `peep_cli_` API token).
 */
import { randomBytes } from 'node:crypto';
import { AppError, type Config, type Db, newUserCode, normalizeUserCode, sha256 } from '@peep/pkg';
import { SCOPES, type Scope } from '@peep/pkg/schemas';
import { usersRepo } from '../auth/repo.js';
import type { TokenService } from '../tokens/service.js';
import { deviceRepo } from './repo.js';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** Public clients that may use the grant (no secret: RFC 8628 §3.1). */
export const CLIENTS: Record<string, { name: string; defaultScopes: Scope[] }> = {
  'peep-cli': { name: 'peep CLI', defaultScopes: ['read', 'write'] },
};

/** An RFC 6749 §5.2 error, rendered as `{"error": "...", "error_description": "..."}`. */
export class OAuthError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status = 400,
  ) {
    super(description);
  }
}

export function createDeviceService(deps: { db: Db; config: Config; tokens: TokenService }) {
  const { db, config, tokens } = deps;

  function parseScope(raw: string | undefined, clientId: string): Scope[] {
    if (!raw?.trim()) return CLIENTS[clientId]?.defaultScopes ?? ['read'];
    const asked = [...new Set(raw.trim().split(/\s+/))];
    for (const s of asked) {
      if (!(SCOPES as readonly string[]).includes(s)) {
        throw new OAuthError(
          'invalid_scope',
          `Unknown scope "${s}"; use read, write and (instance admins) admin.`,
        );
      }
    }
    return asked as Scope[];
  }

  async function findByUserCode(input: string) {
    const code = normalizeUserCode(input);
    if (!code) throw new AppError('device_code_not_found');
    const row = await deviceRepo.byUserCode(db, code);
    if (!row || row.status === 'consumed') throw new AppError('device_code_not_found');
    if (row.status !== 'pending')
      throw new AppError('device_code_already_decided', `This login was already ${row.status}.`);
    if (row.expired) throw new AppError('device_code_expired');
    return row;
  }

  return {
    async authorize(input: {
      clientId?: string;
      scope?: string;
      baseUrl: string;
      ip: string | null;
      userAgent: string | null;
    }) {
      if (!input.clientId) throw new OAuthError('invalid_request', 'client_id is required.');
      if (!CLIENTS[input.clientId])
        throw new OAuthError('invalid_client', `Unknown client "${input.clientId}".`, 401);
      const scopes = parseScope(input.scope, input.clientId);
      const deviceCode = randomBytes(32).toString('base64url');
      let userCode = newUserCode();
      // 20^8 codes; a collision with a pending one is retried.
      for (let i = 0; ; i++) {
        const ok = await deviceRepo.insert(db, {
          deviceCodeHash: sha256(deviceCode),
          userCode,
          clientId: input.clientId,
          scopes,
          interval: config.devicePollInterval,
          ttlSeconds: config.deviceCodeTtlSeconds,
          ip: input.ip,
          userAgent: input.userAgent,
        });
        if (ok) break;
        if (i > 5) throw new OAuthError('server_error', 'Could not allocate a user code.', 500);
        userCode = newUserCode();
      }
      return {
        device_code: deviceCode,
        user_code: userCode,
        verification_uri: `${input.baseUrl}/device`,
        verification_uri_complete: `${input.baseUrl}/device?user_code=${userCode}`,
        expires_in: config.deviceCodeTtlSeconds,
        interval: config.devicePollInterval,
      };
    },

    async token(input: { grantType?: string; deviceCode?: string; clientId?: string }) {
      if (!input.grantType) throw new OAuthError('invalid_request', 'grant_type is required.');
      if (input.grantType !== DEVICE_GRANT)
        throw new OAuthError('unsupported_grant_type', `Only ${DEVICE_GRANT} is supported.`);
      if (!input.deviceCode) throw new OAuthError('invalid_request', 'device_code is required.');
      if (!input.clientId) throw new OAuthError('invalid_request', 'client_id is required.');
      if (!CLIENTS[input.clientId])
        throw new OAuthError('invalid_client', `Unknown client "${input.clientId}".`, 401);
      const row = await deviceRepo.byDeviceCode(db, sha256(input.deviceCode));
      if (!row || row.client_id !== input.clientId)
        throw new OAuthError('invalid_grant', 'Unknown device code.');
      if (row.status === 'consumed')
        throw new OAuthError('invalid_grant', 'This device code was already used.');
      if (row.expired && row.status !== 'denied')
        throw new OAuthError('expired_token', 'The device code expired; start the login again.');
      if (row.status === 'denied') throw new OAuthError('access_denied', 'The login was denied.');
      if (!(await deviceRepo.registerPoll(db, row.id))) {
        throw new OAuthError(
          'slow_down',
          `Polling too fast; wait at least ${row.interval_seconds + 5} seconds between requests.`,
        );
      }
      if (row.status === 'pending')
        throw new OAuthError('authorization_pending', 'The user has not approved the login yet.');
      const userId = await deviceRepo.consume(db, row.id);
      if (!userId) throw new OAuthError('invalid_grant', 'This device code was already used.');
      // `admin` is granted only to instance admins; others get the rest (the response says which).
      const isAdmin = (await usersRepo.byId(db, userId))?.isAdmin === true;
      const scopes = row.scopes.filter((s) => s !== 'admin' || isAdmin);
      const client = CLIENTS[row.client_id]?.name ?? row.client_id;
      const issued = await tokens.issue(userId, {
        name: `${client} (${row.user_code})`,
        kind: 'cli',
        scopes,
        expiresAt: null,
      });
      await deviceRepo.linkToken(db, row.id, issued.token.id);
      return {
        access_token: issued.secret,
        token_type: 'Bearer',
        scope: scopes.join(' '),
        userId,
        tokenId: issued.token.id,
      };
    },

    async describe(userCode: string) {
      const row = await findByUserCode(userCode);
      return {
        userCode: row.user_code,
        clientId: row.client_id,
        clientName: CLIENTS[row.client_id]?.name ?? row.client_id,
        scopes: row.scopes,
        status: row.status as 'pending',
        requestedFromIp: row.request_ip,
        requestedUserAgent: row.request_user_agent,
        createdAt: row.created_at.toISOString(),
        expiresAt: row.expires_at.toISOString(),
      };
    },

    async decide(userCode: string, userId: string, decision: 'approved' | 'denied') {
      const row = await findByUserCode(userCode);
      if (!(await deviceRepo.decide(db, row.id, userId, decision))) {
        throw new AppError('device_code_already_decided');
      }
      return { status: decision, id: row.id };
    },
  };
}
export type DeviceService = ReturnType<typeof createDeviceService>;
