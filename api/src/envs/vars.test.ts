// biome-ignore-all lint/suspicious/noTemplateCurlyInString: values hold ${...} references on purpose
/**
 * Environment variables over HTTP on both engines: set, unset, import, versions, diff and rollback
 * round trips with multi-line and CRLF values kept exactly; service overrides; no-op writes; bad
 * input answered with the documented codes and every bad item listed (key names, oversized, NUL and
 * non-UTF-8 values, duplicates in a PUT and an import, malformed .env lines with their numbers);
 * stale base versions; other projects' environments; references (same environment, across
 * environments, `$${`, cycles, missing targets, secrets spreading through them).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseDotenv } from '@peep/pkg/dotenv';
import { testEngines } from '../testing.js';
import { type EnvKit, startEnvKit } from './testkit.js';

const PEM = '-----BEGIN KEY-----\nMIIB\nabc==\n-----END KEY-----\n';
const CRLF = 'line one\r\nline two  \r\n';

for (const engine of testEngines()) {
  describe(`environment variables (${engine})`, () => {
    let k: EnvKit;
    const vars = (e: string, q = '') => k.req('owner', 'GET', `${k.base()}/envs/${e}/vars${q}`);
    const reveal = (e: string, body: Record<string, unknown> = {}, who: 'owner' | 'developer' = 'owner') =>
      k.req(who, 'POST', `${k.base()}/envs/${e}/reveal`, body);

    before(async () => {
      k = await startEnvKit(engine);
    });
    after(async () => k?.close());

    test('set, read masked, reveal exact, unset, history, diff and rollback', async () => {
      const v1 = await k.put('dev', {
        message: 'first',
        set: [
          { key: 'PORT', value: '8080' },
          { key: 'API_TOKEN', value: 's3cr3t-token' },
          { key: 'TLS_KEY', value: PEM, secret: true },
          { key: 'BANNER', value: CRLF, secret: false },
        ],
      });
      assert.equal(v1.version, 1);
      assert.deepEqual(
        v1.changes.map((c: { key: string; op: string }) => `${c.key}:${c.op}`),
        ['API_TOKEN:added', 'BANNER:added', 'PORT:added', 'TLS_KEY:added'],
      );
      const list = await vars('dev');
      assert.equal(list.status, 200);
      const byKey = Object.fromEntries(list.body.vars.map((v: { key: string }) => [v.key, v]));
      assert.equal(byKey.PORT.value, '8080');
      assert.equal(byKey.PORT.secret, false);
      assert.equal(byKey.API_TOKEN.secret, true, 'TOKEN names default to secret');
      assert.equal(byKey.API_TOKEN.value, null, 'secret values are masked');
      assert.equal(byKey.TLS_KEY.value, null);
      assert.equal(byKey.TLS_KEY.size, Buffer.byteLength(PEM));
      assert.equal(byKey.BANNER.value, CRLF, 'CRLF and trailing spaces kept');
      assert.equal(list.body.policy.canReveal, true);
      assert.deepEqual(list.body.overrides, []);

      const r = await reveal('dev', { keys: ['TLS_KEY', 'BANNER'] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.values, { TLS_KEY: PEM, BANNER: CRLF });
      assert.equal(r.headers.get('cache-control'), 'no-store');

      const v2 = await k.put('dev', {
        message: 'second',
        set: [{ key: 'PORT', value: '9090' }],
        unset: [{ key: 'BANNER' }],
      });
      assert.equal(v2.version, 2);
      assert.deepEqual(v2.changes, [
        { key: 'BANNER', service: '', op: 'removed' },
        { key: 'PORT', service: '', op: 'changed' },
      ]);
      const hist = await k.req('viewer', 'GET', `${k.base()}/envs/dev/versions`);
      assert.equal(hist.status, 200);
      assert.deepEqual(
        hist.body.versions.map((v: { number: number; message: string }) => [v.number, v.message]),
        [
          [2, 'second'],
          [1, 'first'],
        ],
      );
      assert.equal(hist.body.versions[0].author.email, 'owner@example.com');
      assert.equal(hist.body.versions[0].kind, 'change');

      const d = await k.req('owner', 'GET', `${k.base()}/envs/dev/diff?from=1&to=2`);
      assert.equal(d.status, 200, JSON.stringify(d.body));
      assert.deepEqual(d.body.removed, [{ key: 'BANNER', service: '', secret: false, value: CRLF }]);
      assert.deepEqual(d.body.changed, [
        { key: 'PORT', service: '', secret: false, from: '8080', to: '9090' },
      ]);
      assert.deepEqual(d.body.added, []);
      assert.equal(d.body.unchanged, 2);

      const old = await vars('dev', '?version=1');
      assert.equal(old.body.version, 1);
      assert.equal(old.body.vars.find((v: { key: string }) => v.key === 'PORT').value, '8080');
      const one = await k.req('owner', 'GET', `${k.base()}/envs/dev/versions/1`);
      assert.equal(one.status, 200);
      assert.equal(one.body.version.number, 1);
      assert.equal(one.body.vars.length, 4);

      const rb = await k.req('owner', 'POST', `${k.base()}/envs/dev/rollback`, {
        toVersion: 1,
        baseVersion: 2,
      });
      assert.equal(rb.status, 200, JSON.stringify(rb.body));
      assert.equal(rb.body.version, 3);
      const back = await reveal('dev');
      assert.deepEqual(back.body.values, {
        API_TOKEN: 's3cr3t-token',
        BANNER: CRLF,
        PORT: '8080',
        TLS_KEY: PEM,
      });
      const h3 = await k.req('owner', 'GET', `${k.base()}/envs/dev/versions?limit=1`);
      assert.equal(h3.body.versions[0].kind, 'rollback');
      assert.equal(h3.body.versions[0].restoredVersion, 1);
      assert.ok(h3.body.nextCursor);
      const h2 = await k.req(
        'owner',
        'GET',
        `${k.base()}/envs/dev/versions?limit=1&cursor=${h3.body.nextCursor}`,
      );
      assert.equal(h2.body.versions[0].number, 2);
      const same = await k.req('owner', 'GET', `${k.base()}/envs/dev/diff?from=1&to=3`);
      assert.equal(same.body.unchanged, 4);
      assert.equal(same.body.changed.length + same.body.added.length + same.body.removed.length, 0);
    });

    test('a write that changes nothing creates no version', async () => {
      const before = await k.version('dev');
      const r = await k.put('dev', { set: [{ key: 'PORT', value: '8080' }] });
      assert.deepEqual(r, { version: before, changes: [] });
      assert.equal(await k.version('dev'), before);
      const flag = await k.put('dev', { set: [{ key: 'PORT', value: '8080', secret: true }] });
      assert.deepEqual(
        flag.changes,
        [{ key: 'PORT', service: '', op: 'changed' }],
        'a new secret flag is a change',
      );
      await k.put('dev', { set: [{ key: 'PORT', value: '8080', secret: false }] });
    });

    test('service overrides: the view overlays them, the plain list shows them apart', async () => {
      await k.put('staging', {
        set: [
          { key: 'LOG_LEVEL', value: 'info' },
          { key: 'WORKERS', value: '2' },
          { key: 'WORKERS', value: '8', service: 'api' },
        ],
      });
      const view = await vars('staging', '?service=api');
      assert.deepEqual(
        view.body.vars.map((v: { key: string; service: string; value: string }) => [
          v.key,
          v.service,
          v.value,
        ]),
        [
          ['LOG_LEVEL', '', 'info'],
          ['WORKERS', 'api', '8'],
        ],
      );
      const plain = await vars('staging');
      assert.equal(plain.body.vars.length, 2);
      assert.deepEqual(
        plain.body.overrides.map((v: { key: string; service: string }) => [v.service, v.key]),
        [['api', 'WORKERS']],
      );
      const exp = await k.req('owner', 'POST', `${k.base()}/envs/staging/export`, { service: 'api' });
      assert.deepEqual(exp.body.values, { LOG_LEVEL: 'info', WORKERS: '8' });
      const unset = await k.put('staging', { unset: [{ key: 'WORKERS', service: 'api' }] });
      assert.deepEqual(unset.changes, [{ key: 'WORKERS', service: 'api', op: 'removed' }]);
    });

    test('import: .env with export, quotes, comments, multi-line values and CRLF; replace unsets the rest', async () => {
      const content = [
        '# settings',
        'export HOST=example.com',
        'NAME="peep \\"demo\\""  # trailing comment',
        "RAW='a\\nb $x'",
        'CERT="-----BEGIN-----',
        'abc',
        '-----END-----"',
        '',
        'EMPTY=',
      ].join('\r\n');
      const v = await k.version('prod');
      const r = await k.req('owner', 'POST', `${k.base()}/envs/prod/import`, {
        baseVersion: v,
        message: 'import',
        format: 'dotenv',
        content,
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.changes.length, 5);
      const all = await reveal('prod');
      assert.deepEqual(all.body.values, {
        CERT: '-----BEGIN-----\nabc\n-----END-----',
        EMPTY: '',
        HOST: 'example.com',
        NAME: 'peep "demo"',
        RAW: 'a\\nb $x',
      });
      const hist = await k.req('owner', 'GET', `${k.base()}/envs/prod/versions?limit=1`);
      assert.equal(hist.body.versions[0].kind, 'import');

      const rep = await k.req('owner', 'POST', `${k.base()}/envs/prod/import`, {
        baseVersion: v + 1,
        message: 'replace',
        format: 'json',
        content: JSON.stringify({ HOST: 'example.com', NEW: 'x' }),
        replace: true,
      });
      assert.equal(rep.status, 200, JSON.stringify(rep.body));
      assert.deepEqual(
        rep.body.changes.map((c: { key: string; op: string }) => `${c.key}:${c.op}`),
        ['CERT:removed', 'EMPTY:removed', 'NAME:removed', 'NEW:added', 'RAW:removed'],
      );

      const dotenv = await k.req('owner', 'POST', `${k.base()}/envs/dev/export`, { format: 'dotenv' });
      assert.equal(dotenv.status, 200);
      assert.match(dotenv.headers.get('content-type') ?? '', /^text\/plain/);
      const parsed = parseDotenv(dotenv.body as string);
      assert.deepEqual(parsed.problems, []);
      const exp = await k.req('owner', 'POST', `${k.base()}/envs/dev/export`, {});
      assert.deepEqual(Object.fromEntries(parsed.entries.map((e) => [e.key, e.value])), exp.body.values);
      assert.equal(exp.body.values.TLS_KEY, PEM, 'a multi-line value survives .env export and parse');
      assert.equal(exp.body.values.BANNER, CRLF, 'CRLF survives .env export and parse');
    });

    test('bad input: every bad item listed with the documented code, nothing written', async () => {
      const v = await k.version('dev');
      const bad = await k.put(
        'dev',
        {
          set: [
            { key: '1BAD', value: 'x' },
            { key: 'OK', value: 'x' },
            { key: 'NO-DASH', value: 'y' },
          ],
        },
        'owner',
        400,
      );
      assert.equal(bad.error.code, 'invalid_key');
      assert.deepEqual(
        bad.error.details.map((d: { key: string }) => d.key),
        ['1BAD', 'NO-DASH'],
      );
      const long = await k.put('dev', { set: [{ key: 'A'.repeat(257), value: 'x' }] }, 'owner', 400);
      assert.equal(long.error.code, 'invalid_key');
      const big = await k.put('dev', { set: [{ key: 'BIG', value: 'x'.repeat(65_537) }] }, 'owner', 400);
      assert.equal(big.error.code, 'value_too_large');
      assert.equal(big.error.details[0].key, 'BIG');
      await k.put('dev', { set: [{ key: 'EXACTLY_64K', value: 'é'.repeat(32_768) }] });
      const nul = await k.put('dev', { set: [{ key: 'BIN', value: 'a\u0000b' }] }, 'owner', 400);
      assert.equal(nul.error.code, 'invalid_value');
      const surrogate = await k.put('dev', { set: [{ key: 'BIN', value: 'a\udc00b' }] }, 'owner', 400);
      assert.equal(surrogate.error.code, 'invalid_value');
      const dup = await k.put(
        'dev',
        {
          set: [
            { key: 'X', value: '1' },
            { key: 'X', value: '2' },
          ],
          unset: [{ key: 'PORT' }, { key: 'PORT' }],
        },
        'owner',
        400,
      );
      assert.equal(dup.error.code, 'duplicate_key');
      assert.deepEqual(dup.error.details, [
        { key: 'X', service: '' },
        { key: 'PORT', service: '' },
      ]);
      const svc = await k.put(
        'dev',
        { set: [{ key: 'X', value: '1', service: 'Bad Service' }] },
        'owner',
        400,
      );
      assert.equal(svc.error.code, 'validation_failed');
      const missing = await k.put('dev', { unset: [{ key: 'NOPE' }, { key: 'PORT' }] }, 'owner', 404);
      assert.equal(missing.error.code, 'variable_not_found');
      assert.deepEqual(missing.error.details, [{ key: 'NOPE', service: '' }]);
      const stale = await k.put('dev', { baseVersion: v - 1, set: [{ key: 'X', value: '1' }] }, 'owner', 409);
      assert.equal(stale.error.code, 'version_conflict');
      assert.equal(stale.error.details.currentVersion, v + 1);

      const imp = (content: string, format = 'dotenv') =>
        k.req('owner', 'POST', `${k.base()}/envs/dev/import`, {
          baseVersion: v + 1,
          message: 'm',
          format,
          content,
        });
      const malformed = await imp('GOOD=1\nthis is not a pair\n9NINE=x\nQ="never closed\nZ=1\n');
      assert.equal(malformed.status, 400);
      assert.equal(malformed.body.error.code, 'invalid_dotenv');
      assert.deepEqual(
        malformed.body.error.details.map((d: { line: number }) => d.line),
        [2, 3, 4],
      );
      assert.match(malformed.body.error.message, /line 2/);
      const dups = await imp('A=1\nB=2\n# c\nA=3\n');
      assert.equal(dups.status, 400);
      assert.equal(dups.body.error.code, 'duplicate_key');
      assert.deepEqual(dups.body.error.details, [{ key: 'A', lines: [1, 4] }]);
      const nulImport = await imp('A=x\u0000y\n');
      assert.equal(nulImport.body.error.code, 'invalid_value');
      const badJson = await imp('{"A": ', 'json');
      assert.equal(badJson.body.error.code, 'invalid_dotenv');
      const nested = await imp('{"A": {"b": 1}}', 'json');
      assert.equal(nested.body.error.code, 'invalid_value');
      assert.equal(await k.version('dev'), v + 1, 'nothing was written by the refused requests');

      const unknownField = await k.req('owner', 'PUT', `${k.base()}/envs/dev/vars`, {
        baseVersion: 0,
        message: '',
        nope: 1,
      });
      assert.equal(unknownField.status, 400);
      assert.equal(unknownField.body.error.code, 'validation_failed');
      const badVersion = await vars('dev', '?version=999');
      assert.equal(badVersion.status, 404);
      assert.equal(badVersion.body.error.code, 'version_not_found');
      const noVersion = await k.req('owner', 'GET', `${k.base()}/envs/dev/versions/999`);
      assert.equal(noVersion.body.error.code, 'version_not_found');
      const rbBad = await k.req('owner', 'POST', `${k.base()}/envs/dev/rollback`, {
        toVersion: 999,
        baseVersion: v + 1,
      });
      assert.equal(rbBad.body.error.code, 'version_not_found');
    });

    test('at most 5,000 variables per scope', async () => {
      const v = await k.version('dev');
      const content = JSON.stringify(
        Object.fromEntries(Array.from({ length: 5001 }, (_, i) => [`K${i}`, 'v'])),
      );
      const r = await k.req('owner', 'POST', `${k.base()}/envs/dev/import`, {
        baseVersion: v,
        message: 'too many',
        format: 'json',
        content,
        service: 'big',
      });
      assert.equal(r.status, 400, JSON.stringify(r.body).slice(0, 300));
      assert.equal(r.body.error.code, 'too_many_variables');
      assert.deepEqual(r.body.error.details, [{ service: 'big', count: 5001, limit: 5000 }]);
      assert.equal(await k.version('dev'), v);
    });

    test('a freeze refuses every kind of change with until and reason; reads go on', async () => {
      const endsAt = new Date(Date.now() + 3_600_000).toISOString();
      const f = await k.req('admin', 'POST', `${k.base()}/envs/staging/freezes`, {
        endsAt,
        reason: 'release',
      });
      assert.equal(f.status, 201, JSON.stringify(f.body));
      try {
        const v = await k.version('staging');
        const frozen = (r: { status: number; body: { error: { code: string; details: unknown } } }) => {
          assert.equal(r.status, 423, JSON.stringify(r.body));
          assert.equal(r.body.error.code, 'environment_frozen');
          assert.deepEqual(r.body.error.details, { until: endsAt, reason: 'release' });
        };
        frozen(
          await k.req('developer', 'PUT', `${k.base()}/envs/staging/vars`, {
            baseVersion: v,
            message: '',
            set: [{ key: 'F', value: '1' }],
          }),
        );
        frozen(
          await k.req('owner', 'POST', `${k.base()}/envs/staging/import`, {
            baseVersion: v,
            message: '',
            format: 'dotenv',
            content: 'F=1',
          }),
        );
        frozen(
          await k.req('owner', 'POST', `${k.base()}/envs/staging/rollback`, { baseVersion: v, toVersion: 1 }),
        );
        const viewer = await k.req('viewer', 'PUT', `${k.base()}/envs/staging/vars`, {
          baseVersion: v,
          message: '',
          set: [{ key: 'F', value: '1' }],
        });
        assert.equal(viewer.body.error.code, 'forbidden', 'someone who may not change at all is told so');
        assert.equal((await vars('staging')).status, 200);
        assert.equal((await k.req('owner', 'POST', `${k.base()}/envs/staging/export`, {})).status, 200);
        assert.equal(await k.version('staging'), v);
      } finally {
        await k.req('admin', 'DELETE', `${k.base()}/envs/staging/freezes/${f.body.freeze.id}`);
      }
    });

    test("another project's environment is not found, by id or slug", async () => {
      const other = await k.req('owner', 'POST', '/api/v1/projects', { name: 'Other' });
      const otherEnv = other.body.environments[0].id;
      const byId = await k.req('owner', 'GET', `${k.base()}/envs/${otherEnv}/vars`);
      assert.equal(byId.status, 404);
      assert.equal(byId.body.error.code, 'environment_not_found');
      const write = await k.req('owner', 'PUT', `${k.base()}/envs/${otherEnv}/vars`, {
        baseVersion: 0,
        message: '',
        set: [{ key: 'A', value: '1' }],
      });
      assert.equal(write.status, 404);
      const none = await k.req('owner', 'GET', `${k.base()}/envs/qa/vars`);
      assert.equal(none.body.error.code, 'environment_not_found');
      const stranger = await k.req(
        'developer',
        'GET',
        `/api/v1/projects/${other.body.project.id}/envs/dev/vars`,
      );
      assert.equal(stranger.status, 404);
      assert.equal(stranger.body.error.code, 'project_not_found');
    });

    test('references: same environment, across environments, $${ literal, cycles and missing targets', async () => {
      await k.put('staging', {
        set: [
          { key: 'DB_HOST', value: 'db.staging' },
          { key: 'DB_PASSWORD', value: 'pw-staging' },
        ],
      });
      await k.put('dev', {
        set: [
          { key: 'BASE', value: 'https://${HOST_NAME}:${PORT}' },
          { key: 'HOST_NAME', value: 'dev.local' },
          { key: 'LITERAL', value: 'cost: $${AMOUNT} and $5' },
          {
            key: 'DB_URL',
            value: 'postgres://app:${staging.DB_PASSWORD}@${staging.DB_HOST}/app',
            secret: false,
          },
        ],
      });
      const resolved = await k.req('owner', 'POST', `${k.base()}/envs/dev/export`, {});
      assert.equal(resolved.status, 200, JSON.stringify(resolved.body));
      assert.equal(resolved.body.values.BASE, 'https://dev.local:8080');
      assert.equal(resolved.body.values.LITERAL, 'cost: ${AMOUNT} and $5');
      assert.equal(resolved.body.values.DB_URL, 'postgres://app:pw-staging@db.staging/app');
      const raw = await k.req('owner', 'POST', `${k.base()}/envs/dev/export`, { resolve: false });
      assert.equal(raw.body.values.LITERAL, 'cost: $${AMOUNT} and $5');

      const listed = await vars('dev', '?resolve=true');
      const db = listed.body.vars.find((v: { key: string }) => v.key === 'DB_URL');
      assert.equal(db.secret, true, 'a plain value using a secret is secret once expanded');
      assert.equal(db.value, null);
      const base = listed.body.vars.find((v: { key: string }) => v.key === 'BASE');
      assert.equal(base.value, 'https://dev.local:8080');

      await k.put('dev', {
        set: [
          { key: 'A', value: '${B}' },
          { key: 'B', value: 'x${C}' },
          { key: 'C', value: '${A}' },
        ],
      });
      const cycle = await k.req('owner', 'POST', `${k.base()}/envs/dev/export`, {});
      assert.equal(cycle.status, 422);
      assert.equal(cycle.body.error.code, 'reference_cycle');
      assert.deepEqual(cycle.body.error.details.cycle, ['A', 'B', 'C', 'A']);
      await k.put('dev', { set: [{ key: 'C', value: '${NOPE} ${qa.X} ${staging.NOPE}' }] });
      const missing = await k.req('owner', 'POST', `${k.base()}/envs/dev/export`, {});
      assert.equal(missing.status, 422);
      assert.equal(missing.body.error.code, 'reference_missing');
      assert.deepEqual(missing.body.error.details, [
        { key: 'C', ref: '${NOPE}' },
        { key: 'C', ref: '${qa.X}' },
        { key: 'C', ref: '${staging.NOPE}' },
      ]);
      const one = await reveal('dev', { keys: ['HOST_NAME'], resolve: true });
      assert.equal(one.status, 200, 'keys that do not reach the broken ones still resolve');
      await k.put('dev', { unset: [{ key: 'A' }, { key: 'B' }, { key: 'C' }] });
    });

    test('references into an environment the caller may not reveal are refused, naming it', async () => {
      await k.put('prod', { set: [{ key: 'PROD_SECRET', value: 'prod-only', secret: true }] });
      await k.put('dev', { set: [{ key: 'FROM_PROD', value: '${prod.PROD_SECRET}', secret: false }] });
      const dev = await reveal('dev', { keys: ['FROM_PROD'], resolve: true }, 'developer');
      assert.equal(dev.status, 403, JSON.stringify(dev.body));
      assert.equal(dev.body.error.code, 'forbidden');
      assert.match(dev.body.error.message, /prod/);
      const admin = await k.req('admin', 'POST', `${k.base()}/envs/dev/reveal`, {
        keys: ['FROM_PROD'],
        resolve: true,
      });
      assert.deepEqual(admin.body.values, { FROM_PROD: 'prod-only' });
      const rawForDev = await reveal('dev', { keys: ['FROM_PROD'] }, 'developer');
      assert.deepEqual(
        rawForDev.body.values,
        { FROM_PROD: '${prod.PROD_SECRET}' },
        'unresolved it is a plain value',
      );
      await k.put('dev', { unset: [{ key: 'FROM_PROD' }] });
    });

    test('diff across environments, secrets masked unless revealed', async () => {
      const d = await k.req('developer', 'GET', `${k.base()}/diff?left=dev&right=staging`);
      assert.equal(d.status, 200, JSON.stringify(d.body));
      assert.equal(d.body.left.environment, 'dev');
      assert.equal(d.body.right.environment, 'staging');
      const pw = d.body.added.find((x: { key: string }) => x.key === 'DB_PASSWORD');
      assert.deepEqual(pw, { key: 'DB_PASSWORD', service: '', secret: true, value: null });
      const shown = await k.req('developer', 'GET', `${k.base()}/diff?left=dev@1&right=staging&reveal=true`);
      assert.equal(shown.status, 200, JSON.stringify(shown.body));
      assert.equal(shown.body.left.version, 1);
      assert.equal(
        shown.body.added.find((x: { key: string }) => x.key === 'DB_PASSWORD').value,
        'pw-staging',
      );
      const prod = await k.req('developer', 'GET', `${k.base()}/diff?left=staging&right=prod&reveal=true`);
      assert.equal(prod.status, 403, 'developers do not reveal prod');
    });
  });
}
