/**
 * Response types of the environment variable, proposal and promotion routes (docs/environments.md,
 * docs/environments-policy.md; written out here because the dashboard takes types only from
 * @peep/pkg), the editor's draft of changes, and small helpers of the Environments tab.
 */
import type { Environment, Role } from './types';

export interface Var {
  key: string;
  /** '' = the whole environment; a service slug = that service's override. */
  service: string;
  secret: boolean;
  /** null for secrets (masked) in every listing. */
  value: string | null;
  size: number;
  updatedVersion: number;
}

export interface EnvPolicy {
  readRole: Role;
  revealRole: Role;
  changeRole: Role;
  proposeRole: Role;
  approveRole: Role;
  role: Role;
  canRead?: boolean;
  canReveal: boolean;
  canChange: boolean;
  canPropose: boolean;
  canApprove: boolean;
}

export interface VarsResponse {
  environment: { id: string; slug: string; name: string };
  version: number;
  vars: Var[];
  overrides?: Var[];
  policy: EnvPolicy;
}

export type Op = 'added' | 'changed' | 'removed';
export interface Change {
  key: string;
  service: string;
  op: Op;
}

export interface Version {
  number: number;
  kind: 'change' | 'import' | 'rollback' | 'promotion';
  message: string;
  author: { id: string; email: string } | null;
  createdAt: string;
  changes: Change[];
  restoredVersion: number | null;
  source: { environment: string | null; version: number } | null;
  proposal: { id: string; number: number | null } | null;
  approvedBy: { id: string; email: string | null } | null;
}

export interface DiffItem {
  key: string;
  service: string;
  secret: boolean;
  value: string | null;
}
export interface DiffChanged {
  key: string;
  service: string;
  secret: boolean;
  from: string | null;
  to: string | null;
}
export interface Diff {
  added: DiffItem[];
  removed: DiffItem[];
  changed: DiffChanged[];
  unchanged: number;
}
export interface Side {
  environment: string;
  version: number;
}
export type SidedDiff = Diff & { left: Side; right: Side };

export type ProposalStatus = 'pending' | 'applied' | 'rejected' | 'cancelled' | 'conflict';
export interface Proposal {
  id: string;
  number: number;
  environment: { id: string; slug: string };
  kind: 'change' | 'import' | 'rollback' | 'promotion';
  status: ProposalStatus;
  baseVersion: number;
  message: string;
  changes: (Change & { secret: boolean })[];
  restoredVersion: number | null;
  author: { id: string; email: string } | null;
  createdAt: string;
  decidedBy: { id: string; email: string } | null;
  decidedAt: string | null;
  decisionComment: string | null;
  appliedVersion: number | null;
  source: { environment: { id: string; slug: string } | null; version: number } | null;
}

export interface RequiredKeyProblem {
  key: string;
  problem: 'missing' | 'pattern_mismatch';
  service?: string;
}
export interface Frozen {
  until: string;
  reason: string;
}
export interface PromotionPreview {
  from: Side;
  to: Side;
  diff: Diff;
  requiredKeys: { ok: boolean; problems: RequiredKeyProblem[] };
  frozen: Frozen | null;
  mode: 'apply' | 'propose';
}
export interface Applied {
  version: number;
  changes: Change[];
}

/** What a view of the Environments tab gets: the environment's variables and a way to say it changed. */
export interface EnvViewProps {
  projectId: string;
  data: VarsResponse;
  /** The project's environments in order. */
  envs: Environment[];
  /** Called after a change: the variables (and the version) are read again. */
  onChanged: () => Promise<void>;
}

/** `/projects/<id>/envs/<env>` plus `rest`. */
export function envPath(projectId: string, env: string, rest = ''): string {
  return `/projects/${encodeURIComponent(projectId)}/envs/${encodeURIComponent(env)}${rest}`;
}

/** "environment" for the environment-wide scope, else the service's slug. */
export const scopeLabel = (service: string) => service || 'environment';

/** Names that default to secret when a new variable does not say (as the API decides). */
export const SECRET_NAME = /(SECRET|PASSWORD|TOKEN|KEY|PRIVATE|CREDENTIAL)/i;
export const KEY_PATTERN = '[A-Za-z_][A-Za-z0-9_]{0,255}';

/** One pending edit of the draft: a value to set, or the variable to remove. */
export type DraftItem =
  | { op: 'set'; key: string; service: string; value: string; secret: boolean }
  | { op: 'unset'; key: string; service: string };

/** The draft's identity of a variable: its key in its scope. */
export const slot = (key: string, service: string) => `${service}\u0000${key}`;

/** The draft as the body of `PUT /vars` (and of a `change` proposal). */
export function draftBody(draft: Map<string, DraftItem>) {
  const set: { key: string; value: string; secret: boolean; service?: string }[] = [];
  const unset: { key: string; service?: string }[] = [];
  for (const d of draft.values()) {
    const service = d.service ? { service: d.service } : {};
    if (d.op === 'set') set.push({ key: d.key, value: d.value, secret: d.secret, ...service });
    else unset.push({ key: d.key, ...service });
  }
  return { set, unset };
}

/** The rows of a diff in one list, sorted by scope then key, each with its left and right side. */
export interface DiffRow {
  key: string;
  service: string;
  secret: boolean;
  op: Op;
  left: string | null;
  right: string | null;
}
export function diffRows(d: Diff): DiffRow[] {
  const rows: DiffRow[] = [
    ...d.added.map((a) => ({ ...a, op: 'added' as const, left: null, right: a.value })),
    ...d.removed.map((r) => ({ ...r, op: 'removed' as const, left: r.value, right: null })),
    ...d.changed.map((c) => ({ ...c, op: 'changed' as const, left: c.from, right: c.to })),
  ];
  return rows.sort((a, b) => a.service.localeCompare(b.service) || a.key.localeCompare(b.key));
}

/** "a few keys" of a change list, for one line: `A, B, C +4`. */
export function keyList(changes: { key: string }[], max = 6): string {
  const keys = [...new Set(changes.map((c) => c.key))];
  return keys.length > max ? `${keys.slice(0, max).join(', ')} +${keys.length - max}` : keys.join(', ');
}
