/**
 * The nginx agent's parts on real files: line mapping, following a file through partial writes,
 * rename rotation, copytruncate and a restart from a saved position in a rotated file; the state
 * file's atomic round trip; and the sender's retries against a local HTTP server that answers 503
 * with Retry-After, then 200 (the overload answer peep's ingest gives; the real API is exercised in
 * ci/src/nginx-agent.test.ts).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { batchKey } from './agent/nginx.js';
import { parseLine, routeTemplate } from './agent/nginx-line.js';
import { createShipper, retryAfterMs } from './agent/ship.js';
import { createStateStore } from './agent/state.js';
import { type Chunk, createTail, type Tail } from './agent/tail.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-agent-test-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = () => fs.mkdtempSync(path.join(tmp, `t${n++}-`));

function line(i: number, extra: Record<string, string> = {}): string {
  return JSON.stringify({
    time: '2025-03-04T05:06:07+00:00',
    msec: '1741064767.250',
    request_id: `req-${i}`,
    host: 'shop.example',
    method: 'GET',
    uri: `/items/${i}`,
    status: '200',
    bytes: '12',
    bytes_sent: '240',
    request_length: '80',
    request_time: '0.004',
    upstream_response_time: '0.003',
    upstream_status: '200',
    upstream_addr: '127.0.0.1:3000',
    ...extra,
  });
}

/** Reads until `want` lines came back or nothing new arrives `graceMs` after the last read. */
async function drain(
  tail: Tail,
  want: number,
  maxLines = 1000,
): Promise<{ lines: string[]; chunks: Chunk[] }> {
  const lines: string[] = [];
  const chunks: Chunk[] = [];
  const deadline = Date.now() + 5000;
  while (lines.length < want && Date.now() < deadline) {
    const c = await tail.next({ maxLines, maxBytes: 1 << 20 });
    if (c) {
      chunks.push(c);
      lines.push(...c.lines);
    } else await new Promise((r) => setTimeout(r, 20));
  }
  return { lines, chunks };
}

const ids = (lines: string[]) => lines.map((l) => (JSON.parse(l) as { request_id: string }).request_id);
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => `req-${a + i}`);

describe('nginx line mapping', () => {
  test('routes drop the query and replace numeric, UUID and long hex segments by :id', () => {
    assert.equal(routeTemplate('/users/42/orders?page=2'), '/users/:id/orders');
    assert.equal(routeTemplate('/a/0b5f9c2e-8d1a-4c3e-9f00-1234567890ab/b'), '/a/:id/b');
    assert.equal(routeTemplate('/blobs/9f86d081884c7d659a2feaa0c55ad015'), '/blobs/:id');
    assert.equal(routeTemplate('/v2/cafe/deadbeef'), '/v2/cafe/deadbeef', 'short words stay');
    assert.equal(routeTemplate('/'), '/');
    assert.equal(routeTemplate('?x=1'), '/');
    assert.equal(routeTemplate('http://example.com/p/7#frag'), '/p/:id');
    assert.equal(routeTemplate(`/${'x'.repeat(400)}`).length, 300);
  });

  test('a peep_json line becomes a request event with upstream lists kept as strings', () => {
    const p = parseLine(
      line(7, { upstream_response_time: '0.002, 0.004', upstream_status: '502, 200', status: '200' }),
      { instance: 'edge-1' },
    );
    assert.ok(p.ok);
    assert.deepEqual(p.event, {
      time: 1741064767250,
      service: 'shop.example',
      route: '/items/:id',
      method: 'GET',
      status: 200,
      durationMs: 4,
      bytesIn: 80,
      bytesOut: 240,
      requestId: 'req-7',
      instance: 'edge-1',
      attributes: {
        host: 'shop.example',
        upstreamTime: '0.002, 0.004',
        upstreamStatus: '502, 200',
        upstreamAddr: '127.0.0.1:3000',
      },
    });
  });

  test('--service wins over the host; time falls back to time_iso8601; empty upstream fields are left out', () => {
    const p = parseLine(
      line(1, { msec: '', upstream_response_time: '', upstream_status: '-', upstream_addr: '' }),
      { service: 'web' },
    );
    assert.ok(p.ok);
    assert.equal(p.event.service, 'web');
    assert.equal(p.event.time, Date.parse('2025-03-04T05:06:07Z'));
    assert.deepEqual(p.event.attributes, { host: 'shop.example' });
  });

  test('malformed lines are refused with a reason', () => {
    const bad: [string, RegExp][] = [
      ['{"status":', /not JSON/],
      ['[1,2]', /not a JSON object/],
      [line(1, { status: '20x' }), /status/],
      [line(1, { status: '999' }), /status/],
      [line(1, { method: '' }), /method/],
      [line(1, { msec: '', time: 'yesterday' }), /time/],
      [line(1, { request_time: '-' }), /request_time/],
    ];
    for (const [text, reason] of bad) {
      const p = parseLine(text);
      assert.equal(p.ok, false, text);
      if (!p.ok) assert.match(p.reason, reason);
    }
  });
});

