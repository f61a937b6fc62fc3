/**
 * The small JSON path subset probes assert on, and the comparison ops. Not JSONPath in full (no
 * wildcards, filters, slices or recursive descent): one path names one value.
 *
 *   $                     the whole document
 *   $.status              member `status` (names: letters, digits, _ and $, not starting with a digit)
 *   $['a-b'] / $["a b"]   any member name, quoted (\\ and \' or \" escapes)
 *   $.items[0].ok         array index (0 or more; [-1] is the last element)
 *
 * At most 32 steps and 256 characters. Ops: eq / neq compare a primitive (a number and a numeric
 * string compare as numbers, so `"200"` eq 200); exists is true when the path resolves, even to null;
 * contains looks for a substring in a string or an equal element in an array; lt / gt compare numbers
 * (a numeric string counts as its number). A path that does not resolve fails every op but exists
 * (neq included: "not equal" needs a value to compare).
 */
import type { JsonOp } from './probe-spec.js';

export type JsonStep = string | number;
const MAX_STEPS = 32;
const MAX_PATH = 256;
const NAME = /[A-Za-z_$][A-Za-z0-9_$]*/y;
const INDEX = /-?\d{1,9}/y;

/** Parses a path into steps, or returns a message saying what is wrong with it. */
export function parseJsonPath(path: string): JsonStep[] | string {
  if (path.length > MAX_PATH) return `a JSON path has at most ${MAX_PATH} characters`;
  if (path[0] !== '$') return "a JSON path starts with '$'";
  const steps: JsonStep[] = [];
  let i = 1;
  while (i < path.length) {
    if (steps.length >= MAX_STEPS) return `a JSON path has at most ${MAX_STEPS} steps`;
    const c = path[i];
    if (c === '.') {
      NAME.lastIndex = i + 1;
      const m = NAME.exec(path);
      if (!m) return `expected a member name after '.' at ${i}`;
      steps.push(m[0]);
      i = NAME.lastIndex;
    } else if (c === '[') {
      const q = path[i + 1];
      if (q === "'" || q === '"') {
        let name = '';
        let j = i + 2;
        for (; j < path.length && path[j] !== q; j++) {
          if (path[j] === '\\') {
            const e = path[j + 1];
            if (e !== '\\' && e !== "'" && e !== '"') return `unsupported escape at ${j}`;
            j++;
          }
          name += path[j];
        }
        if (path[j] !== q || path[j + 1] !== ']') return `unterminated quoted name at ${i}`;
        steps.push(name);
        i = j + 2;
      } else {
        INDEX.lastIndex = i + 1;
        const m = INDEX.exec(path);
        if (!m || path[INDEX.lastIndex] !== ']') return `expected an index or a quoted name in [] at ${i}`;
        steps.push(Number(m[0]));
        i = INDEX.lastIndex + 1;
      }
    } else return `unexpected '${c}' at ${i}: steps are .name, ['name'] or [index]`;
  }
  return steps;
}

const MISSING = Symbol('missing');

/** The value the steps name, or MISSING. */
export function resolveJsonPath(doc: unknown, steps: readonly JsonStep[]): unknown {
  let v = doc;
  for (const s of steps) {
    if (typeof s === 'number') {
      if (!Array.isArray(v)) return MISSING;
      const i = s < 0 ? v.length + s : s;
      if (i < 0 || i >= v.length) return MISSING;
      v = v[i];
    } else {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, s)) return MISSING;
      v = (v as Record<string, unknown>)[s];
    }
  }
  return v;
}

const asNumber = (v: unknown): number | undefined => {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    if (Number.isFinite(n)) return n;
  }
  return undefined;
};

function equal(actual: unknown, expected: unknown): boolean {
  if (actual === expected) return true;
  if (typeof actual === 'number' || typeof expected === 'number') {
    const a = asNumber(actual);
    const b = asNumber(expected);
    return a !== undefined && a === b;
  }
  return false;
}

/** Short rendering of a value for a failure message. */
export function show(v: unknown): string {
  if (v === MISSING) return 'missing';
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Applies an op to the resolved value: undefined when it holds, or why not. */
export function assertJson(
  doc: unknown,
  steps: readonly JsonStep[],
  path: string,
  op: JsonOp,
  expected: unknown,
): string | undefined {
  const v = resolveJsonPath(doc, steps);
  let pass: boolean;
  switch (op) {
    case 'exists':
      pass = v !== MISSING;
      break;
    case 'eq':
      pass = v !== MISSING && equal(v, expected);
      break;
    case 'neq':
      pass = v !== MISSING && !equal(v, expected);
      break;
    case 'contains':
      pass =
        typeof v === 'string'
          ? typeof expected !== 'object' && v.includes(String(expected))
          : Array.isArray(v) && v.some((e) => equal(e, expected));
      break;
    case 'lt':
    case 'gt': {
      const a = asNumber(v);
      const b = asNumber(expected);
      pass = a !== undefined && b !== undefined && (op === 'lt' ? a < b : a > b);
      break;
    }
  }
  if (pass) return undefined;
  return op === 'exists'
    ? `${path} is missing`
    : `${path} is ${show(v)}, expected ${op} ${show(expected)}`.slice(0, 200);
}
