/**
 * References between variables (docs/environments.md#references), expanded on read:
 *
 * - `${KEY}`: KEY in the same environment (in a service's view when reading for a service);
 * - `${env.KEY}`: KEY in the environment with slug `env` of the same project (same service view);
 * - `$${`: a literal `${` (the `$${` itself is kept when values are read without resolving);
 * - anything else between `${` and `}` (e.g. `${HOME:-x}`) is literal text, not a reference.
 *
 * Expansion is recursive. A missing target is a RefError `missing` listing every `{ key, ref }`, a
 * cycle is a RefError `cycle` with the keys around it. A value that uses a secret (directly or
 * through another reference) is secret once expanded. Keys of other environments are written
 * `env.KEY` in errors; the home environment's keys are bare.
 */

export type RefToken =
  | { kind: 'text'; text: string }
  | { kind: 'ref'; env: string | null; key: string; raw: string };

const REF_BODY = /^(?:([a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?)\.)?([A-Za-z_][A-Za-z0-9_]{0,255})$/;

/** The value as literal text and references, in order. */
export function parseRefs(value: string): RefToken[] {
  const out: RefToken[] = [];
  let text = '';
  let i = 0;
  while (i < value.length) {
    const d = value.indexOf('$', i);
    if (d < 0) {
      text += value.slice(i);
      break;
    }
    text += value.slice(i, d);
    if (value.startsWith('$${', d)) {
      text += '${';
      i = d + 3;
      continue;
    }
    if (value.startsWith('${', d)) {
      const end = value.indexOf('}', d + 2);
      const m = end < 0 ? null : REF_BODY.exec(value.slice(d + 2, end));
      if (m?.[2]) {
        if (text) out.push({ kind: 'text', text });
        text = '';
        out.push({ kind: 'ref', env: m[1] ?? null, key: m[2], raw: value.slice(d, end + 1) });
        i = end + 1;
        continue;
      }
    }
    text += '$';
    i = d + 1;
  }
  if (text) out.push({ kind: 'text', text });
  return out;
}

/** Whether the value holds a reference or an escape, i.e. reads differently once expanded. */
export const hasRefSyntax = (value: string): boolean => value.includes('${');

/** The references in a value. */
export function refsOf(value: string): { env: string | null; key: string; raw: string }[] {
  if (!hasRefSyntax(value)) return [];
  return parseRefs(value).flatMap((t) => (t.kind === 'ref' ? [{ env: t.env, key: t.key, raw: t.raw }] : []));
}

export interface RefSource {
  value: string;
  secret: boolean;
}

export interface Expanded {
  value: string;
  /** Secret itself, or uses a secret. */
  secret: boolean;
  /** Other environments (slugs) whose values were used, and whether a secret of theirs was. */
  used: Map<string, { secret: boolean }>;
}

export class RefError extends Error {
  constructor(
    readonly kind: 'missing' | 'cycle',
    message: string,
    readonly details: { key: string; ref: string }[] | { cycle: string[] },
  ) {
    super(message);
    this.name = 'RefError';
  }
}

/**
 * Expands references. `home` is the environment being read (its slug); `lookup(env, key)` answers a
 * variable of `env` (the home slug for the home environment) or undefined. Every key of `keys` is
 * expanded; all missing references are reported together.
 */
export function expandRefs(
  keys: readonly string[],
  home: string,
  lookup: (env: string, key: string) => RefSource | undefined,
): Map<string, Expanded> {
  const done = new Map<string, Expanded>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const missing: { key: string; ref: string }[] = [];
  const name = (env: string, key: string) => (env === home ? key : `${env}.${key}`);

  const visit = (env: string, key: string, src: RefSource): Expanded => {
    const id = name(env, key);
    const hit = done.get(id);
    if (hit) return hit;
    if (!hasRefSyntax(src.value)) {
      const e: Expanded = { value: src.value, secret: src.secret, used: new Map() };
      done.set(id, e);
      return e;
    }
    if (onStack.has(id)) {
      const from = stack.indexOf(id);
      const cycle = [...stack.slice(from), id];
      throw new RefError('cycle', `References form a cycle: ${cycle.join(' → ')}.`, { cycle });
    }
    stack.push(id);
    onStack.add(id);
    let value = '';
    let secret = src.secret;
    const used = new Map<string, { secret: boolean }>();
    for (const t of parseRefs(src.value)) {
      if (t.kind === 'text') {
        value += t.text;
        continue;
      }
      const tenv = t.env ?? env;
      const target = lookup(tenv, t.key);
      if (!target) {
        missing.push({ key: id, ref: t.raw });
        continue;
      }
      const sub = visit(tenv, t.key, target);
      value += sub.value;
      secret ||= sub.secret;
      if (tenv !== home) {
        const prev = used.get(tenv);
        used.set(tenv, { secret: (prev?.secret ?? false) || target.secret });
      }
      for (const [e, u] of sub.used) {
        const prev = used.get(e);
        used.set(e, { secret: (prev?.secret ?? false) || u.secret });
      }
    }
    stack.pop();
    onStack.delete(id);
    const e: Expanded = { value, secret, used };
    done.set(id, e);
    return e;
  };

  const out = new Map<string, Expanded>();
  for (const key of keys) {
    const src = lookup(home, key);
    if (src) out.set(key, visit(home, key, src));
  }
  if (missing.length) {
    const seen = new Set<string>();
    const list = missing.filter((m) => {
      const k = `${m.key}\u0000${m.ref}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    throw new RefError(
      'missing',
      `${list.length === 1 ? 'A reference points' : `${list.length} references point`} to no variable: ${list
        .slice(0, 5)
        .map((m) => `${m.ref} in ${m.key}`)
        .join(', ')}${list.length > 5 ? ', …' : ''}.`,
      list,
    );
  }
  return out;
}
