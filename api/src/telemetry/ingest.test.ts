/**
 * Native ingest end to end over real HTTP: ingest-key auth, item-by-item checks, body formats,
 * idempotency, bad input of every kind (4xx with a documented code, the server stays up, nothing
 * accepted is lost), acknowledgement after commit, and backpressure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  call,
  createOwner,
  createProjectWithKey,
  ingest,
  type ProjectWithKey,
  type SignedIn,
  startTestServer,
  type TestServer,
  testEngines,
} from '../testing.js';

const event = (i: number, over: Record<string, unknown> = {}) => ({
  service: 'shop',
  route: '/items/:id',
  method: 'GET',
  status: 200,
  durationMs: 10 + (i % 90),
  requestId: `req-${i}`,
  ...over,
});

async function countEvents(s: TestServer, projectId: string): Promise<number> {
  const { rows } = await s.db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM request_events WHERE project_id = $1',
    [projectId],
  );
  return rows[0]?.n ?? -1;
}

for (const engine of testEngines()) {
  describe(`native ingest (${engine})`, () => {
    let s: TestServer;
    let owner: SignedIn;
    let p: ProjectWithKey;
    before(async () => {
      s = await startTestServer({ engine });
      owner = await createOwner(s);
      p = await createProjectWithKey(s, owner);
    });
    after(() => s?.close());

    test('a missing, unknown or malformed ingest key is refused with 401 before the body is read', async () => {
      for (const auth of [
        undefined,
        'Bearer peep_ik_unknown',
        'Bearer peep_pat_notaningestkey',
        'Basic abc',
      ]) {
        const res = await fetch(`${s.url}/api/v1/ingest/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
          body: JSON.stringify([event(1)]),
        });
        assert.equal(res.status, 401, String(auth));
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'ingest_key_invalid');
      }
      // A user token is not an ingest key either, and an ingest key is not a user token.
      const me = await fetch(`${s.url}/api/v1/me`, { headers: { authorization: `Bearer ${p.key}` } });
      assert.equal(me.status, 401);
    });

    test('accepted items are committed before the answer; rejected ones are listed with index, code and message', async () => {
      const items = [
        event(1),
        { ...event(2), status: 'ok' },
        event(3, { time: new Date().toISOString() }),
        { service: 'shop', route: '/x', method: 'GET', status: 200 },
        'not an object',
        event(5, { surprise: true }),
        event(6, { time: Date.now() + 3_600_000 }),
        event(7, { time: '2019-01-01T00:00:00Z' }),
        event(8, { attributes: { region: 'eu', nested: { no: 1 } } }),
        event(9, { method: 'get', attributes: { region: 'eu', retries: 2, cached: false } }),
        event(10, { route: 'x'.repeat(301) }),
      ];
      const before = await countEvents(s, p.projectId);
      const r = await ingest(s, p.key, 'events', items);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.accepted, 3);
      assert.equal(r.body.rejectedCount, 8);
      assert.deepEqual(
        r.body.rejected.map((x: { index: number; code: string }) => [x.index, x.code]),
        [
          [1, 'invalid_type'],
          [3, 'missing_field'],
          [4, 'not_an_object'],
          [5, 'unknown_field'],
          [6, 'invalid_time'],
          [7, 'invalid_time'],
          [8, 'invalid_type'],
          [10, 'too_long'],
        ],
      );
      assert.match(r.body.rejected[1].message, /durationMs/);
      // Acknowledged means committed: the rows are there the moment the answer arrives.
      assert.equal(await countEvents(s, p.projectId), before + 3);
      const { rows } = await s.db.query<{ method: string; attributes: unknown }>(
        `SELECT method, attributes FROM request_events WHERE project_id = $1 AND request_id = 'req-9'`,
        [p.projectId],
      );
      assert.deepEqual(rows[0], { method: 'GET', attributes: { region: 'eu', retries: 2, cached: false } });
    });

    test('a batch where every item is rejected answers 400 validation_failed with the list', async () => {
      const r = await ingest(s, p.key, 'events', [{ nope: 1 }, 42]);
      assert.equal(r.status, 400);
      assert.equal(r.body.error.code, 'validation_failed');
      assert.equal(r.body.error.details.rejectedCount, 2);
      // An empty batch is fine and stores nothing.
      const empty = await ingest(s, p.key, 'events', []);
      assert.equal(empty.status, 200);
      assert.equal(empty.body.accepted, 0);
    });

    test('NDJSON and gzip bodies; logs with levels', async () => {
      const nd = `${JSON.stringify(event(100))}\n\n${JSON.stringify(event(101))}\n`;
      const r1 = await ingest(s, p.key, 'events', nd, { 'content-type': 'application/x-ndjson' });
      assert.equal(r1.status, 200);
      assert.equal(r1.body.accepted, 2);
      const gz = gzipSync(JSON.stringify([event(102), event(103), event(104)]));
      const r2 = await ingest(s, p.key, 'events', gz, { 'content-encoding': 'gzip' });
      assert.equal(r2.status, 200);
      assert.equal(r2.body.accepted, 3);
      const logs = await ingest(s, p.key, 'logs', [
        {
          service: 'shop',
          level: 'WARN',
          message: 'line one\nline two\ttabbed \\ back',
          requestId: 'req-100',
        },
        { service: 'shop', level: 'verbose', message: 'x' },
      ]);
      assert.equal(logs.status, 200);
      assert.equal(logs.body.accepted, 1);
      assert.equal(logs.body.rejected[0].code, 'invalid_type');
      const { rows } = await s.db.query<{ level: number; message: string }>(
        `SELECT level, message FROM runtime_logs WHERE project_id = $1 AND request_id = 'req-100'`,
        [p.projectId],
      );
      assert.deepEqual(rows, [{ level: 4, message: 'line one\nline two\ttabbed \\ back' }]);
    });

    test('bad bodies get 4xx codes and the server stays up with everything accepted before intact', async () => {
      const before = await countEvents(s, p.projectId);
      const cases: [string, Record<string, string>, string | Buffer, number, string][] = [
        ['malformed JSON', {}, '[{"service":', 400, 'invalid_payload'],
        ['JSON that is not an array', {}, '{"service":"x"}', 400, 'invalid_payload'],
        [
          'bad NDJSON line',
          { 'content-type': 'application/x-ndjson' },
          '{}\n{oops\n',
          400,
          'invalid_payload',
        ],
        ['wrong content type', { 'content-type': 'text/plain' }, 'hello', 415, 'unsupported_media_type'],
        ['unknown encoding', { 'content-encoding': 'br' }, '[]', 415, 'unsupported_encoding'],
        ['not gzip', { 'content-encoding': 'gzip' }, 'plain text', 400, 'invalid_payload'],
        ['bad idempotency key', { 'idempotency-key': 'has space' }, '[]', 400, 'validation_failed'],
      ];
      for (const [name, headers, body, status, code] of cases) {
        const r = await ingest(s, p.key, 'events', body, headers);
        assert.equal(r.status, status, `${name}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, code, name);
      }
      const nd = await ingest(s, p.key, 'events', '{}\n{oops\n', { 'content-type': 'application/x-ndjson' });
      assert.equal(nd.body.error.details.line, 2);
      const big = await ingest(s, p.key, 'events', Buffer.alloc(s.config.ingestBodyLimit + 10, 32));
      assert.equal(big.status, 413);
      assert.equal(big.body.error.code, 'payload_too_large');
      // A small gzip body that expands beyond four times the limit (a "zip bomb").
      const bomb = gzipSync(Buffer.alloc(s.config.ingestBodyLimit * 4 + 1024, 32));
      assert.ok(bomb.length < s.config.ingestBodyLimit);
      const b = await ingest(s, p.key, 'events', bomb, { 'content-encoding': 'gzip' });
      assert.equal(b.status, 413);
      const many = await ingest(s, p.key, 'events', `[${'{},'.repeat(50_000)}{}]`);
      assert.equal(many.status, 413);
      assert.equal(await countEvents(s, p.projectId), before);
      const ok = await ingest(s, p.key, 'events', [event(200)]);
      assert.equal(ok.status, 200);
      assert.equal(await countEvents(s, p.projectId), before + 1);
    });

    test('Idempotency-Key: a retried batch counts once and gets the first answer', async () => {
      const before = await countEvents(s, p.projectId);
      const batch = [event(300), event(301), { bad: true }];
      const key = `batch-${Date.now()}`;
      const [a, b] = await Promise.all([
        ingest(s, p.key, 'events', batch, { 'idempotency-key': key }),
        ingest(s, p.key, 'events', batch, { 'idempotency-key': key }),
      ]);
      const c = await ingest(s, p.key, 'events', batch, { 'idempotency-key': key });
      for (const r of [a, b, c]) {
        assert.equal(r.status, 200);
        assert.equal(r.body.accepted, 2);
        assert.equal(r.body.rejected[0].index, 2);
      }
      assert.equal([a, b, c].filter((r) => r.body.duplicate).length, 2);
      assert.equal(await countEvents(s, p.projectId), before + 2);
      // The same key in another project is another batch.
      const other = await createProjectWithKey(s, owner, { name: 'Other' });
      const d = await ingest(s, other.key, 'events', batch, { 'idempotency-key': key });
      assert.equal(d.body.duplicate, undefined);
    });

    test('a revoked ingest key is refused on its next batch', async () => {
      const k = await createProjectWithKey(s, owner, { name: 'Revoke me' });
      assert.equal((await ingest(s, k.key, 'events', [event(1)])).status, 200);
      const rv = await call(s, owner, 'DELETE', `/api/v1/projects/${k.projectId}/ingest-keys/${k.keyId}`);
      assert.ok(rv.status < 300, JSON.stringify(rv.body));
      const r = await ingest(s, k.key, 'events', [event(2)]);
      assert.equal(r.status, 401);
      assert.equal(r.body.error.code, 'ingest_key_revoked');
    });
  });
}

describe('ingest under overload', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ config: { ingestQueueMax: 1000, ingestBatchMax: 500 } });
  });
  after(() => s?.close());

  test('a full queue answers 503 ingest_overloaded with Retry-After; refused batches store nothing, accepted ones all', async () => {
    const owner = await createOwner(s);
    const p = await createProjectWithKey(s, owner);
    // One batch first, so the key is resolved (and cached) before the database is held.
    assert.equal((await ingest(s, p.key, 'events', [event(0, { requestId: 'warm' })])).status, 200);
    // Hold the database (a transaction on the embedded engine's one connection) so commits wait.
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const held = s.db.transaction(() => gate);
    const batches = Array.from({ length: 6 }, (_, b) =>
      Array.from({ length: 400 }, (_, i) => event(b * 1000 + i, { requestId: `b${b}-${i}` })),
    );
    const pending = batches.map((items) => ingest(s, p.key, 'events', items));
    // Refusals answer at once, while the accepted batches still wait for their commit.
    const first = await Promise.race(pending);
    assert.equal(first.status, 503);
    const deadline = Date.now() + 10_000;
    while (s.api.pipeline.stats().refused < 4 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(s.api.pipeline.stats().queuedItems, 800);
    release();
    await held;
    const answers = await Promise.all(pending);
    const accepted = answers.filter((r) => r.status === 200);
    const refused = answers.filter((r) => r.status === 503);
    assert.equal(accepted.length, 2, JSON.stringify(answers.map((a) => a.status)));
    assert.equal(refused.length, 4);
    for (const r of refused) {
      assert.equal(r.body.error.code, 'ingest_overloaded');
      assert.equal(r.headers.get('retry-after'), '1');
    }
    assert.equal(await countEvents(s, p.projectId), 801);
    // Once the queue drains, batches are accepted again.
    assert.equal((await ingest(s, p.key, 'events', batches[5])).status, 200);
  });
});
