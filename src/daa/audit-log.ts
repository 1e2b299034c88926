import type Database from 'better-sqlite3';
import { devicePrefix } from './daa-schema.js';
import type { RefusalReason } from './refusal-reasons.js';

/** Every attestation the service appraised, accepted or refused, with its reasons. */
export interface AuditEntry {
  id: number;
  at: string;
  sessionId: string | null;
  deviceId: string | null;
  tenant: string | null;
  verdict: 'affirming' | 'refused';
  reasons: RefusalReason[];
  certificateSerial: string | null;
  evidenceSha256: string | null;
}

export interface AuditRecord {
  at: number;
  sessionId: string | null;
  deviceId: string | null;
  tenant: string | null;
  verdict: 'affirming' | 'refused';
  reasons: readonly RefusalReason[];
  certificateSerial?: string;
  evidenceSha256?: string;
}

export interface AuditFilter {
  deviceId?: string;
  tenant?: string;
  verdict?: 'affirming' | 'refused';
  /** Newest first; default 100, at most 10000. */
  limit?: number;
}

interface AuditRow {
  id: number;
  at: number;
  session_id: string | null;
  device_id: string | null;
  tenant_id: string | null;
  verdict: 'affirming' | 'refused';
  reasons: string;
  certificate_serial: string | null;
  evidence_sha256: string | null;
}

export class AuditLog {
  readonly #db: Database.Database;
  readonly #insert: Database.Statement;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#insert = db.prepare(
      'INSERT INTO audit (at, session_id, device_id, tenant_id, verdict, reasons, certificate_serial, evidence_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
  }

  record(entry: AuditRecord): void {
    this.#insert.run(
      entry.at,
      entry.sessionId?.slice(0, 100) ?? null,
      entry.deviceId,
      entry.tenant,
      entry.verdict,
      JSON.stringify(entry.reasons),
      entry.certificateSerial ?? null,
      entry.evidenceSha256 ?? null,
    );
  }

  query(filter: AuditFilter = {}): AuditEntry[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.deviceId) {
      const deviceId = filter.deviceId.toLowerCase();
      where.push('substr(device_id, 1, 16) = ? AND device_id = ?');
      params.push(devicePrefix(deviceId), deviceId);
    }
    if (filter.tenant) (where.push('tenant_id = ?'), params.push(filter.tenant));
    if (filter.verdict) (where.push('verdict = ?'), params.push(filter.verdict));
    const limit = Math.min(Math.max(1, filter.limit ?? 100), 10_000);
    const sql = `SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${limit}`;
    return (this.#db.prepare(sql).all(...params) as AuditRow[]).map((row) => ({
      id: row.id,
      at: new Date(row.at).toISOString(),
      sessionId: row.session_id,
      deviceId: row.device_id,
      tenant: row.tenant_id,
      verdict: row.verdict,
      reasons: JSON.parse(row.reasons) as RefusalReason[],
      certificateSerial: row.certificate_serial,
      evidenceSha256: row.evidence_sha256,
    }));
  }
}
