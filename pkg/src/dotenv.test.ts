// biome-ignore-all lint/suspicious/noTemplateCurlyInString: values hold ${...} on purpose
/**
 * The .env format: every accepted form (export, spaces around `=`, quotes, escapes, comments,
 * multi-line values, CRLF, BOM), problems with their line numbers (and parsing going on after
 * them), and serialization that parses back to exactly the same entries, checked on hand-picked
 * awkward values and on 2,000 random ones.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dotenvLine, parseDotenv, serializeDotenv } from './dotenv.js';

const pairs = (content: string) => {
  const r = parseDotenv(content);
  assert.deepEqual(r.problems, []);
  return r.entries.map((e) => [e.key, e.value, e.line]);
};

test('accepted forms, with the line each entry starts on', () => {
  const content = [
    '\uFEFF# comment',
    '',
    'A=1',
    'export B = two words  ',
    '  C=x # comment after a space',
    'D=a#b',
    "E='single $x \\n kept'",
    'F="tab\\there \\"q\\" \\\\ \\$HOME \\q"  # note',
    'G="multi',
    'line"',
    "H='also",
    '',
    "multi'",
    'I=',
    'J=""',
    'export_K=v',
  ].join('\n');
  assert.deepEqual(pairs(content), [
    ['A', '1', 3],
    ['B', 'two words', 4],
    ['C', 'x', 5],
    ['D', 'a#b', 6],
    ['E', 'single $x \\n kept', 7],
    ['F', 'tab\there "q" \\ $HOME \\q', 8],
    ['G', 'multi\nline', 9],
    ['H', 'also\n\nmulti', 11],
    ['I', '', 14],
    ['J', '', 15],
    ['export_K', 'v', 16],
  ]);
});

test('CRLF line endings are read as LF; \\r in double quotes is a carriage return', () => {
  assert.deepEqual(pairs('A=1\r\nB="x\r\ny"\r\nC="cr\\r\\n"\r\n'), [
    ['A', '1', 1],
    ['B', 'x\ny', 2],
    ['C', 'cr\r\n', 4],
  ]);
});

test('problems name their lines, and the lines after them are still read', () => {
  const r = parseDotenv(
    ['OK=1', 'no equals here', '1ABC=x', 'KEY', 'Q="closed" trailing', 'LAST=2', "U='open"].join('\n'),
  );
  assert.deepEqual(
    r.problems.map((p) => p.line),
    [2, 3, 4, 5, 7],
  );
  assert.match(r.problems[1]?.message ?? '', /not a variable name/);
  assert.match(r.problems[2]?.message ?? '', /expected "=" after KEY/);
  assert.match(r.problems[3]?.message ?? '', /after the closing quote/);
  assert.match(r.problems[4]?.message ?? '', /no closing quote/);
  assert.deepEqual(
    r.entries.map((e) => e.key),
    ['OK', 'LAST'],
  );
});

const AWKWARD = [
  '',
  'plain',
  ' leading and trailing ',
  'has # hash',
  "it's",
  'say "hi"',
  'both \' and "',
  'back\\slash',
  'dollar $HOME ${X} $${Y}',
  'multi\nline\n',
  'crlf\r\nvalue\r\n',
  'lone\rcr',
  'tab\tin',
  'ünïcödé ✓ 😀',
  '"',
  "'",
  '\\',
  '\\"',
  '=',
  '#',
  '\n',
  'ends with backslash\\',
];

test('serialize quotes only when needed and parses back exactly', () => {
  assert.equal(dotenvLine('A', 'simple-value_1.2:3/x@y'), 'A=simple-value_1.2:3/x@y');
  assert.equal(dotenvLine('A', 'two words'), "A='two words'");
  assert.equal(dotenvLine('A', "it's"), 'A="it\'s"');
  const entries = AWKWARD.map((value, i) => ({ key: `K${i}`, value }));
  const back = parseDotenv(serializeDotenv(entries));
  assert.deepEqual(back.problems, []);
  assert.deepEqual(
    back.entries.map((e) => ({ key: e.key, value: e.value })),
    entries,
  );
});

test('2,000 random values round-trip', () => {
  const alphabet = [
    'a',
    'Z',
    '0',
    ' ',
    '\t',
    '\n',
    '\r',
    '"',
    "'",
    '\\',
    '$',
    '{',
    '}',
    '#',
    '=',
    'é',
    '😀',
    'n',
    'r',
  ];
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const entries = Array.from({ length: 2000 }, (_, i) => ({
    key: `K_${i}`,
    value: Array.from({ length: rand(12) }, () => alphabet[rand(alphabet.length)]).join(''),
  }));
  const back = parseDotenv(serializeDotenv(entries));
  assert.deepEqual(back.problems, []);
  assert.deepEqual(
    back.entries.map((e) => ({ key: e.key, value: e.value })),
    entries,
  );
});
