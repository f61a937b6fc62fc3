import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pc from 'picocolors';
import { CliError, EXIT } from './errors.js';
import {
  colorEnabled,
  errorJson,
  formatError,
  formatTable,
  formatTime,
  Output,
  toCliError,
} from './output.js';

const plain = pc.createColors(false);
const colored = pc.createColors(true);
const ESC = '\u001b[';

function sink(isTTY = false) {
  let text = '';
  return { isTTY, write: (s: string) => (text += s), text: () => text };
}

describe('output', () => {
  test('tables align every column to its widest cell, capitalised headers, no trailing spaces', () => {
    const s = formatTable(
      ['SLUG', 'NAME', 'ROLE'],
      [
        ['api', 'API', 'owner'],
        ['store-front', 'Store Front', 'viewer'],
      ],
      plain,
    );
    assert.equal(
      s,
      [
        'SLUG         NAME         ROLE',
        'api          API          owner',
        'store-front  Store Front  viewer',
      ].join('\n'),
    );
    for (const line of s.split('\n')) assert.equal(line, line.trimEnd());
  });

  test('coloured cells keep the alignment of the plain table', () => {
    const rows = [
      ['a', { text: 'success', style: colored.green }, 'x'],
      ['bbbb', { text: 'failure', style: colored.red }, 'y'],
    ];
    const withColor = formatTable(['K', 'OUTCOME', 'Z'], rows, colored);
    assert.ok(withColor.includes(ESC), 'colours are applied');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI escapes
    const stripped = withColor.replace(/\u001b\[[0-9;]*m/g, '');
    const plainRows = rows.map((r) => r.map((c) => (typeof c === 'string' ? c : c.text)));
    assert.equal(stripped, formatTable(['K', 'OUTCOME', 'Z'], plainRows, plain));
  });

  test('colours only on a terminal, never with NO_COLOR, and never in --json mode', () => {
    assert.equal(colorEnabled({ write() {}, isTTY: true }, {}), true);
    assert.equal(colorEnabled({ write() {}, isTTY: false }, {}), false);
    assert.equal(colorEnabled({ write() {} }, {}), false);
    assert.equal(colorEnabled({ write() {}, isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(colorEnabled({ write() {}, isTTY: false }, { FORCE_COLOR: '1' }), true);

    const tty = sink(true);
    new Output(false, tty, sink(true), {}).table(
      ['A'],
      [[{ text: 'x', style: pc.createColors(true).red }]],
      '',
    );
    assert.ok(tty.text().includes(ESC));
    const cases: [NodeJS.ProcessEnv, boolean][] = [
      [{ NO_COLOR: '1' }, true], // a terminal, but NO_COLOR
      [{}, false], // piped
    ];
    for (const [env, isTTY] of cases) {
      const out = sink(isTTY);
      const o = new Output(false, out, sink(), env);
      o.table(['A', 'B'], [['x', { text: 'y', style: o.c.red }]], 'none');
      assert.equal(out.text(), 'A  B\nx  y\n', `plain with ${JSON.stringify(env)}`);
    }
  });

  test('an empty table prints its explanation instead of a lone header', () => {
    const out = sink();
    new Output(false, out, sink(), {}).table(['A'], [], 'No projects yet.');
    assert.equal(out.text(), 'No projects yet.\n');
  });

  test('--json mode prints the result as JSON and nothing else on stdout', () => {
    const out = sink(true);
    const err = sink(true);
    const o = new Output(true, out, err, {});
    o.line('decoration');
    o.note('progress');
    o.warn('careful');
    o.table(['A'], [['x']], 'none');
    o.result({ projects: [] }, () => o.line('human'));
    assert.deepEqual(JSON.parse(out.text()), { projects: [] });
    assert.equal(err.text(), '');
  });

  test('API errors read "error: <message> (<code>, request <id>)"', () => {
    const e = new CliError(EXIT.notFound, 'project_not_found', 'No such project.', {
      requestId: 'req-1',
      status: 404,
      hint: 'list them with `peep projects ls`',
    });
    assert.equal(
      formatError(e, plain),
      'error: No such project. (project_not_found, request req-1)\nhint: list them with `peep projects ls`',
    );
    assert.equal(formatError(new CliError(EXIT.usage, 'usage', 'bad'), plain), 'error: bad');
  });

  test('--json errors are {"error":{code,message,exitCode,...}} on stderr, stdout stays empty', () => {
    const e = new CliError(EXIT.conflict, 'slug_taken', 'Taken.', {
      requestId: 'r',
      status: 409,
      details: [1],
    });
    assert.deepEqual(errorJson(e), {
      error: {
        code: 'slug_taken',
        message: 'Taken.',
        exitCode: 6,
        requestId: 'r',
        status: 409,
        details: [1],
      },
    });
    const out = sink();
    const err = sink();
    new Output(true, out, err, {}).error(e);
    assert.equal(out.text(), '');
    assert.deepEqual(JSON.parse(err.text()), errorJson(e));
  });

  test('unexpected errors become exit 1 with their message', () => {
    const e = toCliError(new Error('boom'));
    assert.equal(e.exitCode, EXIT.failure);
    assert.equal(e.message, 'boom');
    const same = new CliError(EXIT.auth, 'x', 'y');
    assert.equal(toCliError(same), same);
  });

  test('times print as fixed-width UTC', () => {
    assert.equal(formatTime('2025-03-04T05:06:07.890Z'), '2025-03-04 05:06');
    assert.equal(formatTime('2025-03-04T05:06:07.890+02:00', true), '2025-03-04 03:06:07');
    assert.equal(formatTime(null), '-');
  });
});
