import { AuditLog, type AuditRecord } from './audit-log.js';
import { refusal, type RefusalReason } from './refusal-reasons.js';
import type { SqliteDatabase, SqliteStatement } from './sqlite-database.js';

/**
 * What an attestation's outcome writes, applied inside a batch's savepoint on
 * the connection that commits (the storage thread's, or the service's own for
 * an in-memory database): plain data, so that it can cross to another thread.
 *
 * An affirmation updates the device row only if the device is still not
 * revoked and no higher boot count was recorded, and inserts the certificate,
 * whose key's UNIQUE constraint holds against every certificate committed
 * before, by this process or another. The appraisal cannot know either for
 * sure (the batch window, other processes), so a failure here is not an error
 * but a late refusal: the savepoint is undone and the refusal is recorded in
 * the same commit instead. Nothing is issued.
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
  readonly #statements: Record<'insertCertificate' | 'deviceAttested' | 'device', SqliteStatement>;
  readonly #recordAffirmation: (record: AffirmationRecord) => void;

  constructor(db: SqliteDatabase) {
    this.#audit = new AuditLog(db);
    const statements = (this.#statements = {
      insertCertificate: db.prepare(
        `INSERT INTO certificates (serial, device_id, tenant_id, authority_id, key_sha256, evidence_sha256, not_before, not_after, issued_at, der)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      deviceAttested: db.prepare(
        'UPDATE devices SET last_boot_count = ?, last_attested_at = ? WHERE id = ? AND revoked_at IS NULL AND (last_boot_count IS NULL OR last_boot_count <= ?)',
      ),
      device: db.prepare('SELECT revoked_at, last_boot_count FROM devices WHERE id = ?'),
    });
    // A savepoint of its own, inside the item's: a late refusal undoes these writes and keeps its audit entry.
    this.#recordAffirmation = db.transaction((r: AffirmationRecord) => {
      if (statements.deviceAttested.run(r.bootCount, r.now, r.deviceId, r.bootCount).changes === 0) throw new LateRefusal(this.#deviceRowRefusal(r.deviceId));
      const { certificate } = r;
      statements.insertCertificate.run(certificate.serialNumber, r.deviceId, r.tenantId, r.authorityId, r.keySha256, r.evidenceSha256, certificate.notBefore, certificate.notAfter, r.now, asBuffer(certificate.der));
      this.#audit.record({ at: r.now, sessionId: r.sessionId, deviceId: r.deviceId, tenant: r.tenantId, verdict: 'affirming', reasons: [], certificateSerial: certificate.serialNumber, evidenceSha256: r.evidenceSha256 });
    });
  }

  write(item: AttestationWrite): AttestationWriteResult {
    if (item.kind === 'refusal') {
      this.#audit.record(item.entry);
      return { recorded: true };
    }
    const r = item.record;
    try {
      this.#recordAffirmation(r);
      return { recorded: true };
    } catch (error) {
      const reason = error instanceof LateRefusal ? error.reason : keyTaken(error) ? refusal('certificate-key-reused', 'the key already has a certificate') : undefined;
      if (!reason) throw error;
      this.#audit.record({ at: r.now, sessionId: r.sessionId, deviceId: r.deviceId, tenant: r.tenantId, verdict: 'refused', reasons: [reason], evidenceSha256: r.evidenceSha256 });
      return { recorded: false, reasons: [reason] };
    }
  }

  /** Why the device row refused an attestation at commit: what changed since its appraisal. */
  #deviceRowRefusal(deviceId: string): RefusalReason {
    const row = this.#statements.device.get(deviceId) as { revoked_at: number | null; last_boot_count: number | null } | undefined;
    if (!row || row.revoked_at !== null) return refusal('device-revoked', 'the device was revoked while its attestation was being recorded');
    return refusal('bootcount-regressed', `a boot count of ${row.last_boot_count ?? 0} was recorded while this attestation was being recorded`);
  }
}

/** The device row no longer takes the attestation. */
class LateRefusal extends Error {
  constructor(readonly reason: RefusalReason) {
    super(reason.code);
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
