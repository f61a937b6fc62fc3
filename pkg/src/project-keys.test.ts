import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { Db } from './db.js';
import { createKeyring, formatMasterKey, generateMasterKey, type Keyring } from './master-key.js';
import {
  keyringFromConfig,
  listProjectKeys,
  openForProject,
  projectKey,
  rewrapProjectKeys,
  sealForProject,
} from './project-keys.js';
import { SealError } from './seal.js';
import { openTestDb, testEngines } from './testing.js';

async function newProject(db: Db, slug: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    'INSERT INTO projects (slug, name) VALUES ($1, $1) RETURNING id',
    [slug],
  );
  return (rows[0] as { id: string }).id;
}

const b64 = (k: { export(): Buffer }) => k.export().toString('base64url');

for (const engine of testEngines()) {
  describe(`project keys (${engine})`, () => {
    test('a value sealed for a project opens for that project and purpose only', async () => {
      const t = await openTestDb(engine);
      try {
        const ring = createKeyring(generateMasterKey());
        const a = await newProject(t.db, 'alpha');
        const b = await newProject(t.db, 'beta');
        const url = 'https://hooks.slack.com/services/T000/B000/secretsecret';
        const sealed = await sealForProject(t.db, ring, a, url, 'channel:c1:url');
        assert.ok(!sealed.includes('secretsecret'));
        assert.equal(await openForProject(t.db, ring, a, sealed, 'channel:c1:url'), url);

        const refused = async (fn: () => Promise<unknown>, what: string) =>
          assert.rejects(fn, (e: unknown) => {
            assert.ok(e instanceof SealError, what);
            assert.equal(e.code, 'tampered_or_wrong_key', what);
            assert.match(e.message, /failed authentication/);
            assert.ok(!e.message.includes('secretsecret'));
            return true;
          });
        await refused(() => openForProject(t.db, ring, b, sealed, 'channel:c1:url'), 'other project');
        await refused(() => openForProject(t.db, ring, a, sealed, 'channel:c2:url'), 'other row');
        await refused(() => openForProject(t.db, ring, a, sealed, 'channel:c1:secret'), 'other purpose');
        // One changed character of the ciphertext.
        const i = sealed.length - 10;
        const tampered = sealed.slice(0, i) + (sealed[i] === 'A' ? 'B' : 'A') + sealed.slice(i + 1);
        await refused(() => openForProject(t.db, ring, a, tampered, 'channel:c1:url'), 'tampered');
        // A tampered wrapped key is refused too, with the same clear code, on a fresh cache.
        await t.db.query(
          `UPDATE project_keys SET wrapped = left(wrapped, length(wrapped) - 3) || 'AAA' WHERE project_id = $1`,
          [a],
        );
        const fresh = createKeyring(ring.current);
        await refused(() => openForProject(t.db, fresh, a, sealed, 'channel:c1:url'), 'tampered data key');
      } finally {
        await t.drop();
      }
    });

    test('concurrent first use stores one key that every caller gets', async () => {
      const t = await openTestDb(engine);
      try {
        const mk = generateMasterKey();
        const p = await newProject(t.db, 'race');
        // Separate keyring objects have separate caches: like separate processes racing.
        const rings: Keyring[] = Array.from({ length: 8 }, () => createKeyring(mk));
        const keys = await Promise.all(
          rings.flatMap((r) => [projectKey(t.db, r, p), projectKey(t.db, r, p)]),
        );
        const { rows } = await t.db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM project_keys WHERE project_id = $1',
          [p],
        );
        assert.equal(rows[0]?.n, 1);
        assert.equal(new Set(keys.map(b64)).size, 1);
        // Cached: the same object for the same db and keyring.
        assert.equal(await projectKey(t.db, rings[0] as Keyring, p), keys[0]);
      } finally {
        await t.drop();
      }
    });

    test('re-wrapping under a new master key keeps values readable and is idempotent', async () => {
      const t = await openTestDb(engine);
      try {
        const old = generateMasterKey();
        const a = await newProject(t.db, 'one');
        const b = await newProject(t.db, 'two');
        const oldRing = createKeyring(old);
        const sa = await sealForProject(t.db, oldRing, a, 'value-a', 'var:x');
        const sb = await sealForProject(t.db, oldRing, b, 'value-b', 'var:x');
        const next = generateMasterKey();
        const ring = createKeyring(next, [old]);
        const r1 = await rewrapProjectKeys(t.db, ring);
        assert.deepEqual(r1, { total: 2, rewrapped: 2, failed: [] });
        const infos = await listProjectKeys(t.db);
        assert.deepEqual(
          infos.map((i) => i.masterKeyId),
          [next.id, next.id],
        );
        assert.ok(infos.every((i) => i.rewrappedAt instanceof Date));
        // Only the new master key now: still opens.
        const only = createKeyring(next);
        assert.equal(await openForProject(t.db, only, a, sa, 'var:x'), 'value-a');
        assert.equal(await openForProject(t.db, only, b, sb, 'var:x'), 'value-b');
        assert.deepEqual(await rewrapProjectKeys(t.db, ring), { total: 2, rewrapped: 0, failed: [] });
        // Without the key that wrapped them: reported, not changed.
        const stranger = createKeyring(generateMasterKey());
        const r3 = await rewrapProjectKeys(t.db, stranger);
        assert.equal(r3.rewrapped, 0);
        assert.deepEqual(
          r3.failed.map((f) => f.code),
          ['unknown_master_key', 'unknown_master_key'],
        );
      } finally {
        await t.drop();
      }
    });
  });
}

test('keyringFromConfig loads once: the variable, or master.key in the data directory', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-pk-'));
  try {
    const warnings: string[] = [];
    const log = { warn: (_o: unknown, m?: string) => void warnings.push(String(m)) };
    const load = keyringFromConfig(
      { masterKey: '', masterKeyPrevious: [], databaseUrl: '', dataDir: dir },
      log,
    );
    const [r1, r2] = await Promise.all([load(), load()]);
    assert.equal(r1, r2);
    assert.ok(fs.existsSync(path.join(dir, 'master.key')));
    assert.equal(warnings.length, 1);
    const mk = generateMasterKey();
    const env = keyringFromConfig(
      { masterKey: formatMasterKey(mk), masterKeyPrevious: [], databaseUrl: 'postgres://x/y', dataDir: dir },
      log,
    );
    assert.equal((await env()).current.id, mk.id);
    const missing = keyringFromConfig(
      { masterKey: '', masterKeyPrevious: [], databaseUrl: 'postgres://x/y', dataDir: dir },
      log,
    );
    await assert.rejects(missing, /PEEP_MASTER_KEY is required/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
