#!/usr/bin/env node
// Writes docs/config.md from pkg's CONFIG_SCHEMA (after `npm run build:ts`); a test fails when a
// variable is missing there. The README links to it.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_SCHEMA } from '../pkg/dist/config.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const show = (v) =>
  Array.isArray(v) ? (v.length ? v.join(',') : '(empty)') : v === '' ? '(empty)' : String(v);
const rows = Object.values(CONFIG_SCHEMA).map(
  (f) =>
    `| \`${f.env}\` | \`${show(typeof f.default === 'function' ? f.default() : f.default)}\` | ${f.doc} |`,
);
fs.writeFileSync(
  path.join(root, 'docs/config.md'),
  `# Configuration

Every peep process reads its configuration from the environment once, at start-up, through one schema
(\`pkg/src/config.ts\`). A bad value stops the process with a message naming the variable, for example
\`peep: invalid configuration: PEEP_PORT: must be a whole number, got "abc"\`.

| variable | default | meaning |
|---|---|---|
${rows.join('\n')}
`,
);
console.log(`docs/config.md: ${rows.length} variables`);
