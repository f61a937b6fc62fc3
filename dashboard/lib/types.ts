/** Response types of the API, taken from the shared schemas (types only: no runtime code from pkg). */
import type {
  ApiToken,
  AuditEntry,
  DeviceRequestInfo,
  Environment,
  IngestKey,
  Member,
  MeResponse,
  Project,
  ProjectDetail,
  Role,
  Scope,
  Service,
  Static,
  User,
} from '@peep/pkg/schemas';

export type {
  ApiToken,
  AuditEntry,
  Environment,
  IngestKey,
  Member,
  Project,
  ProjectDetail,
  Role,
  Scope,
  Service,
  User,
};
export type Me = Static<typeof MeResponse>;
export type DeviceInfo = Static<typeof DeviceRequestInfo>;
export interface AuditPage {
  entries: AuditEntry[];
  nextCursor: string | null;
}

/** A project, environment or service slug, as an HTML `pattern`. */
export const SLUG_PATTERN = '[a-z0-9](?:[a-z0-9\\-]{0,38}[a-z0-9])?';

export const ROLE_ORDER: readonly Role[] = ['owner', 'admin', 'developer', 'viewer'];
const RANK: Record<Role, number> = { owner: 3, admin: 2, developer: 1, viewer: 0 };

/** Whether `role` is at least `min` (owner > admin > developer > viewer). */
export function atLeast(role: Role, min: Role): boolean {
  return RANK[role] >= RANK[min];
}