describe('following a log file', () => {
  test('starts at the end on a first run and returns only complete lines', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'access.log');
    fs.writeFileSync(file, `${line(0)}\n${line(1)}\n`);
    const tail = await createTail({ path: file, from: 'end' });
    assert.equal(await tail.next({ maxLines: 10, maxBytes: 1 << 20 }), null, 'old lines are not read');
    const l2 = line(2);
    fs.appendFileSync(file, l2.slice(0, 20));
    assert.equal(await tail.next({ maxLines: 10, maxBytes: 1 << 20 }), null, 'half a line waits');
    fs.appendFileSync(file, `${l2.slice(20)}\n${line(3)}\n`);
    const c = await tail.next({ maxLines: 10, maxBytes: 1 << 20 });
    assert.ok(c);
    assert.deepEqual(ids(c.lines), ['req-2', 'req-3']);
    assert.equal(c.start, Buffer.byteLength(`${line(0)}\n${line(1)}\n`));
    assert.equal(c.end, fs.statSync(file).size);
    assert.equal(c.bytes.length, c.end - c.start);
    await tail.close();
  });

  test('maxLines cuts a chunk at a line boundary', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'access.log');
    fs.writeFileSync(
      file,
      range(0, 10)
        .map((_, i) => `${line(i)}\n`)
        .join(''),
    );
    const tail = await createTail({ path: file, from: 'start' });
    const a = await tail.next({ maxLines: 4, maxBytes: 1 << 20 });
    const b = await tail.next({ maxLines: 100, maxBytes: 1 << 20 });
    assert.deepEqual(ids(a?.lines ?? []), range(0, 4));
    assert.deepEqual(ids(b?.lines ?? []), range(4, 10));
    assert.equal(a?.end, b?.start);
    await tail.close();
  });

  test('rename rotation: the old file is read to its end (even lines written after the rename), then the new one', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'access.log');
    fs.writeFileSync(file, '');
    const tail = await createTail({ path: file, from: 'end', graceMs: 150 });
    fs.appendFileSync(
      file,
      range(0, 3)
        .map((_, i) => `${line(i)}\n`)
        .join(''),
    );
    const first = await drain(tail, 3);
    fs.renameSync(file, `${file}.1`);
    // nginx keeps writing to the renamed file until `nginx -s reopen`.
    fs.appendFileSync(`${file}.1`, `${line(3)}\n`);
    fs.writeFileSync(file, `${line(4)}\n`);
    fs.appendFileSync(`${file}.1`, `${line(5)}\n`);
    const rest = await drain(tail, 3);
    assert.deepEqual(
      [...ids(first.lines), ...ids(rest.lines)],
      ['req-0', 'req-1', 'req-2', 'req-3', 'req-5', 'req-4'],
    );
    const newIno = fs.statSync(file).ino;
    assert.equal(rest.chunks.at(-1)?.ino, newIno, 'the last chunk is from the new file');
    assert.equal(rest.chunks.at(-1)?.start, 0);
    await tail.close();
  });

  test('copytruncate: a file cut to zero is read again from its start', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'access.log');
    fs.writeFileSync(
      file,
      range(0, 3)
        .map((_, i) => `${line(i)}\n`)
        .join(''),
    );
    const tail = await createTail({ path: file, from: 'start' });
    assert.deepEqual(ids((await drain(tail, 3)).lines), range(0, 3));
    fs.copyFileSync(file, `${file}.1`);
    fs.truncateSync(file, 0);
    // More than before, so the size alone would not show the truncation.
    fs.appendFileSync(
      file,
      range(3, 8)
        .map((_, i) => `${line(i + 3)}\n`)
        .join(''),
    );
    const after = await drain(tail, 5);
    assert.deepEqual(ids(after.lines), range(3, 8));
    assert.equal(after.chunks[0]?.start, 0);
    await tail.close();
  });

  test('a saved position in a file rotated while the agent was down is finished first', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'access.log');
    fs.writeFileSync(
      file,
      range(0, 4)
        .map((_, i) => `${line(i)}\n`)
        .join(''),
    );
    const s = fs.statSync(file);
    const offset = Buffer.byteLength(`${line(0)}\n${line(1)}\n`);
    fs.renameSync(file, `${file}.1`);
    fs.writeFileSync(file, `${line(4)}\n`);
    const notes: string[] = [];
    const tail = await createTail({
      path: file,
      from: { dev: s.dev, ino: s.ino, offset },
      graceMs: 0,
      note: (m) => notes.push(m),
    });
    assert.deepEqual(ids((await drain(tail, 3)).lines), ['req-2', 'req-3', 'req-4']);
    assert.match(notes.join('\n'), /access\.log\.1 \(rotated\)/);
    await tail.close();
  });

  test('a file that does not exist yet is read from its start once it appears', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'access.log');
    const tail = await createTail({ path: file, from: 'end' });
    assert.equal(tail.position(), null);
    assert.equal(await tail.next({ maxLines: 10, maxBytes: 1 << 20 }), null);
    fs.writeFileSync(file, `${line(0)}\n`);
    assert.deepEqual(ids((await drain(tail, 1)).lines), ['req-0']);
    await tail.close();
  });

  test('a line longer than the read buffer is skipped and counted, the next one is read', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'access.log');
    fs.writeFileSync(file, `${'x'.repeat(5000)}\n${line(1)}\n`);
    const tail = await createTail({ path: file, from: 'start' });
    let oversized = 0;
    const got: string[] = [];
    for (let i = 0; i < 10 && got.length === 0; i++) {
      const c = await tail.next({ maxLines: 10, maxBytes: 1024 });
      oversized += c?.oversized ?? 0;
      got.push(...(c?.lines ?? []));
    }
    assert.equal(oversized, 1);
    assert.deepEqual(ids(got), ['req-1']);
    await tail.close();
  });
});

