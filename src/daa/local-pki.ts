import { createPrivateKey, type KeyObject } from 'node:crypto';
import { createCa, type CertificateAuthority } from '../pki/certificate-authority.js';
import { Certificate } from '../pki/certificate.js';
import { exportPrivateKeyPem } from '../pki/signing-key.js';
import { createRevocationList, type RevocationList } from '../pki/revocation-list.js';
import { DaaError } from './daa-error.js';
import type { DeviceCertificateIssuer } from './device-certificate.js';
import { statementCache, type TrackedDatabase, type TrackedStatement } from './tracked-database.js';

/**
 * The local PKI of the DAA service: a root, an intermediate, and one CA per
 * tenant (root -> intermediate -> tenant CA -> device), all P-256, kept in the
 * `authorities` table. Tenant CAs rotate with overlap as the real service's do:
 * a successor is issued `overlapDays` before the active CA expires and becomes
 * Active when it does; both stay valid for relying parties until each expires.
 */
export type AuthorityStatus = 'Active' | 'Inactive' | 'Revoked';

export interface AuthorityRecord {
  id: number;
  kind: 'root' | 'intermediate' | 'tenant';
  tenantId: string | null;
  generation: number;
  status: AuthorityStatus;
  thumbprint: string;
  serialNumber: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  createdAt: Date;
  revokedAt: Date | null;
}

/** An authority with its certificate and key loaded (cached: neither ever changes). */
export interface LoadedAuthority {
  id: number;
  cert: Certificate;
  privateKey: KeyObject;
  issuer: DeviceCertificateIssuer;
}

export interface LocalPkiOptions {
  /**
   * A handle for the writes appraisal never reads (CRL numbers), so that they
   * do not move the appraisal generation (tracked-database.ts). Default: `db`.
   */
  counters?: TrackedDatabase;
  now: () => number;
  /** Lifetime of a tenant CA; default 730 days (two years). */
  tenantCaLifetimeDays: number;
  /** How long before expiry a successor tenant CA is issued; default 90 days. */
  tenantCaOverlapDays: number;
}

interface AuthorityRow {
  id: number;
  kind: AuthorityRecord['kind'];
  tenant_id: string | null;
  generation: number;
  status: AuthorityStatus;
  thumbprint: string;
  serial: string;
  subject: string;
  not_before: number;
  not_after: number;
  cert_der: Buffer;
  key_pem: string;
  created_at: number;
  revoked_at: number | null;
  crl_number: number;
}

const DAY_MS = 24 * 3600 * 1000;
const ORGANISATION = 'sphere-rig local DAA';
const ROOT_DAYS = 20 * 365;
const INTERMEDIATE_DAYS = 10 * 365;
const CRL_DAYS = 7;

export class LocalPki {
  readonly #db: TrackedDatabase;
  readonly #sql: (sql: string) => TrackedStatement;
  readonly #counters: (sql: string) => TrackedStatement;
  readonly #options: LocalPkiOptions;
  readonly #loaded = new Map<number, LoadedAuthority>();

  constructor(db: TrackedDatabase, options: LocalPkiOptions) {
    this.#db = db;
    this.#sql = statementCache(db);
    this.#counters = statementCache(options.counters ?? db);
    this.#options = options;
  }

