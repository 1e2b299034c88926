import type Database from 'better-sqlite3';
import { AuditLog, type AuditRecord } from './audit-log.js';
import { refusal, type RefusalReason } from './refusal-reasons.js';

/**
 * What an attestation's outcome writes, applied inside a batch's savepoint on
 * the connection that commits (the storage thread's, or the service's own for
 * an in-memory database): plain data, so that it can cross to another thread.
 *
 * An affirmation inserts the certificate, whose key's UNIQUE constraint holds
 * against every certificate committed before, by this process or another, and
 * updates the device row only if the device is still not revoked and no higher
 * boot count was recorded. The appraisal cannot know either for sure (the
 * batch window, other processes), so a failure here is not an error but a late
 * refusal: what was written is taken back and the refusal is recorded in the
 * same commit instead. Nothing is issued.
 */
export interface AffirmationRecord {
  now: number;
  sessionId: string;
  deviceId: string;
  tenantId: string;
  authorityId: number;
  bootCount: number;
  keySha256: string;
  evidenceSha256: string;
  certificate: { serialNumber: string; der: Uint8Array; notBefore: number; notAfter: number };
}

export type AttestationWrite = { kind: 'affirmation'; record: AffirmationRecord } | { kind: 'refusal'; entry: AuditRecord };

/** What the write came to: recorded as asked, or refused at commit for these reasons (also recorded). */
export type AttestationWriteResult = { recorded: true } | { recorded: false; reasons: RefusalReason[] };

export class AttestationRecords {
  readonly #audit: AuditLog;
  readonly #statements: Record<'insertCertificate' | 'deviceAttested' | 'deleteCertificate' | 'device', Database.Statement>;

  constructor(db: Database.Database) {
    this.#audit = new AuditLog(db);
    this.#statements = {
      insertCertificate: db.prepare(
        `INSERT INTO certificates (serial, device_id, tenant_id, authority_id, key_sha256, evidence_sha256, not_before, not_after, issued_at, der)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      deviceAttested: db.prepare(
        'UPDATE devices SET last_boot_count = ?, last_attested_at = ?, certificates_issued = certificates_issued + 1 WHERE id = ? AND revoked_at IS NULL AND (last_boot_count IS NULL OR last_boot_count <= ?)',
      ),
      deleteCertificate: db.prepare('DELETE FROM certificates WHERE serial = ?'),
      device: db.prepare('SELECT revoked_at, last_boot_count FROM devices WHERE id = ?'),
    };
  }

  write(item: AttestationWrite): AttestationWriteResult {
    if (item.kind === 'refusal') {
      this.#audit.record(item.entry);
      return { recorded: true };
    }
    const r = item.record;
    const { certificate } = r;
    let reason: RefusalReason | undefined;
    // The certificate first: a key certified before fails its UNIQUE constraint, and a failed statement writes nothing.
    try {
      this.#statements.insertCertificate.run(certificate.serialNumber, r.deviceId, r.tenantId, r.authorityId, r.keySha256, r.evidenceSha256, certificate.notBefore, certificate.notAfter, r.now, asBuffer(certificate.der));
    } catch (error) {
      if (!keyTaken(error)) throw error;
      reason = refusal('certificate-key-reused', 'the key already has a certificate');
    }
    if (!reason && this.#statements.deviceAttested.run(r.bootCount, r.now, r.deviceId, r.bootCount).changes === 0) {
      // The device row no longer takes it: take the certificate back (any other failure undoes the item's savepoint).
      this.#statements.deleteCertificate.run(certificate.serialNumber);
      reason = this.#deviceRowRefusal(r.deviceId);
    }
    if (reason) {
      this.#audit.record({ at: r.now, sessionId: r.sessionId, deviceId: r.deviceId, tenant: r.tenantId, verdict: 'refused', reasons: [reason], evidenceSha256: r.evidenceSha256 });
      return { recorded: false, reasons: [reason] };
    }
    this.#audit.record({ at: r.now, sessionId: r.sessionId, deviceId: r.deviceId, tenant: r.tenantId, verdict: 'affirming', reasons: [], certificateSerial: certificate.serialNumber, evidenceSha256: r.evidenceSha256 });
    return { recorded: true };
  }

  /** Why the device row refused an attestation at commit: what changed since its appraisal. */
  #deviceRowRefusal(deviceId: string): RefusalReason {
    const row = this.#statements.device.get(deviceId) as { revoked_at: number | null; last_boot_count: number | null } | undefined;
    if (!row || row.revoked_at !== null) return refusal('device-revoked', 'the device was revoked while its attestation was being recorded');
    return refusal('bootcount-regressed', `a boot count of ${row.last_boot_count ?? 0} was recorded while this attestation was being recorded`);
  }
}

function keyTaken(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === 'SQLITE_CONSTRAINT_UNIQUE' && typeof message === 'string' && message.includes('key_sha256');
}

/** A DER that crossed a thread boundary arrives as a plain Uint8Array; SQLite binds Buffers as BLOBs. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
