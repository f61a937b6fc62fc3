/**
 * Environment variables (docs/environments.md): what a key, a value and a service scope may be.
 * Shared by the API (which enforces it) and the CLI (which checks before sending).
 *
 * - Keys: `^[A-Za-z_][A-Za-z0-9_]{0,255}$`.
 * - Values: UTF-8 text without NUL, at most 65,536 bytes, kept byte-exact (new lines, CRLF, trailing
 *   spaces). A JavaScript string with a lone surrogate has no UTF-8 form and is refused like NUL.
 * - Scope: service '' is the whole environment; a service slug is an override for that service.
 * - At most 5,000 variables per scope.
 */

export const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;
export const SERVICE_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const MAX_VALUE_BYTES = 65_536;
export const MAX_VARS_PER_SCOPE = 5_000;
/** Names that default to secret when a new variable does not say. */
export const SECRET_NAME = /(SECRET|PASSWORD|TOKEN|KEY|PRIVATE|CREDENTIAL)/i;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `key` is not a variable name, or null. */
export function keyProblem(key: string): string | null {
  if (typeof key !== 'string' || key === '') return 'the name is empty';
  if (key.length > 256) return 'the name is longer than 256 characters';
  if (/^[0-9]/.test(key)) return 'the name starts with a digit';
  if (!KEY_PATTERN.test(key)) return 'the name has characters other than letters, digits and underscores';
  return null;
}

export interface ValueProblem {
  code: 'invalid_value' | 'value_too_large';
  message: string;
}

/** Why `value` cannot be stored, or null. Never quotes the value. */
export function valueProblem(value: string): ValueProblem | null {
  if (typeof value !== 'string') return { code: 'invalid_value', message: 'the value is not a string' };
  if (value.includes('\u0000'))
    return {
      code: 'invalid_value',
      message: 'the value contains a NUL character (binary data must be encoded)',
    };
  if (LONE_SURROGATE.test(value))
    return { code: 'invalid_value', message: 'the value is not valid UTF-8 text' };
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_VALUE_BYTES)
    return {
      code: 'value_too_large',
      message: `the value is ${bytes} bytes; the limit is ${MAX_VALUE_BYTES}`,
    };
  return null;
}

/** Why `service` is not a scope ('' or a service slug), or null. */
export function serviceProblem(service: string): string | null {
  if (service === '') return null;
  if (typeof service !== 'string' || !SERVICE_PATTERN.test(service))
    return 'the service is not a service slug (lowercase letters, digits and dashes, at most 63 characters)';
  return null;
}

/** The secret flag of a new variable that does not say: true for secret-looking names. */
export function defaultSecret(key: string): boolean {
  return SECRET_NAME.test(key);
}

/** Bytes of a value's UTF-8 form. */
export const valueSize = (value: string): number => Buffer.byteLength(value, 'utf8');