  /** Creates the root and the intermediate on first use. */
  async ensureHierarchy(): Promise<void> {
    if (this.#row('root')) return;
    const now = new Date(this.#options.now());
    const root = await createCa({ subject: { CN: 'sphere-rig local DAA root', O: ORGANISATION }, notBefore: now, days: ROOT_DAYS, pathLength: 2 });
    const intermediate = await createCa({
      subject: { CN: 'sphere-rig local DAA intermediate', O: ORGANISATION },
      parent: root,
      notBefore: now,
      days: INTERMEDIATE_DAYS,
      pathLength: 1,
    });
    this.#db.transaction(() => {
      if (this.#row('root')) return; // another process won the race
      this.#insert('root', null, 1, 'Active', root);
      this.#insert('intermediate', null, 1, 'Active', intermediate);
    })();
  }

  root(): LoadedAuthority {
    return this.load(this.#requireRow('root').id);
  }

  intermediate(): LoadedAuthority {
    return this.load(this.#requireRow('intermediate').id);
  }

  /** A new CA for a tenant: Active when the tenant has none active, else Inactive (a successor). */
  async createTenantCa(tenantId: string): Promise<AuthorityRecord> {
    const intermediate = this.intermediate();
    const generation = ((this.#sql('SELECT MAX(generation) AS g FROM authorities WHERE tenant_id = ?').get(tenantId) as { g: number | null }).g ?? 0) + 1;
    const ca = await createCa({
      subject: { CN: `sphere-rig tenant CA ${tenantId} #${generation}`, O: ORGANISATION },
      parent: { cert: intermediate.cert, privateKey: intermediate.privateKey },
      notBefore: new Date(this.#options.now()),
      days: this.#options.tenantCaLifetimeDays,
      pathLength: 0,
    });
    return this.#db.transaction(() => {
      const hasActive = this.tenantAuthorities(tenantId).some((a) => a.status === 'Active');
      const id = this.#insert('tenant', tenantId, generation, hasActive ? 'Inactive' : 'Active', ca);
      return this.#record(id);
    })();
  }

  /** Every CA the tenant has had, newest first. */
  tenantAuthorities(tenantId: string): AuthorityRecord[] {
    const rows = this.#sql('SELECT * FROM authorities WHERE tenant_id = ? ORDER BY generation DESC').all(tenantId) as AuthorityRow[];
    return rows.map(toRecord);
  }

  activeTenantAuthority(tenantId: string): AuthorityRecord | undefined {
    const row = this.#sql("SELECT * FROM authorities WHERE tenant_id = ? AND status = 'Active'").get(tenantId) as AuthorityRow | undefined;
    return row && toRecord(row);
  }

  authorityByThumbprint(thumbprint: string): AuthorityRecord | undefined {
    const row = this.#sql('SELECT * FROM authorities WHERE thumbprint = ?').get(thumbprint.toLowerCase()) as AuthorityRow | undefined;
    return row && toRecord(row);
  }

  authorityById(id: number): AuthorityRecord | undefined {
    const row = this.#sql('SELECT * FROM authorities WHERE id = ?').get(id) as AuthorityRow | undefined;
    return row && toRecord(row);
  }

  /** Certificate and key of an authority; parsed once. */
  load(id: number): LoadedAuthority {
    const cached = this.#loaded.get(id);
    if (cached) return cached;
    const row = this.#sql('SELECT * FROM authorities WHERE id = ?').get(id) as AuthorityRow | undefined;
    if (!row) throw new DaaError('authority-not-found', 404, `no authority #${id}`);
    const cert = Certificate.fromDer(row.cert_der, `authority ${row.subject}`);
    const privateKey = createPrivateKey(row.key_pem);
    const keyIdentifier = cert.subjectKeyIdentifier;
    if (!keyIdentifier) throw new DaaError('authority-malformed', 500, `${row.subject} has no subject key identifier`);
    const loaded: LoadedAuthority = {
      id,
      cert,
      privateKey,
      issuer: { subjectNameDer: Buffer.from(cert.toX509().subjectName.toArrayBuffer()), keyIdentifier: Buffer.from(keyIdentifier, 'hex'), privateKey },
    };
    this.#loaded.set(id, loaded);
    return loaded;
  }

  /** The tenant CA (active unless `thumbprint` names another), the intermediate and the root. */
  tenantChain(tenantId: string, thumbprint?: string): Certificate[] {
    const authority = this.#tenantAuthority(tenantId, thumbprint);
    return [this.load(authority.id).cert, this.intermediate().cert, this.root().cert];
  }

  /**
   * Rotation: issue a successor when the active CA is within the overlap of its
   * expiry; make the successor Active once the active CA has expired.
   */
  async maintainTenant(tenantId: string): Promise<void> {
    const now = this.#options.now();
    const authorities = this.tenantAuthorities(tenantId);
    const active = authorities.find((a) => a.status === 'Active');
    if (!active) return;
    let successor = authorities.find((a) => a.generation > active.generation && a.status === 'Inactive' && a.notAfter.getTime() > now);
    if (!successor && active.notAfter.getTime() - now <= this.#options.tenantCaOverlapDays * DAY_MS) {
      successor = await this.createTenantCa(tenantId);
    }
    if (successor && now >= active.notAfter.getTime()) this.#activate(tenantId, successor.id);
  }

  /** Issues a successor now (unless one is pending) and, with `activate`, makes it the Active CA. */
  async rotateTenant(tenantId: string, activate: boolean): Promise<AuthorityRecord> {
    const authorities = this.tenantAuthorities(tenantId);
    const active = authorities.find((a) => a.status === 'Active');
    const pending = authorities.find((a) => a.status === 'Inactive' && (!active || a.generation > active.generation) && a.notAfter.getTime() > this.#options.now());
    const successor = pending ?? (await this.createTenantCa(tenantId));
    if (activate) this.#activate(tenantId, successor.id);
    return this.#record(successor.id);
  }

  /** Revoked is final; Active makes every other CA of the tenant Inactive. */
  setTenantAuthorityStatus(tenantId: string, thumbprint: string, status: AuthorityStatus): AuthorityRecord {
    const authority = this.#tenantAuthority(tenantId, thumbprint);
    if (authority.status === status) return authority;
    if (authority.status === 'Revoked') throw new DaaError('authority-revoked', 409, `tenant CA ${thumbprint} is revoked; that is final`);
    if (status === 'Active') this.#activate(tenantId, authority.id);
    else {
      const revokedAt = status === 'Revoked' ? this.#options.now() : null;
      this.#sql('UPDATE authorities SET status = ?, revoked_at = ? WHERE id = ?').run(status, revokedAt, authority.id);
    }
    return this.#record(authority.id);
  }

  /** The CRL of one tenant CA (default the active one): the certificates it issued that are revoked. */
  async tenantCrl(tenantId: string, thumbprint?: string): Promise<RevocationList> {
    const authority = this.#tenantAuthority(tenantId, thumbprint);
    const revoked = this.#db
      .prepare('SELECT serial, revoked_at FROM certificates WHERE authority_id = ? AND revoked_at IS NOT NULL')
      .all(authority.id) as Array<{ serial: string; revoked_at: number }>;
    return this.#crl(authority.id, revoked.map((r) => ({ serialNumber: r.serial, revocationDate: new Date(r.revoked_at) })));
  }

  /** The intermediate's CRL: the tenant CAs that are revoked. */
  async intermediateCrl(): Promise<RevocationList> {
    const revoked = this.#db
      .prepare("SELECT serial, revoked_at FROM authorities WHERE kind = 'tenant' AND status = 'Revoked'")
      .all() as Array<{ serial: string; revoked_at: number | null }>;
    return this.#crl(this.intermediate().id, revoked.map((r) => ({ serialNumber: r.serial, revocationDate: new Date(r.revoked_at ?? this.#options.now()) })));
  }

  async #crl(authorityId: number, revoked: Array<{ serialNumber: string; revocationDate: Date }>): Promise<RevocationList> {
    const number = this.#db.transaction(() => {
      this.#counters('UPDATE authorities SET crl_number = crl_number + 1 WHERE id = ?').run(authorityId);
      return (this.#sql('SELECT crl_number FROM authorities WHERE id = ?').get(authorityId) as { crl_number: number }).crl_number;
    })();
    const issuer = this.load(authorityId);
    return createRevocationList({ issuer, revoked, thisUpdate: new Date(this.#options.now()), days: CRL_DAYS, crlNumber: number });
  }

  #activate(tenantId: string, id: number): void {
    this.#db.transaction(() => {
      this.#sql("UPDATE authorities SET status = 'Inactive' WHERE tenant_id = ? AND status = 'Active'").run(tenantId);
      this.#sql("UPDATE authorities SET status = 'Active' WHERE id = ?").run(id);
    })();
  }

  #tenantAuthority(tenantId: string, thumbprint?: string): AuthorityRecord {
    if (thumbprint === undefined) {
      const active = this.activeTenantAuthority(tenantId) ?? this.tenantAuthorities(tenantId)[0];
      if (!active) throw new DaaError('authority-not-found', 404, `tenant ${tenantId} has no CA`);
      return active;
    }
    const authority = this.authorityByThumbprint(thumbprint);
    if (!authority || authority.tenantId !== tenantId) throw new DaaError('authority-not-found', 404, `tenant ${tenantId} has no CA with thumbprint ${thumbprint}`);
    return authority;
  }

  #row(kind: 'root' | 'intermediate'): AuthorityRow | undefined {
    return this.#sql('SELECT * FROM authorities WHERE kind = ?').get(kind) as AuthorityRow | undefined;
  }

  #requireRow(kind: 'root' | 'intermediate'): AuthorityRow {
    const row = this.#row(kind);
    if (!row) throw new DaaError('pki-missing', 500, `the local DAA ${kind} CA is missing`);
    return row;
  }

