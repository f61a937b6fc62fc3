import type { Bus, Clock, Config, Db, Logger } from '@peep/pkg';
import type { MasterKeys } from '@peep/pkg/project-keys';
import type { Scope } from '@peep/pkg/schemas';

export { type Clock, systemClock } from '@peep/pkg';

/** What every domain's register() receives. */
export interface Deps {
  config: Config;
  db: Db;
  bus: Bus;
  log: Logger;
  clock: Clock;
  /**
   * The master keys that seal project secrets (channel URLs): a keyring, or a loader such as
   * `keyringFromConfig(config, log)` from @peep/pkg/project-keys. Default: that loader, so the key
   * is read (embedded mode: `<data dir>/master.key`, created if missing) when first needed. Pass the
   * same value to the builder so both use one key.
   */
  keys?: MasterKeys;
}

export interface AuthUser {
  id: string;
  email: string;
  name: string;
  isAdmin: boolean;
  createdAt: string;
}

export interface AuthContext {
  user: AuthUser;
  kind: 'session' | 'token';
  scopes: Scope[];
  tokenId?: string;
  sessionId?: string;
  csrfHash?: string;
}

/**
 * Who may call a route: anyone, any signed-in user (session or token), only a dashboard session, or
 * the holder of an ingest key (checked by the ingest scope, api/src/telemetry/ingest-auth.ts).
 */
export type RouteAuth = 'public' | 'user' | 'session' | 'ingest';

export interface AuditTarget {
  targetType?: string;
  targetId?: string;
  projectId?: string;
  environmentId?: string;
  /** Who acted when no one is signed in yet (sign-in attempts). */
  actorEmail?: string;
  /** What the action touched, stored in audit_log.details (key names, versions; never values). */
  details?: Record<string, unknown>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
    /** Scope a bearer token needs; default `read` for GET/HEAD, `write` otherwise. */
    scope?: Scope;
    /** Action name recorded in the audit log for this route (every mutating route has one). */
    audit?: string;
  }
  interface FastifyRequest {
    auth: AuthContext | null;
    audit: AuditTarget;
  }
}

export const iso = (d: Date | string | null | undefined): string | null =>
  d === null || d === undefined ? null : (d instanceof Date ? d : new Date(d)).toISOString();
export const isoRequired = (d: Date | string): string => (d instanceof Date ? d : new Date(d)).toISOString();
