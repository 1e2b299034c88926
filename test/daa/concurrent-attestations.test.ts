import type Database from 'better-sqlite3';
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDaaDatabase } from '../../src/daa/daa-schema.js';
import { DaaService, type DaaServiceOptions } from '../../src/daa/daa-service.js';
import type { AttestationResult } from '../../src/daa/protocol.js';
import { REFUSAL_REASONS } from '../../src/daa/refusal-reasons.js';
import { exportPublicKeyDer, generateSigningKeyPair } from '../../src/pki/signing-key.js';
import { referenceFor } from './helpers/daa-fixture.js';
import { SimulatedDevice } from './helpers/simulated-device.js';

/**
 * Attestations whose outcomes share a group commit: checks that must see the
 * attestations appraised but not yet committed (a reused key, the boot
 * counter), results answered only once committed, close() committing what is
 * queued, and changes made by another process (another connection to the same
 * state folder, as the CLI's direct mode) while an attestation waits.
 */
describe('local DAA service: concurrent attestations and group commit', function () {
  this.timeout(60_000);
  let dir: string;
  let service: DaaService;
  let other: DaaService | undefined;
  let reader: Database.Database;

  const open = async (options: Partial<DaaServiceOptions> = {}) => {
    service = await DaaService.open({ stateDir: dir, ...options });
    reader = openDaaDatabase(dir);
  };
  const claimed = async (device = new SimulatedDevice()) => {
    const tenant = await service.createTenant({ name: `t-${Math.random().toString(36).slice(2, 8)}` });
    service.setReferenceValues(tenant.id, referenceFor(device));
    service.claimDevice(tenant.id, device.deviceId);
    return { device, tenant: tenant.id };
  };
  /** Asks for a session and sends evidence to it; the promise settles once the outcome is committed. */
  const attest = (device: SimulatedDevice, tenant: string, certificateKey = generateSigningKeyPair().publicKey): Promise<AttestationResult> => {
    const session = service.createSession({ deviceId: device.deviceId });
    return service.submitEvidence(session.sessionId, { kind: 'json', value: { evidence: device.sign(device.claims(session.nonce, tenant, certificateKey)) } });
  };
  const codes = (result: AttestationResult) => (result.verdict === 'refused' ? result.reasons.map((r) => r.code) : []);
  const details = (result: AttestationResult) => (result.verdict === 'refused' ? result.reasons.map((r) => r.detail) : []);
  const count = (sql: string, ...params: unknown[]) => (reader.prepare(sql).get(...params) as { n: number }).n;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sphere-rig-daa-concurrent-'));
  });
  afterEach(async () => {
    reader?.close();
    await other?.close();
    other = undefined;
    await service?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses the second of two evidences binding one key in the same batch, and certifies the key once', async () => {
    // Same batch; the second sent once the first is appraised (see the boot-count case below).
    await open({ commitDelayMs: 60_000, commitMaxItems: 2 });
    const { device, tenant } = await claimed();
    const key = generateSigningKeyPair().publicKey;
    const first = attest(device, tenant, key);
    await service.verifier.appraised();
    const results = await Promise.all([first, attest(device, tenant, key)]);
    expect(results.map((r) => r.verdict)).to.deep.equal(['affirming', 'refused']);
    expect(codes(results[1]!)).to.deep.equal(['certificate-key-reused']);
    // Refused at appraisal, from the pending key (the commit's UNIQUE constraint would catch it later, with another detail).
    expect(details(results[1]!)).to.deep.equal([REFUSAL_REASONS['certificate-key-reused'].summary]);
    const keySha256 = createHash('sha256').update(exportPublicKeyDer(key)).digest('hex');
    expect(count('SELECT COUNT(*) AS n FROM certificates WHERE key_sha256 = ?', keySha256)).to.equal(1);
    // Once committed, the database refuses it too (the unknown session fills the batch of two).
    const [again] = await Promise.all([attest(device, tenant, key), service.submitEvidence('no-such-session', { kind: 'json', value: { evidence: 'x' } })]);
    expect(codes(again)).to.deep.equal(['certificate-key-reused']);
  });

  it('refuses a lower boot count than one still waiting for its commit', async () => {
    // The two commit together, and the second is sent once the first is appraised: the
    // ECDSA checks run on the threadpool, so two sent at once may be appraised in either order.
    await open({ commitDelayMs: 60_000, commitMaxItems: 2 });
    const { device, tenant } = await claimed();
    device.bootCount = 5;
    const first = attest(device, tenant);
    await service.verifier.appraised();
    device.bootCount = 4;
    const second = attest(device, tenant);
    const [a, b] = await Promise.all([first, second]);
    expect(a.verdict).to.equal('affirming');
    expect(codes(b)).to.deep.equal(['bootcount-regressed']);
    // Refused at appraisal, from the pending boot count (the commit's guarded update would catch it later, with another detail).
    expect(details(b)[0]).to.match(/^bootcount 4 is below 5/);
    expect(service.device(device.deviceId).lastBootCount).to.equal(5);
  });

  it('answers only once the outcome is committed: another connection sees the certificate and the audit entries', async () => {
    await open({ commitDelayMs: 20 });
    const { device, tenant } = await claimed();
    const affirming = attest(device, tenant);
    const refused = service.submitEvidence('no-such-session', { kind: 'json', value: { evidence: 'x' } });
    expect(count('SELECT COUNT(*) AS n FROM audit')).to.equal(0);
    const result = await affirming;
    expect(result.verdict).to.equal('affirming');
    expect(count('SELECT COUNT(*) AS n FROM certificates WHERE serial = ?', result.verdict === 'affirming' ? result.serialNumber : '')).to.equal(1);
    expect(codes(await refused)).to.deep.equal(['session-unknown']);
    expect(count("SELECT COUNT(*) AS n FROM audit WHERE verdict = 'refused'")).to.equal(1);
    expect(count("SELECT COUNT(*) AS n FROM audit WHERE verdict = 'affirming'")).to.equal(1);
  });

  it('keeps what appraisal cached across its own commits; a registry write moves the appraisal generation', async () => {
    await open();
    const { device, tenant } = await claimed();
    const generation = () => count('SELECT value AS n FROM appraisal_generation');
    const before = generation();
    expect((await attest(device, tenant)).verdict).to.equal('affirming');
    expect((await attest(device, tenant)).verdict).to.equal('affirming');
    expect(generation(), 'attestation writes (the storage thread) leave it').to.equal(before);
    await service.tenantCrlPem(tenant);
    await service.intermediateCrlPem();
    expect(generation(), 'so do CRL downloads (their numbers are not appraised)').to.equal(before);
    service.revokeDevice(device.deviceId, 'lost');
    expect(generation()).to.be.greaterThan(before);
    expect(codes(await attest(device, tenant))).to.deep.equal(['device-revoked']);
  });

  it('works on an in-memory database too, where the service commits on its own thread', async () => {
    service = await DaaService.open({ stateDir: ':memory:' });
    const { device, tenant } = await claimed();
    const key = generateSigningKeyPair().publicKey;
    expect((await attest(device, tenant, key)).verdict).to.equal('affirming');
    expect(codes(await attest(device, tenant, key))).to.deep.equal(['certificate-key-reused']);
    expect(service.device(device.deviceId).certificates).to.equal(1);
    expect(service.audit({ deviceId: device.deviceId }).map((e) => e.verdict)).to.deep.equal(['refused', 'affirming']);
    await service.close();
  });

  it('commits the queued attestations on close(): their answers hold after a restart', async () => {
    await open({ commitDelayMs: 60_000 });
    const { device, tenant } = await claimed();
    const queued = [attest(device, tenant), attest(device, tenant), service.submitEvidence('gone', { kind: 'malformed', detail: 'x' })];
    expect(count('SELECT COUNT(*) AS n FROM audit')).to.equal(0);
    await service.close();
    const results = await Promise.all(queued);
    expect(results.map((r) => r.verdict)).to.deep.equal(['affirming', 'affirming', 'refused']);
    reader.close();
    await open();
    expect(service.device(device.deviceId).certificates).to.equal(2);
    expect(service.audit({ deviceId: device.deviceId }).map((e) => e.verdict)).to.deep.equal(['affirming', 'affirming']);
    expect(service.audit({ verdict: 'refused' })).to.have.length(1);
  });

  it('sees the changes another process makes from the next turn on (what appraisal reads is cached)', async () => {
    await open();
    const { device, tenant } = await claimed();
    expect((await attest(device, tenant)).verdict).to.equal('affirming');
    other = await DaaService.open({ stateDir: dir });
    // Nothing at commit re-checks reference values: only the cache's invalidation can catch this one.
    const reference = referenceFor(device);
    reference.components[0]!.untrustedImageHashes = [reference.components[0]!.trustedImageHashes![0]!];
    other.setReferenceValues(tenant, reference);
    await new Promise((resolve) => setImmediate(resolve));
    expect(codes(await attest(device, tenant))).to.deep.equal(['image-untrusted']);
    other.revokeDevice(device.deviceId, 'stolen');
    await new Promise((resolve) => setImmediate(resolve));
    const revoked = await attest(device, tenant);
    expect(codes(revoked)).to.deep.equal(['device-revoked', 'image-untrusted']);
    expect(details(revoked)[0]).to.match(/^revoked .*: stolen$/);
  });

  it('refuses at commit an attestation whose device another process revoked while it waited: no certificate', async () => {
    await open({ commitDelayMs: 60_000 });
    const { device, tenant } = await claimed();
    const waiting = attest(device, tenant);
    await service.verifier.appraised(); // appraised and signed: it waits for its commit now
    other = await DaaService.open({ stateDir: dir });
    other.revokeDevice(device.deviceId, 'stolen');
    await service.close();
    const result = await waiting;
    expect(codes(result)).to.deep.equal(['device-revoked']);
    expect(count('SELECT COUNT(*) AS n FROM certificates')).to.equal(0);
    const [entry] = other.audit({ deviceId: device.deviceId });
    expect(entry!.verdict).to.equal('refused');
    expect(entry!.reasons.map((r) => r.code)).to.deep.equal(['device-revoked']);
  });

  it('answers an attestation whose commit fails on the storage thread with that error, and issues nothing', async () => {
    await open({ commitDelayMs: 60_000 });
    const { device, tenant } = await claimed();
    const waiting = attest(device, tenant);
    await service.verifier.appraised(); // appraised and signed: it waits for its commit now
    // Another process removes the tenant CA that signed it: the certificate row's foreign key fails at commit.
    const writer = openDaaDatabase(dir);
    writer.pragma('foreign_keys = OFF');
    writer.prepare('DELETE FROM authorities WHERE id = ?').run(service.pki.activeTenantAuthority(tenant)!.id);
    writer.close();
    const failed = waiting.then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    await service.close();
    const error = await failed;
    expect(error?.message).to.match(/FOREIGN KEY/i);
    expect(error?.code).to.match(/^SQLITE_CONSTRAINT/);
    expect(count('SELECT COUNT(*) AS n FROM certificates')).to.equal(0);
    expect(count('SELECT COUNT(*) AS n FROM audit')).to.equal(0);
  });

  it('refuses at commit an attestation whose key another process certified while it waited', async () => {
    await open({ commitDelayMs: 60_000 });
    const { device, tenant } = await claimed();
    const key = generateSigningKeyPair().publicKey;
    const waiting = attest(device, tenant, key);
    await service.verifier.appraised(); // appraised and signed: it waits for its commit now
    const keySha256 = createHash('sha256').update(exportPublicKeyDer(key)).digest('hex');
    const writer = openDaaDatabase(dir);
    const authority = service.pki.activeTenantAuthority(tenant)!;
    writer
      .prepare('INSERT INTO certificates (serial, device_id, tenant_id, authority_id, key_sha256, evidence_sha256, not_before, not_after, issued_at, der) VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, ?)')
      .run('7f'.repeat(16), device.deviceId, tenant, authority.id, keySha256, '00'.repeat(32), Buffer.alloc(1));
    writer.close();
    await service.close();
    const result = await waiting;
    expect(codes(result)).to.deep.equal(['certificate-key-reused']);
    expect(details(result)[0]).to.match(/already has a certificate/);
    expect(count('SELECT COUNT(*) AS n FROM certificates')).to.equal(1);
    expect(count('SELECT last_boot_count AS n FROM devices WHERE id = ?', device.deviceId)).to.equal(null);
    expect(count("SELECT COUNT(*) AS n FROM audit WHERE verdict = 'refused'")).to.equal(1);
  });
});
