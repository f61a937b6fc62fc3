/**
 * The guides stay true to the code: the README's configuration table is CONFIG_SCHEMA, its CLI
 * reference names every command `peep --help` lists and its exit codes are the CLI's, the
 * architecture tables name every top-level folder, and every relative link points at a file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CONFIG_SCHEMA } from '@peep/pkg';
import { ROOT } from './components.js';

const read = (p: string) => fs.readFileSync(path.join(ROOT, p), 'utf8');
const readme = read('README.md');

/** The rows of the markdown table that follows `heading` (cells trimmed, header and rule dropped). */
function tableAfter(text: string, heading: string): string[][] {
  const at = text.indexOf(heading);
  assert.ok(at >= 0, `no "${heading}" section`);
  const lines = text.slice(at).split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const l of lines.slice(start)) {
    if (!l.startsWith('|')) break;
    rows.push(
      l
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
  }
  return rows.slice(2);
}

const show = (v: unknown) =>
  Array.isArray(v) ? (v.length ? v.join(',') : '(empty)') : v === '' ? '(empty)' : String(v);

describe('docs', () => {
  test("the README's configuration table is exactly CONFIG_SCHEMA, in order", () => {
    const expected = Object.values(CONFIG_SCHEMA).map((f) => [
      `\`${f.env}\``,
      `\`${show(typeof f.default === 'function' ? (f.default as () => unknown)() : f.default)}\``,
      f.doc,
    ]);
    assert.deepEqual(tableAfter(readme, '## Configuration'), expected);
  });

  test("the README's CLI reference names every command of `peep --help`, with the CLI's exit codes", (t) => {
    const bin = path.join(ROOT, 'cli/dist/bin.js');
    if (!fs.existsSync(bin)) return t.skip('cli/dist/bin.js not built');
    const help = spawnSync(process.execPath, [bin, '--help'], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    assert.equal(help.status, 0, help.stderr);
    const commands = [
      ...help.stdout.matchAll(/^ {2}([a-z][\w-]*)(?:\|\w+)?(?: \[options\])?(?: [<[].*?)?\s{2,}/gm),
    ]
      .map((m) => m[1] as string)
      .filter((c) => c !== 'help');
    assert.ok(commands.length >= 10, `parsed commands: ${commands.join(', ')}`);
    const reference = tableAfter(readme, '## CLI quick reference').map((r) => r[0] ?? '');
    for (const c of commands)
      assert.ok(
        reference.some((cell) => cell.startsWith(`\`peep ${c}`)),
        `peep ${c} is missing from the README's CLI reference`,
      );
    const codes = [...help.stdout.matchAll(/^ {2}(\d) {2}\S/gm)].map((m) => m[1]);
    const documented = tableAfter(readme, 'Exit codes:').map((r) => r[0]);
    assert.deepEqual(documented, codes);
  });

  test('the architecture tables name every top-level folder', () => {
    // Tracked folders only (a developer's untracked coverage/ or scratch folder is not architecture).
    const git = spawnSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' });
    const tracked =
      git.status === 0
        ? git.stdout
            .split('\n')
            .filter((f) => f.includes('/'))
            .map((f) => f.split('/')[0] as string)
        : fs
            .readdirSync(ROOT, { withFileTypes: true })
            .filter((e) => e.isDirectory() && e.name !== 'node_modules')
            .map((e) => e.name);
    const folders = [...new Set(tracked)].filter((n) => !n.startsWith('.')).map((n) => `${n}/`);
    assert.ok(folders.includes('api/') && folders.includes('k8s/'), folders.join(' '));
    for (const doc of ['README.md', 'docs/architecture.md']) {
      const named = tableAfter(read(doc), doc === 'README.md' ? '## Architecture' : '# Architecture').map(
        (r) => (r[0] ?? '').replaceAll('`', ''),
      );
      for (const f of folders) assert.ok(named.includes(f), `${doc} does not describe ${f}`);
    }
  });

  test('every relative link in the guides points at an existing file', () => {
    const docs = [
      'README.md',
      'CONTRIBUTING.md',
      'ci/release.md',
      ...fs.readdirSync(path.join(ROOT, 'docs')).map((f) => `docs/${f}`),
    ];
    for (const doc of docs.filter((d) => d.endsWith('.md'))) {
      for (const m of read(doc).matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = (m[1] as string).split('#')[0] as string;
        if (!target || /^[a-z]+:/.test(target)) continue;
        if (target.startsWith('../shared/') || target.startsWith('../../shared/')) continue; // beside the repo
        const abs = path.resolve(path.dirname(path.join(ROOT, doc)), target);
        assert.ok(fs.existsSync(abs), `${doc}: broken link ${m[1]}`);
      }
    }
  });
});
