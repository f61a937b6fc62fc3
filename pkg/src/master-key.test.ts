import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, test } from 'node:test';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import {
  createKeyring,
  formatMasterKey,
  generateMasterKey,
  keyById,
  type LoadMasterKeyOptions,
  loadMasterKey,
  MASTER_KEY_FILE,
  type MasterKey,
  MasterKeyError,
  type MasterKeyErrorCode,
  parseMasterKey,
} from './master-key.js';
import { newDataKey, unwrapDataKey } from './seal.js';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-mk-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => path.join(tmpRoot, `d${++dirs}`);

/** Every key this file creates or reads, and every message and log line it sees, checked at the end. */
const keys: MasterKey[] = [];
const outputs: string[] = [];
const remember = (mk: MasterKey) => {
  keys.push(mk);
  return mk;
};

function logger() {
  const lines: string[] = [];
  const out = new PassThrough();
  out.on('data', (c: Buffer) => {
    for (const l of c.toString('utf8').split('\n').filter(Boolean)) {
      lines.push(l);
      outputs.push(l);
    }
  });
  return { log: createLogger({ level: 'info' }, out), lines };
}

async function load(opts: Partial<LoadMasterKeyOptions>) {
  const { log, lines } = logger();
  const r = await loadMasterKey({ env: undefined, dataDir: undefined, log, ...opts });
  remember(r.keyring.current);
  r.keyring.previous.forEach(remember);
  await new Promise((res) => setImmediate(res));
  return { ...r, lines };
}

async function refused(p: Promise<unknown>, code: MasterKeyErrorCode, re: RegExp): Promise<string> {
  let message = '';
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof MasterKeyError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    message = e.message;
    return true;
  });
  outputs.push(message);
  return message;
}

const mode = (file: string) => fs.statSync(file).mode & 0o777;

test('the text form round-trips, and the id is the first 8 hex digits of the key SHA-256', () => {
  const mk = remember(generateMasterKey());
  const text = formatMasterKey(mk);
  assert.match(text, /^peepmk1\.[0-9a-f]{8}\.[A-Za-z0-9_-]{43}$/);
  assert.equal(mk.id, createHash('sha256').update(mk.key.export()).digest('hex').slice(0, 8));
  const back = parseMasterKey(`  ${text}\n`, 'X');
  assert.equal(back.id, mk.id);
  assert.ok(back.key.equals(mk.key));
  assert.notEqual(remember(generateMasterKey()).id, mk.id);
});

