/**
 * COPY ... FROM text format, the fastest way to insert many rows on both engines (Db.copyIn): one
 * line per row, tab-separated cells, `\N` for NULL.
 */

const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\0': '\uFFFD',
};

/** A value in COPY text format: `\N` for NULL; backslash, tab, newline and carriage return escaped. */
export function copyCell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v !== 'string') return String(v);
  // PostgreSQL text cannot hold NUL: it becomes U+FFFD.
  return /[\\\t\n\r\0]/.test(v) ? v.replace(/[\\\t\n\r\0]/g, (c) => ESCAPES[c] as string) : v;
}
