/**
 * Optimistic concurrency over HTTP on both engines: writers that start from the same version race,
 * exactly one wins and every other gets 409 version_conflict with the current version; after
 * retrying on it, versions are gapless and nothing was overwritten silently. Writers of different
 * environments do not conflict.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testEngines } from '../testing.js';
import { type EnvKit, startEnvKit } from './testkit.js';

for (const engine of testEngines()) {
  describe(`concurrent writers (${engine})`, () => {
    let k: EnvKit;
    before(async () => {
      k = await startEnvKit(engine);
    });
    after(async () => k?.close());

    const put = (env: string, baseVersion: number, key: string, value: string) =>
      k.req('owner', 'PUT', `${k.base()}/envs/${env}/vars`, {
        baseVersion,
        message: `${key}=${value}`,
        set: [{ key, value }],
      });

    test('two PUTs on the same base: one wins, the other gets 409 with the current version', async () => {
      await k.put('dev', { set: [{ key: 'SHARED', value: 'start' }] });
      const base = await k.version('dev');
      const [a, b] = await Promise.all([
        put('dev', base, 'SHARED', 'alice'),
        put('dev', base, 'SHARED', 'bob'),
      ]);
      const statuses = [a.status, b.status].sort();
      assert.deepEqual(statuses, [200, 409], `${JSON.stringify(a.body)} ${JSON.stringify(b.body)}`);
      const [won, lost] = a.status === 200 ? [a, b] : [b, a];
      assert.equal(won.body.version, base + 1);
      assert.equal(lost.body.error.code, 'version_conflict');
      assert.deepEqual(lost.body.error.details, { currentVersion: base + 1 });
      const winner = a.status === 200 ? 'alice' : 'bob';
      const r = await k.req('owner', 'POST', `${k.base()}/envs/dev/reveal`, { keys: ['SHARED'] });
      assert.deepEqual(r.body.values, { SHARED: winner }, 'the loser wrote nothing');
    });

    test('eight writers: one wins per round; retries on the current version leave gapless versions', async () => {
      const start = await k.version('dev');
      const writers = Array.from({ length: 8 }, (_, i) => `W${i}`);
      let pending = writers;
      let rounds = 0;
      while (pending.length) {
        rounds++;
        const base = await k.version('dev');
        const answers = await Promise.all(pending.map((w) => put('dev', base, w, 'done')));
        assert.equal(answers.filter((x) => x.status === 200).length, 1, 'exactly one writer wins a round');
        for (const x of answers)
          if (x.status !== 200) {
            assert.equal(x.status, 409);
            assert.equal(x.body.error.details.currentVersion, base + 1);
          }
        pending = pending.filter((_, i) => answers[i]?.status !== 200);
      }
      assert.equal(rounds, 8);
      assert.equal(await k.version('dev'), start + 8);
      const hist = await k.req('owner', 'GET', `${k.base()}/envs/dev/versions?limit=200`);
      const numbers = hist.body.versions.map((v: { number: number }) => v.number);
      assert.deepEqual(
        numbers,
        Array.from({ length: start + 8 }, (_, i) => start + 8 - i),
        'versions are gapless from 1',
      );
      const all = await k.req('owner', 'POST', `${k.base()}/envs/dev/reveal`, { keys: writers });
      assert.equal(Object.keys(all.body.values).length, 8);
    });

    test('writers of different environments do not conflict', async () => {
      const [d, s] = await Promise.all([
        put('dev', await k.version('dev'), 'ONLY_DEV', '1'),
        put('staging', await k.version('staging'), 'ONLY_STAGING', '1'),
      ]);
      assert.equal(d.status, 200);
      assert.equal(s.status, 200);
    });
  });
}
