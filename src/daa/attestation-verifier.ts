import { randomUUID, timingSafeEqual } from 'node:crypto';
import { toCertificateBundlePem } from '../pki/certificate.js';
import type { AppraisalCache } from './appraisal-cache.js';
import type { AttestationWrite, AttestationWriteResult, AffirmationRecord } from './attestation-records.js';
import { checkBoundKey } from './bound-key.js';
import { DaaError } from './daa-error.js';
import { issueDeviceCertificate } from './device-certificate.js';
import { checkEvidenceToken } from './evidence-token.js';
import type { GroupCommit } from './group-commit.js';
import type { AuditRecord } from './audit-log.js';
import type { LocalPki } from './local-pki.js';
import { appraiseMeasurements } from './measurement-appraisal.js';
import { PendingAttestations } from './pending-attestations.js';
import { pooledRandomBytes } from './random-pool.js';
import { DBGSTAT_ENABLED, NONCE_BYTES, type AffirmingResult, type AttestationResult, type SessionGrant, type SessionRequest } from './protocol.js';
import { refusal, type RefusalReason } from './refusal-reasons.js';
import { normaliseDeviceId } from './tenant-registry.js';

/**
 * The Verifier's challenge/response flow (after Veraison's session API): a
 * session hands out a fresh nonce; evidence sent to it is appraised once; an
 * affirming result carries a certificate for the key bound in the evidence.
 *
 * Submitting consumes the session whatever the outcome; a refusal changes
 * nothing else (besides its audit entry). The evidence signature is checked and
 * the certificate signed on libuv's threadpool, so attestations sent together
 * may be appraised in either order; everything between those two steps runs in
 * one event-loop turn. The writes (certificate, device, audit) join a group commit, made by the
 * attestation store (on its own thread for a state folder), and the result is
 * answered once that batch has committed: nothing answered can be lost, and a
 * refusal answered is in the audit log. Until then the attestation is pending:
 * the reused-key and boot-counter checks of the attestations appraised
 * meanwhile see it (PendingAttestations). At commit the device row is updated
 * only if the device is still not revoked and no higher boot count was
 * recorded, and the key's UNIQUE constraint holds against every certificate
 * committed before; either failing refuses the attestation after all
 * (attestation-records.ts): nothing issued. A key certified by an earlier
 * batch is caught there too, rather than by a read on every attestation here:
 * reuse is rare, and a signature wasted on it costs less than that read.
 *
 * Sessions live in memory, not in the database: they last a minute, and a
 * restart that forgets them only makes devices ask for a new one (a nonce can
 * never be answered twice either way). It spares two commits per attestation.
 */
export interface EvidenceBody {
  /** `json`: the parsed request body; the others: why there is none. */
  kind: 'json' | 'too-large' | 'malformed';
  value?: unknown;
  detail?: string;
}

export interface VerifierOptions {
  now: () => number;
  sessionTtlMs: number;
  certificateLifetimeMs: number;
}

interface Session {
  id: string;
  nonce: Buffer;
  deviceId: string | null;
  expiresAt: number;
  usedAt: number | null;
}

const MAX_EVIDENCE_CHARS = 48 * 1024;
const PRUNE_EVERY = 1024;
/** Sessions are kept this long after expiry so that a late submission is told "expired", not "unknown". */
const KEEP_EXPIRED_MS = 3600_000;

export class AttestationVerifier {
  readonly #pki: LocalPki;
  readonly #options: VerifierOptions;
  readonly #chainPem = new Map<number, string>();
  readonly #sessions = new Map<string, Session>();
  readonly #commits: GroupCommit<AttestationWrite, AttestationWriteResult>;
  readonly #cache: AppraisalCache;
  readonly #pending = new PendingAttestations();
  /** Attestations submitted and not yet queued for their commit (their crypto is on the threadpool). */
  readonly #appraising = new Set<Promise<void>>();
  #sessionsCreated = 0;

  constructor(commits: GroupCommit<AttestationWrite, AttestationWriteResult>, cache: AppraisalCache, pki: LocalPki, options: VerifierOptions) {
    this.#commits = commits;
    this.#cache = cache;
    this.#pki = pki;
    this.#options = options;
  }

