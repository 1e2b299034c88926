import type Database from 'better-sqlite3';
import { encodePkcs7ChainPem } from '../pki/pkcs7-chain.js';
import { AppraisalCache } from './appraisal-cache.js';
import { AuditLog, type AuditEntry, type AuditFilter } from './audit-log.js';
import type { AttestationWrite, AttestationWriteResult } from './attestation-records.js';
import { openAttestationStore, type AttestationStore } from './attestation-store.js';
import { AttestationVerifier, type EvidenceBody } from './attestation-verifier.js';
import { openDaaDatabase } from './daa-schema.js';
import { GroupCommit } from './group-commit.js';
import { LocalPki, type AuthorityRecord, type AuthorityStatus } from './local-pki.js';
import type { AttestationResult, SessionGrant, SessionRequest } from './protocol.js';
import type { ReferenceValues } from './reference-values.js';
import { checkPresentedChain, type RelyingPartyRequest, type RelyingPartyVerdict } from './relying-party.js';
import { TenantRegistry, normaliseDeviceId, type DevelopmentModePolicy, type DeviceRecord, type TenantRecord } from './tenant-registry.js';
import { trackWrites } from './tracked-database.js';

/**
 * The local DAA service: tenants and their CAs, device claims and revocation,
 * reference values and policy, the attestation sessions, the relying-party check
 * and the audit log, over one SQLite file in a state folder. The HTTP router
 * (http/daa-router.ts) and the CLI's direct mode both drive this class.
 */
export interface DaaServiceOptions {
  /** Folder of `daa.sqlite`, or `:memory:`. */
  stateDir: string;
  /** Service clock (ms since the epoch); default Date.now. */
  now?: () => number;
  /** Lifetime of device certificates; default 24 h. */
  certificateLifetimeMs?: number;
  /** How long a session's nonce may be answered; default 60 s. */
  sessionTtlMs?: number;
  tenantCaLifetimeDays?: number;
  tenantCaOverlapDays?: number;
  /**
   * Group commit of attestation outcomes (group-commit.ts): how long the first
   * of a batch waits for others, ms (default 1; 0: until setImmediate), and the
   * most per batch (default 32; the storage thread commits one batch while the
   * next fills). Results are answered after their commit.
   */
  commitDelayMs?: number;
  commitMaxItems?: number;
}

export interface TenantInfo {
  id: string;
  name: string;
  developmentMode: DevelopmentModePolicy;
  hasReferenceValues: boolean;
  devices: number;
  activeCa: { thumbprint: string; notAfter: string } | null;
  createdAt: string;
}

export interface DeviceInfo {
  deviceId: string;
  tenant: string;
  claimedAt: string;
  revoked: boolean;
  revokedAt: string | null;
  revokeReason: string | null;
  lastBootCount: number | null;
  lastAttestedAt: string | null;
  certificates: number;
}

/** A tenant CA as the real service lists them: thumbprint, status, active and revoked flags. */
export interface TenantCaEntry {
  thumbprint: string;
  subject: string;
  generation: number;
  status: AuthorityStatus;
  active: boolean;
  revoked: boolean;
  notBefore: string;
  notAfter: string;
}

export const DEFAULT_CERTIFICATE_LIFETIME_MS = 24 * 3600 * 1000;
export const DEFAULT_SESSION_TTL_MS = 60_000;
export const DEFAULT_COMMIT_DELAY_MS = 1;
export const DEFAULT_COMMIT_MAX_ITEMS = 32;

export class DaaService {
  readonly #db: Database.Database;
  readonly #now: () => number;
  #closing: Promise<void> | undefined;
  readonly #store: AttestationStore;
  readonly #commits: GroupCommit<AttestationWrite, AttestationWriteResult>;
  readonly pki: LocalPki;
  readonly registry: TenantRegistry;
  readonly auditLog: AuditLog;
  readonly verifier: AttestationVerifier;