test('a malformed PEEP_MASTER_KEY is refused naming the variable, without echoing the value', async () => {
  const good = formatMasterKey(remember(generateMasterKey()));
  const [, id = '', body = ''] = good.split('.');
  const otherId = id === '00000000' ? '11111111' : '00000000';
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = body.at(-1) as string;
  const cases: [string, RegExp][] = [
    [body, /does not start with "peepmk1\."/],
    [`peepmk2.${id}.${body}`, /does not start/],
    [`peepmk1.${body}`, /2 dot-separated parts/],
    [`${good}.x`, /4 dot-separated parts/],
    [`peepmk1.DEADBEEF.${body}`, /id is not 8 lowercase hex/],
    [`peepmk1.${id.slice(1)}.${body}`, /id is not 8 lowercase hex/],
    [`peepmk1.${otherId}.${body}`, /id does not match its key/],
    [`peepmk1.${id}.${body.slice(0, -1)}`, /not 32 bytes/],
    [`peepmk1.${id}.${body}A`, /not 32 bytes/],
    [`peepmk1.${id}.${body}=`, /not 32 bytes/],
    [`peepmk1.${id}.${body.slice(0, 10)} ${body.slice(10)}`, /not 32 bytes/],
    // the last character carries 2 unused bits: a non-canonical one is refused, not read as the same key
    [`peepmk1.${id}.${body.slice(0, -1)}${alphabet[alphabet.indexOf(last) ^ 1]}`, /not 32 bytes/],
    [`peepmk1.${id}.${Buffer.alloc(32, 1).toString('base64url')}`, /id does not match/],
    ['   ', /does not start/],
  ];
  for (const [value, re] of cases) {
    const m = await refused(load({ env: value, dataDir: freshDir() }), 'malformed', re);
    assert.match(m, /^PEEP_MASTER_KEY: not a peep master key: /);
    assert.ok(!m.includes(body.slice(0, 20)), m);
    if (value.trim()) assert.ok(!m.includes(value.trim()), m);
    // The same check stops start-up in the config schema, as a ConfigError naming the variable.
    assert.throws(
      () => loadConfig({ PEEP_MASTER_KEY: value }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.variable === 'PEEP_MASTER_KEY' &&
        re.test(e.message) &&
        !e.message.includes(body.slice(0, 20)),
    );
  }
  assert.equal(loadConfig({ PEEP_MASTER_KEY: `${good}\n` }).masterKey, good);
  assert.equal(loadConfig({}).masterKey, '');
});

test('PEEP_MASTER_KEY_PREVIOUS: each entry validated, named by position; duplicates of the current key dropped', async () => {
  const [a, b, c] = [generateMasterKey(), generateMasterKey(), generateMasterKey()].map(remember) as [
    MasterKey,
    MasterKey,
    MasterKey,
  ];
  const r = await load({
    env: formatMasterKey(a),
    previous: ` ${formatMasterKey(b)}, ${formatMasterKey(c)},${formatMasterKey(a)},${formatMasterKey(b)}`,
  });
  assert.equal(r.source, 'env');
  assert.equal(r.keyring.current.id, a.id);
  assert.deepEqual(
    r.keyring.previous.map((k) => k.id),
    [b.id, c.id],
  );
  assert.equal(keyById(r.keyring, c.id), r.keyring.previous[1]);
  assert.equal(keyById(r.keyring, 'ffffffff'), undefined);
  const arr = await load({ env: formatMasterKey(a), previous: [formatMasterKey(c)] });
  assert.deepEqual(
    arr.keyring.previous.map((k) => k.id),
    [c.id],
  );

  const bad = `${formatMasterKey(b)},${formatMasterKey(c).slice(0, -2)}`;
  await refused(
    load({ env: formatMasterKey(a), previous: bad }),
    'malformed',
    /^PEEP_MASTER_KEY_PREVIOUS \(entry 2\): not a peep master key/,
  );
  assert.throws(
    () => loadConfig({ PEEP_MASTER_KEY_PREVIOUS: bad }),
    (e: unknown) =>
      e instanceof ConfigError &&
      /^PEEP_MASTER_KEY_PREVIOUS: entry 2: not a peep master key/.test(e.message) &&
      !e.message.includes(formatMasterKey(c).slice(10, 40)),
  );
  assert.deepEqual(loadConfig({ PEEP_MASTER_KEY_PREVIOUS: `${formatMasterKey(b)}, ` }).masterKeyPrevious, [
    formatMasterKey(b),
  ]);
});

test('two different keys with one id are refused', () => {
  const a = remember(generateMasterKey());
  const fake = { id: a.id, key: remember(generateMasterKey()).key };
  assert.throws(
    () => createKeyring(a, [fake]),
    (e: unknown) => e instanceof MasterKeyError && e.code === 'duplicate_id',
  );
});

test('scaled out (no data directory) without PEEP_MASTER_KEY is refused, saying it is required', async () => {
  await refused(load({}), 'missing', /^PEEP_MASTER_KEY is required .*scaled out/);
  await refused(load({ env: '' }), 'missing', /PEEP_MASTER_KEY is required/);
  const mk = remember(generateMasterKey());
  const r = await load({ env: formatMasterKey(mk) });
  assert.equal(r.source, 'env');
  assert.equal(r.file, undefined);
  assert.ok(r.keyring.current.key.equals(mk.key));
  assert.deepEqual(r.lines, []);
});

test('embedded: master.key is generated once, mode 0600, with one warning to back it up that holds no key', async () => {
  const dir = path.join(freshDir(), 'nested', 'data');
  const first = await load({ dataDir: dir });
  const file = path.join(dir, MASTER_KEY_FILE);
  assert.equal(first.source, 'generated');
  assert.equal(first.file, file);
  if (process.platform !== 'win32') assert.equal(mode(file), 0o600);
  assert.equal(fs.readFileSync(file, 'utf8'), `${formatMasterKey(first.keyring.current)}\n`);
  assert.equal(first.lines.length, 1);
  const line = JSON.parse(first.lines[0] as string) as Record<string, unknown>;
  assert.equal(line.level, 40);
  assert.match(String(line.msg), /back it up/);
  assert.equal(line.file, file);
  assert.equal(line.masterKeyId, first.keyring.current.id);

  const second = await load({ dataDir: dir });
  assert.equal(second.source, 'file');
  assert.ok(second.keyring.current.key.equals(first.keyring.current.key));
  assert.deepEqual(second.lines, []);
  assert.deepEqual(fs.readdirSync(dir), [MASTER_KEY_FILE], 'no temporary file left behind');

  // A data key wrapped on the first start unwraps on the second.
  const dk = newDataKey(first.keyring, 'p');
  assert.ok(unwrapDataKey(second.keyring, dk.wrapped, 'p').equals(dk.key));
});

test('embedded: eight loads at once in one process create one key, all agree', async () => {
  const dir = freshDir();
  const all = await Promise.all(Array.from({ length: 8 }, () => load({ dataDir: dir })));
  assert.equal(all.filter((r) => r.source === 'generated').length, 1);
  assert.equal(new Set(all.map((r) => r.keyring.current.id)).size, 1);
  assert.equal(all.flatMap((r) => r.lines).length, 1);
  assert.deepEqual(fs.readdirSync(dir), [MASTER_KEY_FILE]);
});

test('embedded: four processes starting at once create the key exactly once', async () => {
  const dir = freshDir();
  const moduleUrl = new URL('./master-key.js', import.meta.url).href;
  const logUrl = new URL('./log.js', import.meta.url).href;
  const goAt = Date.now() + 700; // all processes are up by then; they call loadMasterKey together
  const script = `
    import { loadMasterKey } from ${JSON.stringify(moduleUrl)};
    import { createLogger } from ${JSON.stringify(logUrl)};
    while (Date.now() < ${goAt}) {}
    const r = await loadMasterKey({ env: undefined, dataDir: ${JSON.stringify(dir)}, log: createLogger({ level: 'info' }, process.stderr) });
    console.log(JSON.stringify({ id: r.keyring.current.id, source: r.source }));`;
  const run = () =>
    new Promise<{ out: string; err: string; code: number | null }>((resolve, reject) => {
      const p = spawn(process.execPath, ['--input-type=module', '-e', script]);
      let out = '';
      let err = '';
      p.stdout.on('data', (c: Buffer) => {
        out += c;
      });
      p.stderr.on('data', (c: Buffer) => {
        err += c;
      });
      p.on('error', reject);
      p.on('close', (code) => resolve({ out, err, code }));
    });
  const results = await Promise.all([run(), run(), run(), run()]);
  for (const r of results) assert.equal(r.code, 0, r.err);
  outputs.push(...results.flatMap((r) => [r.out, r.err]));
  const parsed = results.map((r) => JSON.parse(r.out) as { id: string; source: string });
  assert.equal(parsed.filter((p) => p.source === 'generated').length, 1, JSON.stringify(parsed));
  assert.equal(new Set(parsed.map((p) => p.id)).size, 1);
  const warnings = results.flatMap((r) => r.err.split('\n').filter((l) => l.includes('back it up')));
  assert.equal(warnings.length, 1);
  const file = path.join(dir, MASTER_KEY_FILE);
  const onDisk = remember(parseMasterKey(fs.readFileSync(file, 'utf8'), file));
  assert.equal(onDisk.id, parsed[0]?.id);
  if (process.platform !== 'win32') assert.equal(mode(file), 0o600);
  assert.deepEqual(fs.readdirSync(dir), [MASTER_KEY_FILE]);
});

test('embedded: a master.key others may read is refused with chmod 600 advice; 0600 and 0400 are accepted', async (t) => {
  if (process.platform === 'win32') return t.skip('no POSIX modes on Windows');
  const dir = freshDir();
  const first = await load({ dataDir: dir });
  const file = path.join(dir, MASTER_KEY_FILE);
  for (const m of [0o644, 0o640, 0o604, 0o660, 0o601]) {
    fs.chmodSync(file, m);
    const msg = await refused(load({ dataDir: dir }), 'insecure_file', /chmod 600/);
    assert.ok(msg.includes(file) && msg.includes(`mode 0${m.toString(8)}`), msg);
    assert.equal(mode(file), m, 'the mode is left as found');
  }
  // PEEP_MASTER_KEY set does not make a readable key file in the data directory acceptable.
  await refused(
    load({ env: formatMasterKey(remember(generateMasterKey())), dataDir: dir }),
    'insecure_file',
    /chmod 600/,
  );
  for (const m of [0o600, 0o400]) {
    fs.chmodSync(file, m);
    const r = await load({ dataDir: dir });
    assert.equal(r.source, 'file');
    assert.equal(r.keyring.current.id, first.keyring.current.id);
  }
  fs.chmodSync(file, 0o600);
});

test('embedded: a damaged master.key is refused naming the file; a directory in its place too', async () => {
  const dir = freshDir();
  const first = await load({ dataDir: dir });
  const file = path.join(dir, MASTER_KEY_FILE);
  const text = formatMasterKey(first.keyring.current);
  fs.writeFileSync(file, text.slice(0, -3));
  const m = await refused(load({ dataDir: dir }), 'malformed', /not a peep master key/);
  assert.ok(m.startsWith(`${file}: `), m);
  assert.ok(!m.includes(text.slice(17, 37)), m);
  fs.writeFileSync(file, '');
  await refused(load({ dataDir: dir }), 'malformed', /not a peep master key/);

  const other = freshDir();
  fs.mkdirSync(path.join(other, MASTER_KEY_FILE), { recursive: true });
  await refused(load({ dataDir: other }), 'insecure_file', /not a regular file/);
});

test('embedded with PEEP_MASTER_KEY set: the variable wins and the old master.key joins the previous keys, with a warning', async () => {
  const dir = freshDir();
  const generated = await load({ dataDir: dir });
  const old = generated.keyring.current;
  const dk = newDataKey(generated.keyring, 'p');

  const mk = remember(generateMasterKey());
  const r = await load({ env: formatMasterKey(mk), dataDir: dir });
  assert.equal(r.source, 'env');
  assert.equal(r.keyring.current.id, mk.id);
  assert.deepEqual(
    r.keyring.previous.map((k) => k.id),
    [old.id],
  );
  assert.ok(unwrapDataKey(r.keyring, dk.wrapped, 'p').equals(dk.key));
  assert.equal(r.lines.length, 1);
  assert.match(r.lines[0] as string, /no longer the master key.*rotate-master-key/);

  // The same key in both places, or the file's key already listed as previous: no warning.
  const same = await load({ env: formatMasterKey(old), dataDir: dir });
  assert.deepEqual(same.keyring.previous, []);
  assert.deepEqual(same.lines, []);
  const listed = await load({ env: formatMasterKey(mk), previous: formatMasterKey(old), dataDir: dir });
  assert.deepEqual(
    listed.keyring.previous.map((k) => k.id),
    [old.id],
  );
  assert.deepEqual(listed.lines, []);
  // A data directory without master.key and PEEP_MASTER_KEY set: nothing is created.
  const empty = freshDir();
  fs.mkdirSync(empty);
  await load({ env: formatMasterKey(mk), dataDir: empty });
  assert.deepEqual(fs.readdirSync(empty), []);
});

test('no message, log line or process output of this file contains key material', () => {
  assert.ok(keys.length > 20 && outputs.length > 20, `${keys.length} keys, ${outputs.length} outputs`);
  for (const mk of keys) {
    const b64 = mk.key.export().toString('base64url');
    const hex = mk.key.export().toString('hex');
    for (const o of outputs) {
      assert.ok(!o.includes(b64) && !o.includes(b64.slice(0, 16)) && !o.includes(hex.slice(0, 16)), o);
    }
  }
});
