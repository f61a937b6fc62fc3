/**
 * HTTPS checks against real TLS servers on loopback with certificates made by openssl at test time:
 * self-signed (refused unless ignoreTls), expired, CA-signed and trusted through `ca`, the wrong
 * host name; days left and the expiry warning. Skips with a reason without openssl (fails under CI).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type HttpCheck, runCheck } from './check.js';
import {
  type CertMaker,
  certMaker,
  findOpenssl,
  startServer,
  startTcpServer,
  type TestServer,
} from './testing.js';

const found = findOpenssl();
const skip = 'skip' in found ? found.skip : false;
if (skip) console.log(`# ${skip}: TLS probe tests skipped`);

const https = (url: string, extra: Partial<HttpCheck> = {}): HttpCheck => ({
  kind: 'http',
  url,
  method: 'GET',
  timeoutMs: 3000,
  ...extra,
});
const hello = (_req: unknown, res: { end(s: string): void }) => res.end('secure hello');

describe('HTTPS checks', { skip }, () => {
  let certs: CertMaker;
  const servers: TestServer[] = [];
  const serve = async (pem: { key: string; cert: string }) => {
    const s = await startServer(hello, pem);
    servers.push(s);
    return s;
  };
  before(() => {
    certs = certMaker('bin' in found ? found.bin : '');
  });
  after(async () => {
    for (const s of servers) await s.close();
    certs.cleanup();
  });

  test('a self-signed certificate is a TLS failure by default, and up with ignoreTls with its days left', async () => {
    const s = await serve(certs.selfSigned(30));
    const r = await runCheck(https(`https://localhost:${s.port}/`));
    assert.equal(r.ok, false);
    assert.equal(r.errorClass, 'tls');
    assert.match(r.message ?? '', /self[- ]signed/);
    assert.equal(r.statusCode, undefined);

    const ok = await runCheck(https(`https://localhost:${s.port}/`, { ignoreTls: true }));
    assert.equal(ok.ok, true, ok.message);
    assert.equal(ok.statusCode, 200);
    assert.ok(ok.certDaysLeft === 29 || ok.certDaysLeft === 30, `days left ${ok.certDaysLeft}`);
    assert.equal(ok.certWarning, false);
    const expires = Date.parse(ok.certExpiresAt ?? '');
    assert.ok(Math.abs(expires - (Date.now() + 30 * 86_400_000)) < 120_000, ok.certExpiresAt);
    assert.ok((ok.phases.tlsMs ?? -1) > 0);
    assert.ok((ok.phases.connectMs ?? -1) >= 0);
    assert.ok((ok.phases.firstByteMs ?? -1) >= 0);
  });

  test('fewer days left than certExpiryWarnDays sets certWarning and the check stays up', async () => {
    const s = await serve(certs.selfSigned(10));
    const r = await runCheck(https(`https://127.0.0.1:${s.port}/`, { ignoreTls: true }));
    assert.equal(r.ok, true);
    assert.ok(r.certDaysLeft === 9 || r.certDaysLeft === 10);
    assert.equal(r.certWarning, true); // default 14 days
    const r5 = await runCheck(
      https(`https://127.0.0.1:${s.port}/`, { ignoreTls: true, certExpiryWarnDays: 5 }),
    );
    assert.equal(r5.certWarning, false);
    // Days left count from the injected clock.
    const later = await runCheck(https(`https://127.0.0.1:${s.port}/`, { ignoreTls: true }), {
      now: () => Date.now() + 20 * 86_400_000,
    });
    assert.ok(later.certDaysLeft !== undefined && later.certDaysLeft < 0);
  });

  test('an expired certificate is a TLS failure naming it; with ignoreTls it is up with negative days', async () => {
    const s = await serve(certs.expired());
    const r = await runCheck(https(`https://localhost:${s.port}/`));
    assert.equal(r.errorClass, 'tls');
    assert.match(r.message ?? '', /expired/);
    assert.equal(r.certExpiresAt, '2020-02-01T00:00:00.000Z');
    const ok = await runCheck(https(`https://localhost:${s.port}/`, { ignoreTls: true }));
    assert.equal(ok.ok, true);
    assert.ok((ok.certDaysLeft ?? 0) < -365);
    assert.equal(ok.certWarning, true);
  });

  test('a certificate from a trusted CA is up without ignoreTls; the wrong host name is a TLS failure', async () => {
    const pem = certs.caSigned(90, ['localhost', '127.0.0.1']);
    const s = await serve(pem);
    const r = await runCheck(https(`https://localhost:${s.port}/`), { ca: pem.ca });
    assert.equal(r.ok, true, r.message);
    assert.ok(r.certDaysLeft === 89 || r.certDaysLeft === 90);
    assert.equal(r.certWarning, false);
    const ip = await runCheck(https(`https://127.0.0.1:${s.port}/`), { ca: pem.ca });
    assert.equal(ip.ok, true, ip.message);

    const other = certs.caSigned(90, ['other.test']);
    const wrong = await serve(other);
    const w = await runCheck(https(`https://localhost:${wrong.port}/`), { ca: other.ca });
    assert.equal(w.errorClass, 'tls');
    assert.match(w.message ?? '', /altnames|does not match/i);
    // Every check is a full handshake: the shared TLS context resumes no session.
    for (let i = 0; i < 3; i++) {
      const again = await runCheck(https(`https://localhost:${s.port}/`), { ca: pem.ca });
      assert.equal(again.ok, true);
      assert.ok((again.phases.tlsMs ?? 0) > 0);
    }
    assert.equal(s.resumed(), 0);
    // Without the CA it is not trusted at all.
    const untrusted = await runCheck(https(`https://localhost:${s.port}/`));
    assert.equal(untrusted.errorClass, 'tls');
  });

  test('TLS spoken to a plain HTTP port, or a server that drops the handshake, is a TLS failure', async () => {
    const plain = await startServer((_req, res) => res.end('plain'));
    servers.push(plain);
    const r = await runCheck(https(`https://127.0.0.1:${plain.port}/`));
    assert.equal(r.errorClass, 'tls');
    const dropper = await startTcpServer((sock) => sock.once('data', () => sock.destroy()));
    servers.push(dropper);
    const d = await runCheck(https(`https://127.0.0.1:${dropper.port}/`));
    assert.equal(d.errorClass, 'tls');
    assert.match(d.message ?? '', /TLS handshake failed/);
  });

  test('a TLS handshake that never completes times out naming the phase', async () => {
    const mute = await startTcpServer(() => {});
    servers.push(mute);
    const r = await runCheck(https(`https://127.0.0.1:${mute.port}/`, { timeoutMs: 200 }));
    assert.equal(r.errorClass, 'timeout');
    assert.equal(r.message, 'timed out after 200 ms in the TLS handshake');
  });

  test('an http → https redirect reports the certificate of the https hop and both hops in the phases', async () => {
    const pem = certs.caSigned(40);
    const tlsServer = await serve(pem);
    const plain = await startServer((_req, res) => {
      res.writeHead(301, { location: `https://localhost:${tlsServer.port}/` });
      res.end();
    });
    servers.push(plain);
    const r = await runCheck(https(`http://127.0.0.1:${plain.port}/`), { ca: pem.ca });
    assert.equal(r.ok, true, r.message);
    assert.equal(r.redirects, 1);
    assert.ok(r.certDaysLeft === 39 || r.certDaysLeft === 40);
    assert.ok((r.phases.tlsMs ?? 0) > 0);
  });
});