  private constructor(db: Database.Database, store: AttestationStore, options: DaaServiceOptions) {
    this.#db = db;
    this.#store = store;
    this.#now = options.now ?? Date.now;
    // The registry and the PKI write through a tracked handle, so that the appraisal cache knows.
    let cache: AppraisalCache | undefined;
    const tracked = trackWrites(db, () => cache?.invalidate());
    this.pki = new LocalPki(tracked, {
      counters: db,
      now: this.#now,
      tenantCaLifetimeDays: options.tenantCaLifetimeDays ?? 730,
      tenantCaOverlapDays: options.tenantCaOverlapDays ?? 90,
    });
    this.registry = new TenantRegistry(tracked, this.#now);
    cache = new AppraisalCache(db, this.registry, this.pki);
    this.auditLog = new AuditLog(db);
    this.#commits = new GroupCommit({
      maxDelayMs: options.commitDelayMs ?? DEFAULT_COMMIT_DELAY_MS,
      maxItems: options.commitMaxItems ?? DEFAULT_COMMIT_MAX_ITEMS,
      commit: store.commit,
    });
    this.verifier = new AttestationVerifier(this.#commits, cache, this.pki, {
      now: this.#now,
      sessionTtlMs: options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS,
      certificateLifetimeMs: options.certificateLifetimeMs ?? DEFAULT_CERTIFICATE_LIFETIME_MS,
    });
  }

  /** Opens (creating) the state; creates the root and intermediate CAs on first use and rotates tenant CAs that are due. */
  static async open(options: DaaServiceOptions): Promise<DaaService> {
    const db = openDaaDatabase(options.stateDir);
    let store: AttestationStore;
    try {
      store = await openAttestationStore(options.stateDir, db);
    } catch (error) {
      db.close();
      throw error;
    }
    const service = new DaaService(db, store, options);
    try {
      await service.pki.ensureHierarchy();
      await service.maintainTenantCas();
    } catch (error) {
      await service.close();
      throw error;
    }
    return service;
  }

  /** Commits the attestations still batched (their answers follow), stops the storage thread, then closes the database. */
  async close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closing = (async () => {
      try {
        // Attestations still being appraised reach the commit queue first: their answers follow too.
        await this.verifier.appraised();
        await this.#commits.close();
      } finally {
        await this.#store.close();
        this.#db.close();
      }
    })();
    return this.#closing;
  }

  /** Group commits done so far (the bench reports attestations per commit). */
  get commitBatches(): number {
    return this.#commits.batches;
  }

  // ---- tenants -----------------------------------------------------------------------

  async createTenant(params: { name: string; id?: string; developmentMode?: DevelopmentModePolicy }): Promise<TenantInfo> {
    const tenant = this.registry.insertTenant(params);
    await this.pki.createTenantCa(tenant.id);
    return this.tenantInfo(tenant);
  }

  listTenants(): TenantInfo[] {
    return this.registry.tenants().map((tenant) => this.tenantInfo(tenant));
  }

  tenant(ref: string): TenantInfo {
    return this.tenantInfo(this.registry.tenant(ref));
  }

  setDevelopmentMode(ref: string, policy: DevelopmentModePolicy): TenantInfo {
    return this.tenantInfo(this.registry.setDevelopmentMode(ref, policy));
  }

  setReferenceValues(ref: string, document: unknown, source?: string): ReferenceValues {
    return this.registry.setReferenceValues(ref, document, source);
  }

  referenceValues(ref: string): ReferenceValues | null {
    return this.registry.tenant(ref).referenceValues;
  }

  // ---- devices -----------------------------------------------------------------------

  claimDevice(ref: string, deviceId: string): DeviceInfo {
    return this.deviceInfo(this.registry.claim(ref, deviceId));
  }

  revokeDevice(deviceId: string, reason?: string): DeviceInfo {
    return this.deviceInfo(this.registry.revoke(normaliseDeviceId(deviceId), reason));
  }

  device(deviceId: string): DeviceInfo {
    return this.deviceInfo(this.registry.device(normaliseDeviceId(deviceId)));
  }

  devices(ref: string): DeviceInfo[] {
    return this.registry.devices(ref).map((device) => this.deviceInfo(device));
  }

  // ---- the tenant CA and its downloads ------------------------------------------------

  /** Rotates every tenant's CA that is due (see LocalPki.maintainTenant). */
  async maintainTenantCas(): Promise<void> {
    for (const tenant of this.registry.tenants()) await this.pki.maintainTenant(tenant.id);
  }

  tenantCaList(ref: string): TenantCaEntry[] {
    return this.pki.tenantAuthorities(this.registry.tenant(ref).id).map(caEntry);
  }

  /** The tenant CA certificate (PEM): the active one unless `thumbprint` names another. */
  tenantCaPem(ref: string, thumbprint?: string): string {
    return this.pki.tenantChain(this.registry.tenant(ref).id, thumbprint)[0]!.toPem();
  }

  /** The tenant CA, the intermediate and the root as a PKCS#7 bundle (PEM). */
  tenantChainPkcs7(ref: string, thumbprint?: string): string {
    return encodePkcs7ChainPem(this.pki.tenantChain(this.registry.tenant(ref).id, thumbprint));
  }

  async tenantCrlPem(ref: string, thumbprint?: string): Promise<string> {
    return (await this.pki.tenantCrl(this.registry.tenant(ref).id, thumbprint)).toPem();
  }

  async intermediateCrlPem(): Promise<string> {
    return (await this.pki.intermediateCrl()).toPem();
  }

  rootPem(): string {
    return this.pki.root().cert.toPem();
  }

  async rotateTenantCa(ref: string, activate: boolean): Promise<TenantCaEntry> {
    return caEntry(await this.pki.rotateTenant(this.registry.tenant(ref).id, activate));
  }

  setTenantCaStatus(ref: string, thumbprint: string, status: AuthorityStatus): TenantCaEntry {
    return caEntry(this.pki.setTenantAuthorityStatus(this.registry.tenant(ref).id, thumbprint.toLowerCase(), status));
  }

  // ---- attestation -------------------------------------------------------------------

  createSession(request: SessionRequest = {}): SessionGrant {
    return this.verifier.createSession(request);
  }

  /** Resolves once the outcome is committed (see AttestationVerifier). */
  submitEvidence(sessionId: string, body: EvidenceBody): Promise<AttestationResult> {
    return this.verifier.submitEvidence(sessionId, body);
  }

  /** The relying-party check of a presented chain. */
  verifyPresentedChain(request: RelyingPartyRequest): RelyingPartyVerdict {
    return checkPresentedChain(request, {
      anchors: () => [this.pki.root().cert],
      intermediates: () => [
        this.pki.intermediate().cert,
        ...this.registry.tenants().flatMap((t) => this.pki.tenantAuthorities(t.id).map((a) => this.pki.load(a.id).cert)),
      ],
      authorityByThumbprint: (thumbprint) => this.pki.authorityByThumbprint(thumbprint),
      certificateRevoked: (serial) =>
        (this.#db.prepare('SELECT revoked_at FROM certificates WHERE serial = ?').get(serial) as { revoked_at: number | null } | undefined)?.revoked_at != null,
      findDevice: (deviceId) => this.registry.findDevice(deviceId),
    });
  }

  audit(filter: AuditFilter = {}): AuditEntry[] {
    const tenant = filter.tenant ? this.registry.tenant(filter.tenant).id : undefined;
    return this.auditLog.query({ ...filter, ...(tenant ? { tenant } : {}) });
  }

  // ---- views -------------------------------------------------------------------------

  private tenantInfo(tenant: TenantRecord): TenantInfo {
    const active = this.pki.activeTenantAuthority(tenant.id);
    const devices = (this.#db.prepare('SELECT COUNT(*) AS n FROM devices WHERE tenant_id = ?').get(tenant.id) as { n: number }).n;
    return {
      id: tenant.id,
      name: tenant.name,
      developmentMode: tenant.developmentMode,
      hasReferenceValues: tenant.referenceValues !== null,
      devices,
      activeCa: active ? { thumbprint: active.thumbprint, notAfter: active.notAfter.toISOString() } : null,
      createdAt: tenant.createdAt.toISOString(),
    };
  }

  private deviceInfo(device: DeviceRecord): DeviceInfo {
    return {
      deviceId: device.deviceId,
      tenant: device.tenantId,
      claimedAt: device.claimedAt.toISOString(),
      revoked: device.revokedAt !== null,
      revokedAt: device.revokedAt?.toISOString() ?? null,
      revokeReason: device.revokeReason,
      lastBootCount: device.lastBootCount,
      lastAttestedAt: device.lastAttestedAt?.toISOString() ?? null,
      certificates: device.certificatesIssued,
    };
  }
}

function caEntry(authority: AuthorityRecord): TenantCaEntry {
  return {
    thumbprint: authority.thumbprint,
    subject: authority.subject,
    generation: authority.generation,
    status: authority.status,
    active: authority.status === 'Active',
    revoked: authority.status === 'Revoked',
    notBefore: authority.notBefore.toISOString(),
    notAfter: authority.notAfter.toISOString(),
  };
}

