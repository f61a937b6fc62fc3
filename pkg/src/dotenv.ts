/**
 * The `.env` format peep reads (import) and writes (pull, export), docs/environments.md#dotenv:
 *
 * - `KEY=value` and `export KEY=value`, spaces around `=` allowed; `#` starts a comment line, and a
 *   comment after an unquoted value when preceded by a space or tab; blank lines are skipped.
 * - Unquoted values are trimmed. `'single quotes'` keep everything literally. `"double quotes"` know
 *   the escapes `\n \r \t \" \\ \$` (any other backslash is kept as written). Both kinds of quotes
 *   may span lines (a PEM key, say); after the closing quote only spaces and a comment may follow.
 * - CRLF line endings are read as LF: a value that needs a carriage return holds `\r` in double
 *   quotes, which is how `serializeDotenv` writes it.
 *
 * Every problem is reported with its line number (1-based); parsing goes on after a bad line so all
 * of them are listed. `serializeDotenv` quotes only when needed, and parses back to the same entries.
 */

export interface DotenvEntry {
  key: string;
  value: string;
  /** The line the entry starts on. */
  line: number;
}

export interface DotenvProblem {
  line: number;
  message: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\', $: '$' };

export function parseDotenv(content: string): { entries: DotenvEntry[]; problems: DotenvProblem[] } {
  const lines = content
    .replace(/^\uFEFF/, '')
    .replace(/\r\n/g, '\n')
    .split('\n');
  const entries: DotenvEntry[] = [];
  const problems: DotenvProblem[] = [];
  let i = 0;
  while (i < lines.length) {
    const lineNo = i + 1;
    const raw = lines[i] ?? '';
    i++;
    let rest = raw.replace(/^[ \t]+/, '');
    if (rest === '' || rest.startsWith('#')) continue;
    if (/^export[ \t]+/.test(rest)) rest = rest.replace(/^export[ \t]+/, '');
    const name = NAME.exec(rest)?.[0];
    if (!name) {
      const shown = rest.split(/[=\s]/)[0] ?? '';
      problems.push({
        line: lineNo,
        message: shown
          ? `"${shown.slice(0, 40)}" is not a variable name (letters, digits and underscores, not starting with a digit)`
          : 'expected KEY=value',
      });
      continue;
    }
    rest = rest.slice(name.length).replace(/^[ \t]+/, '');
    if (!rest.startsWith('=')) {
      problems.push({
        line: lineNo,
        message:
          rest === '' ? `expected "=" after ${name}` : `unexpected "${rest[0]}" after ${name}; expected "="`,
      });
      continue;
    }
    rest = rest.slice(1).replace(/^[ \t]+/, '');
    const quote = rest[0];
    if (quote !== '"' && quote !== "'") {
      const hash = rest.search(/[ \t]#/);
      entries.push({
        key: name,
        value: (hash < 0 ? rest : rest.slice(0, hash)).replace(/[ \t]+$/, ''),
        line: lineNo,
      });
      continue;
    }
    // Quoted: may continue on the next lines until the closing quote.
    let body = rest.slice(1);
    let value = '';
    let closed = false;
    let after = '';
    for (;;) {
      let j = 0;
      while (j < body.length) {
        const c = body[j] as string;
        if (quote === '"' && c === '\\' && j + 1 < body.length) {
          const n = body[j + 1] as string;
          value += ESCAPES[n] ?? `\\${n}`;
          j += 2;
          continue;
        }
        if (c === quote) {
          closed = true;
          after = body.slice(j + 1);
          break;
        }
        value += c;
        j++;
      }
      if (closed || i >= lines.length) break;
      value += '\n';
      body = lines[i] ?? '';
      i++;
    }
    if (!closed) {
      problems.push({
        line: lineNo,
        message: `the ${quote === '"' ? 'double' : 'single'}-quoted value of ${name} has no closing quote`,
      });
      continue;
    }
    const trailing = after.replace(/^[ \t]+/, '');
    if (trailing !== '' && !(trailing.startsWith('#') && after !== trailing)) {
      problems.push({ line: i, message: `unexpected text after the closing quote of ${name}` });
      continue;
    }
    entries.push({ key: name, value, line: lineNo });
  }
  return { entries, problems };
}

const PLAIN = /^[A-Za-z0-9_./:@,+=%^*!?~-]*$/;

/** One `KEY=value` line (more when a quoted value holds new lines), quoted only when needed. */
export function dotenvLine(key: string, value: string): string {
  if (PLAIN.test(value)) return `${key}=${value}`;
  if (!value.includes("'") && !value.includes('\r')) return `${key}='${value}'`;
  return `${key}="${value.replace(/[\\"\r$]/g, (c) => (c === '\r' ? '\\r' : `\\${c}`))}"`;
}

/** A `.env` text of the entries, in order, ending with a new line (empty when there are none). */
export function serializeDotenv(entries: Iterable<{ key: string; value: string }>): string {
  let out = '';
  for (const e of entries) out += `${dotenvLine(e.key, e.value)}\n`;
  return out;
}
