// biome-ignore-all lint/suspicious/noTemplateCurlyInString: values hold ${...} references on purpose
/**
 * Reference expansion: same environment, other environments, `$${` escapes, text that only looks
 * like a reference, nested references, secrets spreading through references, every missing target
 * listed, cycles (also across environments) named in order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expandRefs, parseRefs, RefError, type RefSource } from './env-refs.js';

const world: Record<string, Record<string, RefSource>> = {
  dev: {
    HOST: { value: 'dev.local', secret: false },
    URL: { value: 'https://${HOST}/${staging.PATH}', secret: false },
    PW: { value: 'pw', secret: true },
    DSN: { value: 'db://u:${PW}@${HOST}', secret: false },
    LIT: { value: '$${HOST} ${not a ref} ${HOME:-x} $x $', secret: false },
    USES_DSN: { value: '[${DSN}]', secret: false },
    FROM_STAGING_SECRET: { value: '${staging.TOKEN}', secret: false },
  },
  staging: {
    PATH: { value: 'v1/${HOST}', secret: false },
    HOST: { value: 'staging.local', secret: false },
    TOKEN: { value: 't0k', secret: true },
  },
};
const lookup = (env: string, key: string) => world[env]?.[key];

test('parseRefs splits text, references and escapes', () => {
  assert.deepEqual(parseRefs('a${B}c$${d}${e.F}'), [
    { kind: 'text', text: 'a' },
    { kind: 'ref', env: null, key: 'B', raw: '${B}' },
    { kind: 'text', text: 'c${d}' },
    { kind: 'ref', env: 'e', key: 'F', raw: '${e.F}' },
  ]);
});

test('expands within the environment and across, each environment reading its own keys', () => {
  const out = expandRefs(Object.keys(world.dev ?? {}), 'dev', lookup);
  assert.equal(out.get('URL')?.value, 'https://dev.local/v1/staging.local');
  assert.equal(out.get('LIT')?.value, '${HOST} ${not a ref} ${HOME:-x} $x $');
  assert.equal(out.get('URL')?.secret, false);
  assert.deepEqual([...(out.get('URL')?.used ?? [])], [['staging', { secret: false }]]);
});

test('a value using a secret is secret, through any depth', () => {
  const out = expandRefs(['DSN', 'USES_DSN', 'FROM_STAGING_SECRET'], 'dev', lookup);
  assert.equal(out.get('DSN')?.value, 'db://u:pw@dev.local');
  assert.equal(out.get('DSN')?.secret, true);
  assert.equal(out.get('USES_DSN')?.secret, true);
  assert.deepEqual([...(out.get('FROM_STAGING_SECRET')?.used ?? [])], [['staging', { secret: true }]]);
});

test('every missing target is listed', () => {
  const w = { A: { value: '${X} ${qa.Y} ${B}', secret: false }, B: { value: '${Z}', secret: false } };
  assert.throws(
    () => expandRefs(['A', 'B'], 'dev', (e, k) => (e === 'dev' ? w[k as 'A'] : undefined)),
    (e: unknown) =>
      e instanceof RefError &&
      e.kind === 'missing' &&
      JSON.stringify(e.details) ===
        JSON.stringify([
          { key: 'A', ref: '${X}' },
          { key: 'A', ref: '${qa.Y}' },
          { key: 'B', ref: '${Z}' },
        ]),
  );
});

test('cycles are named in order, across environments too', () => {
  const w: Record<string, Record<string, RefSource>> = {
    dev: { A: { value: '${B}', secret: false }, B: { value: '${staging.C}', secret: false } },
    staging: { C: { value: '${dev.A}', secret: false } },
  };
  assert.throws(
    () => expandRefs(['A'], 'dev', (e, k) => w[e]?.[k]),
    (e: unknown) =>
      e instanceof RefError &&
      e.kind === 'cycle' &&
      JSON.stringify(e.details) === JSON.stringify({ cycle: ['A', 'B', 'staging.C', 'A'] }),
  );
  const self = { S: { value: 'x${S}', secret: false } };
  assert.throws(() => expandRefs(['S'], 'dev', (_e, k) => self[k as 'S']), /S → S/);
});