describe('agent state and batch keys', () => {
  test('the state file round-trips and is replaced atomically (no temp file left)', () => {
    const dir = freshDir();
    const store = createStateStore(dir, '/var/log/nginx/access.log');
    assert.equal(store.load(), null);
    store.save({ dev: 1, ino: 2, offset: 300 }, { dev: 1, ino: 2, start: 300, end: 900 });
    store.save({ dev: 1, ino: 2, offset: 900 }, null);
    const s = store.load();
    assert.deepEqual(s?.position, { dev: 1, ino: 2, offset: 900 });
    assert.equal(s?.pending, null);
    assert.deepEqual(fs.readdirSync(dir), [path.basename(store.file)]);
    fs.writeFileSync(store.file, '{"version":1}');
    assert.throws(() => store.load(), /not a state file/);
  });

  test('batch keys depend on file, range and content: a truncated file reusing offsets gets new keys', () => {
    const a = { dev: 1, ino: 2, start: 0, end: 10, bytes: Buffer.from('0123456789') };
    assert.equal(batchKey(a), batchKey({ ...a, bytes: Buffer.from('0123456789') }));
    assert.notEqual(batchKey(a), batchKey({ ...a, bytes: Buffer.from('abcdefghij') }));
    assert.notEqual(batchKey(a), batchKey({ ...a, ino: 3 }));
    assert.match(batchKey(a), /^nginx:1:2:0-10:[0-9a-f]{24}$/);
    assert.ok(batchKey(a).length <= 200);
  });
});

describe('sending with retries', () => {
  test('Retry-After in seconds and as an HTTP date', () => {
    assert.equal(retryAfterMs('3'), 3000);
    assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4000), 6000);
    assert.equal(retryAfterMs(null), undefined);
    assert.equal(retryAfterMs('soon'), undefined);
  });

  test('503 with Retry-After is waited out and retried with the same Idempotency-Key and body', async () => {
    const seen: { at: number; key: string | undefined; body: string }[] = [];
    const srv = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        seen.push({ at: Date.now(), key: req.headers['idempotency-key'] as string, body });
        if (seen.length === 1) {
          res.writeHead(503, { 'retry-after': '1', 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'ingest_overloaded', message: 'busy' } }));
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ accepted: 2, rejected: [], rejectedCount: 0 }));
        }
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
      const notes: string[] = [];
      const s = createShipper({
        server: url,
        key: 'peep_ik_test',
        note: (m) => notes.push(m),
        signal: new AbortController().signal,
        random: () => 0,
      });
      const r = await s.send([{ a: 1 }, { a: 2 }], 'k-1');
      assert.deepEqual(r, {
        kind: 'accepted',
        accepted: 2,
        rejectedCount: 0,
        rejected: [],
        duplicate: false,
      });
      assert.equal(seen.length, 2);
      assert.ok((seen[1]?.at ?? 0) - (seen[0]?.at ?? 0) >= 950, 'waited about Retry-After');
      assert.equal(seen[1]?.key, 'k-1');
      assert.equal(seen[1]?.body, seen[0]?.body);
      assert.equal(s.retries(), 1);
      assert.match(notes.join('\n'), /503 ingest_overloaded/);
    } finally {
      srv.close();
    }
  });

  test('connection refused is retried with growing delays until aborted', async () => {
    const srv = http.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const ac = new AbortController();
    const s = createShipper({
      server: `http://127.0.0.1:${port}`,
      key: 'peep_ik_test',
      note: () => {},
      signal: ac.signal,
      baseDelayMs: 20,
      random: () => 1,
    });
    setTimeout(() => ac.abort(new Error('stop')), 400);
    const t0 = Date.now();
    await assert.rejects(s.send([{}], 'k'), /stop/);
    assert.ok(Date.now() - t0 >= 390);
    // 20, 40, 80, 160 ms: four retries fit in 400 ms with doubling delays, not dozens.
    assert.ok(s.retries() >= 3 && s.retries() <= 6, `retries: ${s.retries()}`);
  });
});