  #record(id: number): AuthorityRecord {
    const record = this.authorityById(id);
    if (!record) throw new DaaError('authority-not-found', 404, `no authority #${id}`);
    return record;
  }

  #insert(kind: AuthorityRecord['kind'], tenantId: string | null, generation: number, status: AuthorityStatus, ca: CertificateAuthority): number {
    const result = this.#db
      .prepare(
        `INSERT INTO authorities (kind, tenant_id, generation, status, thumbprint, serial, subject, not_before, not_after, cert_der, key_pem, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        kind,
        tenantId,
        generation,
        status,
        ca.cert.thumbprintHex,
        ca.cert.serialNumber,
        ca.cert.subject,
        ca.cert.notBefore.getTime(),
        ca.cert.notAfter.getTime(),
        ca.cert.der,
        exportPrivateKeyPem(ca.privateKey),
        this.#options.now(),
      );
    return Number(result.lastInsertRowid);
  }
}

function toRecord(row: AuthorityRow): AuthorityRecord {
  return {
    id: row.id,
    kind: row.kind,
    tenantId: row.tenant_id,
    generation: row.generation,
    status: row.status,
    thumbprint: row.thumbprint,
    serialNumber: row.serial,
    subject: row.subject,
    notBefore: new Date(row.not_before),
    notAfter: new Date(row.not_after),
    createdAt: new Date(row.created_at),
    revokedAt: row.revoked_at === null ? null : new Date(row.revoked_at),
  };
}
