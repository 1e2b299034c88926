import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nextCertificateSerial } from '../../src/daa/certificate-serial.js';
import { DeviceTbsTemplate } from '../../src/daa/device-certificate-template.js';
import { encodeDeviceTbs, issueDeviceCertificate, type DeviceCertificateRequest } from '../../src/daa/device-certificate.js';
import { DaaError } from '../../src/daa/daa-error.js';
import { DAA_DATABASE_FILE, DAA_SCHEMA_VERSION, openDaaDatabase } from '../../src/daa/daa-schema.js';
import { createCa } from '../../src/pki/certificate-authority.js';
import { Certificate, parseCertificates, toCertificatePem } from '../../src/pki/certificate.js';
import { exportPublicKeyDer, generateSigningKeyPair } from '../../src/pki/signing-key.js';

/**
 * The issuing fast paths: the per-issuer TBS template must encode exactly what
 * the field-by-field encoder does; serials are increasing, unique, 16 bytes,
 * positive; schema step 2 indexes devices by prefix.
 */
describe('local DAA service: device certificate encoding, serials and schema', function () {
  this.timeout(30_000);

  const request = (at: number): DeviceCertificateRequest => ({
    deviceId: randomBytes(64).toString('hex'),
    spki: exportPublicKeyDer(generateSigningKeyPair().publicKey),
    evidenceSha256: randomBytes(32),
    notBefore: new Date(Math.floor(at / 1000) * 1000),
    notAfter: new Date(Math.floor(at / 1000) * 1000 + 24 * 3600 * 1000),
  });

  it('fills the TBS template with exactly the bytes of the reference encoding', async () => {
    const ca = await createCa({ subject: { CN: 'template test CA', O: 'sphere-rig' }, notBefore: new Date(), days: 30, pathLength: 0 });
    const keyIdentifier = Buffer.from(ca.cert.subjectKeyIdentifier!, 'hex');
    const issuer = { subjectNameDer: Buffer.from(ca.cert.toX509().subjectName.toArrayBuffer()), keyIdentifier, privateKey: ca.privateKey };
    const template = DeviceTbsTemplate.build(issuer, encodeDeviceTbs);
    expect(template, 'a template for an ordinary issuer').to.not.equal(null);
    for (let i = 0; i < 200; i++) {
      const req = request(Date.now() + i * 7_919_000);
      const serial = nextCertificateSerial();
      expect(template!.fill(serial, req)!.equals(encodeDeviceTbs(issuer, req, serial)), `request ${i}`).to.equal(true);
    }
    // Dates from 2050 are GeneralizedTime, of another length: the template declines, the reference encoder takes over.
    expect(template!.fill(nextCertificateSerial(), request(Date.UTC(2050, 0, 2)))).to.equal(undefined);
    const late = await issueDeviceCertificate(issuer, request(Date.UTC(2050, 0, 2)));
    const parsed = Certificate.fromDer(late.der);
    expect(parsed.notBefore.getUTCFullYear()).to.equal(2050);
    expect(parsed.isIssuedBy(ca.cert)).to.equal(true);
    // The PEM is the one the PKI module writes.
    const issued = await issueDeviceCertificate(issuer, request(Date.now()));
    expect(issued.pem).to.equal(toCertificatePem(issued.der));
    expect(parseCertificates(issued.pem)[0]!.isIssuedBy(ca.cert)).to.equal(true);
  });

  it('hands out increasing, unique, positive 16-byte serials with 64 random bits', () => {
    const serials = Array.from({ length: 20_000 }, () => nextCertificateSerial());
    expect(new Set(serials).size).to.equal(serials.length);
    for (let i = 1; i < serials.length; i++) expect(serials[i]! > serials[i - 1]!, `${serials[i - 1]} < ${serials[i]}`).to.equal(true);
    for (const serial of serials.slice(0, 100)) {
      expect(serial).to.match(/^[0-7][0-9a-f]{31}$/);
      expect(serial.startsWith('00')).to.equal(false);
    }
    // The random halves differ even within one millisecond.
    expect(new Set(serials.map((s) => s.slice(16))).size).to.equal(serials.length);
    // A clock that goes back does not break the order.
    const before = nextCertificateSerial(Date.now() + 60_000);
    expect(nextCertificateSerial(Date.now()) > before).to.equal(true);
  });

  it('migrates to the audit device-prefix index, the appraisal generation and the device certificate counter', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sphere-rig-daa-schema-'));
    try {
      const db = openDaaDatabase(dir);
      expect(db.pragma('user_version', { simple: true })).to.equal(DAA_SCHEMA_VERSION);
      const indexes = (table: string) => (db.prepare(`PRAGMA index_list(${table})`).all() as Array<{ name: string }>).map((i) => i.name);
      expect(indexes('audit')).to.include('audit_device_prefix').and.not.include('audit_device');
      // Step 4: the certificates have no device index at all (one random page less per attestation).
      expect(indexes('certificates').filter((name) => name.includes('device'))).to.deep.equal([]);
      const plan = db.prepare('EXPLAIN QUERY PLAN SELECT * FROM audit WHERE substr(device_id, 1, 16) = ? AND device_id = ? ORDER BY id DESC LIMIT 10').all('a', 'b') as Array<{ detail: string }>;
      expect(plan.map((p) => p.detail).join(' ')).to.include('audit_device_prefix').and.not.include('TEMP B-TREE');
      // A state folder at schema 1 (as shipped before), with a device that has two certificates, gets steps 2 to 4 on open.
      db.exec(`DROP INDEX audit_device_prefix; ALTER TABLE devices DROP COLUMN certificates_issued;
        CREATE INDEX audit_device ON audit(device_id); CREATE INDEX certificates_device ON certificates(device_id);
        DROP TABLE appraisal_generation;`);
      const device = 'ab'.repeat(64);
      db.pragma('foreign_keys = OFF');
      db.prepare("INSERT INTO devices (id, tenant_id, claimed_at) VALUES (?, 't', 1)").run(device);
      for (const serial of ['01', '02']) {
        db.prepare("INSERT INTO certificates (serial, device_id, tenant_id, authority_id, key_sha256, evidence_sha256, not_before, not_after, issued_at, der) VALUES (?, ?, 't', 1, ?, 'e', 1, 2, 1, x'00')").run(serial, device, serial);
      }
      db.prepare("INSERT INTO audit (at, device_id, verdict, reasons) VALUES (1, ?, 'refused', '[]')").run(device);
      db.pragma('user_version = 1');
      db.close();
      const migrated = openDaaDatabase(dir);
      expect(migrated.pragma('user_version', { simple: true })).to.equal(DAA_SCHEMA_VERSION);
      expect((migrated.prepare('PRAGMA index_list(audit)').all() as Array<{ name: string }>).map((i) => i.name)).to.include('audit_device_prefix');
      expect(migrated.prepare('SELECT COUNT(*) AS n FROM audit WHERE substr(device_id, 1, 16) = ? AND device_id = ?').get('ab'.repeat(8), device)).to.deep.equal({ n: 1 });
      // Step 3: the appraisal generation, one row, from 0.
      expect(migrated.prepare('SELECT value FROM appraisal_generation').all()).to.deep.equal([{ value: 0 }]);
      // Step 4: the counter starts from the certificates already issued.
      expect(migrated.prepare('SELECT certificates_issued AS n FROM devices WHERE id = ?').get(device)).to.deep.equal({ n: 2 });
      migrated.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a state folder whose database is from a newer sphere-rig or not SQLite, naming the folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sphere-rig-daa-schema-'));
    try {
      const db = openDaaDatabase(dir);
      db.pragma(`user_version = ${DAA_SCHEMA_VERSION + 1}`);
      db.close();
      expect(() => openDaaDatabase(dir))
        .to.throw(DaaError, `${dir}: the DAA database is at schema ${DAA_SCHEMA_VERSION + 1}; this sphere-rig knows up to ${DAA_SCHEMA_VERSION}`)
        .with.property('code', 'daa-state-too-new');
      rmSync(join(dir, DAA_DATABASE_FILE));
      rmSync(join(dir, `${DAA_DATABASE_FILE}-wal`), { force: true });
      rmSync(join(dir, `${DAA_DATABASE_FILE}-shm`), { force: true });
      writeFileSync(join(dir, DAA_DATABASE_FILE), Buffer.alloc(8192, 'junk bytes, not SQLite '));
      expect(() => openDaaDatabase(dir))
        .to.throw(DaaError, `${dir}: cannot open the DAA database (file is not a database)`)
        .with.property('code', 'daa-state-unreadable');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
