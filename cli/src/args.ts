/**
 * Parsers for option values, run by commander before a command starts: a bad value is a usage error
 * (exit 2) naming the option, without a request to the server. No imports beyond commander, so
 * `peep --help` stays fast.
 */

import type { Role, Scope } from '@peep/pkg/schemas';
import { InvalidArgumentError } from 'commander';

export const ROLES = ['owner', 'admin', 'developer', 'viewer'] as const satisfies readonly Role[];
export const SCOPES = ['read', 'write', 'admin'] as const satisfies readonly Scope[];

/** `read,write` -> ['read', 'write']; each a known scope, no repeats. */
export function parseScopes(value: string): Scope[] {
  const parts = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new InvalidArgumentError(`give at least one of ${SCOPES.join(', ')}.`);
  for (const p of parts)
    if (!(SCOPES as readonly string[]).includes(p))
      throw new InvalidArgumentError(`unknown scope "${p}" (expected ${SCOPES.join(', ')}).`);
  if (new Set(parts).size !== parts.length) throw new InvalidArgumentError('a scope is repeated.');
  return parts as Scope[];
}

export function intIn(min: number, max: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value.trim()))
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}.`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}.`);
    return n;
  };
}

/** An ISO 8601 date or date-time (`2025-01-31`, `2025-01-31T12:00:00Z`), sent on as a full UTC timestamp. */
export function parseTime(value: string): string {
  const v = value.trim();
  const t = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(t))
    throw new InvalidArgumentError('expected an ISO 8601 time such as 2025-01-31 or 2025-01-31T12:00:00Z.');
  return new Date(t).toISOString();
}

/** Comma-separated slugs, for `projects create --environments dev,prod`. */
export function parseList(value: string): string[] {
  const parts = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new InvalidArgumentError('expected a comma-separated list.');
  return parts;
}

/** `--since`: a duration back from now (`90s`, `15m`, `6h`, `7d`, `2w`) sent as is, or an ISO 8601 time. */
export function parseSince(value: string): string {
  const v = value.trim();
  if (/^\d{1,6}[smhdw]$/.test(v)) return v;
  try {
    return parseTime(v);
  } catch {
    throw new InvalidArgumentError('expected a duration such as 15m, 6h, 7d, or an ISO 8601 time.');
  }
}