  createSession(request: SessionRequest = {}): SessionGrant {
    const deviceId = request.deviceId === undefined ? null : normaliseDeviceId(request.deviceId);
    const now = this.#options.now();
    const id = randomUUID();
    const nonce = pooledRandomBytes(NONCE_BYTES);
    const expiresAt = now + this.#options.sessionTtlMs;
    if (++this.#sessionsCreated % PRUNE_EVERY === 0) this.#prune(now);
    this.#sessions.set(id, { id, nonce, deviceId, expiresAt, usedAt: null });
    this.#cache.refresh();
    const tenant = deviceId ? (this.#cache.device(deviceId)?.tenantId ?? null) : null;
    return { sessionId: id, nonce: nonce.toString('base64url'), expiresAt: new Date(expiresAt).toISOString(), tenant };
  }

  /** Appraises the evidence now; resolves once the outcome (certificate or refusal, and its audit entry) is committed. */
  submitEvidence(sessionId: string, body: EvidenceBody): Promise<AttestationResult> {
    const now = this.#options.now();
    this.#cache.refresh();
    const session = this.#sessions.get(sessionId);
    if (!session) return this.#refuse(now, null, null, null, [refusal('session-unknown', `no session '${sessionId.slice(0, 64)}'`)]);
    const consumed = session.usedAt === null;
    session.usedAt ??= now;
    const refuse = (reasons: RefusalReason[], deviceId = session.deviceId, tenant: string | null = null, evidence?: string) =>
      this.#refuse(now, session.id, deviceId, tenant, reasons, evidence);
    if (!consumed) return refuse([refusal('session-used')]);
    if (now >= session.expiresAt) return refuse([refusal('session-expired', `the session expired at ${new Date(session.expiresAt).toISOString()}`)]);
    if (body.kind === 'too-large') return refuse([refusal('body-too-large', body.detail)]);
    if (body.kind === 'malformed') return refuse([refusal('body-malformed', body.detail)]);
    const evidence = evidenceOf(body.value);
    if (typeof evidence !== 'string') return refuse([refusal('body-malformed', evidence.problem)]);
    const queued = this.#appraiseAndQueue(now, session, evidence);
    // Until it has reached its group commit (or failed), close() waits for it: see appraised().
    const reached = queued.then(
      () => undefined,
      () => undefined,
    );
    this.#appraising.add(reached);
    void reached.then(() => this.#appraising.delete(reached));
    return queued.then((outcome) => outcome.committed);
  }

  /** Resolves once every attestation submitted so far has been appraised and queued for its commit (see DaaService.close). */
  async appraised(): Promise<void> {
    while (this.#appraising.size > 0) await Promise.all(this.#appraising);
  }

  /**
   * Appraisal proper. The signature check and the certificate's signature run
   * on the threadpool; everything between them runs in one turn. Resolves once
   * the outcome is queued for its group commit, with the promise of that commit
   * (wrapped, so that the two moments stay apart).
   */
  async #appraiseAndQueue(now: number, session: Session, evidence: string): Promise<{ committed: Promise<AttestationResult> }> {
    const refuse = (reasons: RefusalReason[], deviceId: string | null = session.deviceId, tenant: string | null = null, evidenceSha256?: string) => ({
      committed: this.#refuse(now, session.id, deviceId, tenant, reasons, evidenceSha256),
    });
    const token = await checkEvidenceToken(evidence);
    // A later turn than the submission's: what appraisal reads may have changed meanwhile.
    this.#cache.refresh();
    if (!token.ok) return refuse([token.reason]);
    const { claims } = token;
    const evidenceSha256 = token.sha256.toString('hex');
    const deviceId = claims.ueid;
    if (!timingSafeEqual(token.nonce, session.nonce)) return refuse([refusal('nonce-mismatch')], deviceId, null, evidenceSha256);
    if (session.deviceId !== null && session.deviceId !== deviceId) {
      return refuse([refusal('device-mismatch', `the session is for device ${session.deviceId.slice(0, 16)}..., the evidence for ${deviceId.slice(0, 16)}...`)], deviceId, null, evidenceSha256);
    }
    const device = this.#cache.device(deviceId);
    if (!device) return refuse([refusal('device-unclaimed')], deviceId, null, evidenceSha256);

    const reasons: RefusalReason[] = [];
    const tenant = this.#cache.tenant(device.tenantId);
    if (claims.tenant !== tenant.id) reasons.push(refusal('tenant-mismatch', `the evidence names tenant '${claims.tenant.slice(0, 64)}'; the device is claimed to ${tenant.id}`));
    if (device.revokedAt) reasons.push(refusal('device-revoked', `revoked ${device.revokedAt.toISOString()}${device.revokeReason ? `: ${device.revokeReason}` : ''}`));
    const authority = this.#cache.activeAuthority(tenant.id);
    if (!authority || authority.notAfter.getTime() <= now) {
      const latest = this.#pki.tenantAuthorities(tenant.id)[0];
      reasons.push(latest?.status === 'Revoked' ? refusal('tenant-ca-revoked') : refusal('tenant-ca-inactive', authority ? 'the active tenant CA has expired' : undefined));
    }
    const lastBootCount = this.#pending.bootCount(deviceId) ?? device.lastBootCount;
    if (lastBootCount !== null && claims.bootcount < lastBootCount) {
      reasons.push(refusal('bootcount-regressed', `bootcount ${claims.bootcount} is below ${lastBootCount}, seen at the last attestation`));
    }
    if (!claims.oemboot) reasons.push(refusal('secure-boot-failed'));
    if (!tenant.referenceValues) reasons.push(refusal('reference-values-missing', `tenant ${tenant.name} has no reference values; set them with \`sphere-rig daa reference set\``));
    else reasons.push(...appraiseMeasurements(claims.measurements, tenant.referenceValues));
    if (claims.dbgstat === DBGSTAT_ENABLED && tenant.developmentMode === 'forbid') reasons.push(refusal('development-mode-forbidden'));
    const key = checkBoundKey(claims.cnf.jwk, deviceId);
    if (!key.ok) reasons.push(key.reason);
    else if (this.#pending.keyPending(key.sha256)) reasons.push(refusal('certificate-key-reused'));
    if (reasons.length || !authority || !key.ok) return refuse(reasons, deviceId, tenant.id, evidenceSha256);

    const loaded = this.#pki.load(authority.id);
    const notBefore = Math.floor(now / 1000) * 1000;
    const notAfter = notBefore + this.#options.certificateLifetimeMs;
    // Pending from here: the attestations appraised while this one is signed and committed see its key and boot count.
    this.#pending.add(key.sha256, deviceId, claims.bootcount);
    let certificate: Awaited<ReturnType<typeof issueDeviceCertificate>>;
    try {
      certificate = await issueDeviceCertificate(loaded.issuer, {
        deviceId,
        spki: key.spki,
        evidenceSha256: token.sha256,
        notBefore: new Date(notBefore),
        notAfter: new Date(notAfter),
      });
    } catch (error) {
      this.#pending.settle(key.sha256, deviceId);
      throw error;
    }
    const result: AffirmingResult = {
      verdict: 'affirming',
      sessionId: session.id,
      deviceId,
      tenant: tenant.id,
      certificatePem: certificate.pem,
      chainPem: this.#chain(authority.id, tenant.id),
      serialNumber: certificate.serialNumber,
      notBefore: new Date(notBefore).toISOString(),
      notAfter: new Date(notAfter).toISOString(),
      evidenceSha256,
    };
    const record: AffirmationRecord = {
      now,
      sessionId: session.id,
      deviceId,
      tenantId: tenant.id,
      authorityId: authority.id,
      bootCount: claims.bootcount,
      keySha256: key.sha256,
      evidenceSha256,
      certificate: { serialNumber: certificate.serialNumber, der: certificate.der, notBefore, notAfter },
    };
    const committed = this.#commits.enqueue({ kind: 'affirmation', record }).then(
      (written): AttestationResult => {
        this.#pending.settle(key.sha256, deviceId);
        if (written.recorded) {
          this.#cache.attested(deviceId, claims.bootcount, now);
          return result;
        }
        // What changed since the appraisal (a revocation, a boot count, a certificate for the key) refused it after all.
        this.#cache.invalidate();
        return { verdict: 'refused', sessionId: session.id, deviceId, reasons: written.reasons };
      },
      (error: unknown) => {
        // The batch did not commit: nothing of it is recorded.
        this.#pending.settle(key.sha256, deviceId);
        this.#cache.invalidate();
        throw error;
      },
    );
    return { committed };
  }

  /** Whether a session exists and was used (undefined: unknown); for tests and diagnostics. */
  sessionUsed(sessionId: string): boolean | undefined {
    const session = this.#sessions.get(sessionId);
    return session && session.usedAt !== null;
  }

  #prune(now: number): void {
    for (const [id, session] of this.#sessions) if (session.expiresAt < now - KEEP_EXPIRED_MS) this.#sessions.delete(id);
  }

  #chain(authorityId: number, tenantId: string): string {
    let pem = this.#chainPem.get(authorityId);
    if (!pem) {
      const authority = this.#pki.authorityById(authorityId);
      if (!authority) throw new DaaError('authority-not-found', 500, `authority #${authorityId} vanished`);
      pem = toCertificateBundlePem(this.#pki.tenantChain(tenantId, authority.thumbprint));
      this.#chainPem.set(authorityId, pem);
    }
    return pem;
  }

  #refuse(now: number, sessionId: string | null, deviceId: string | null, tenant: string | null, reasons: RefusalReason[], evidenceSha256?: string): Promise<AttestationResult> {
    const entry: AuditRecord = { at: now, sessionId, deviceId, tenant, verdict: 'refused', reasons, ...(evidenceSha256 ? { evidenceSha256 } : {}) };
    return this.#commits.enqueue({ kind: 'refusal', entry }).then(() => ({ verdict: 'refused', sessionId, deviceId, reasons }));
  }
}

function evidenceOf(body: unknown): string | { problem: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { problem: 'the body must be a JSON object {"evidence": "<JWT>"}' };
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => key !== 'evidence');
  if (unknown.length) return { problem: `unknown field(s) ${unknown.slice(0, 5).join(', ')}` };
  const evidence = fields.evidence;
  if (typeof evidence !== 'string') return { problem: "'evidence' must be a string (the compact JWT)" };
  if (evidence.length > MAX_EVIDENCE_CHARS) return { problem: `'evidence' is longer than ${MAX_EVIDENCE_CHARS} characters` };
  return evidence;
}
