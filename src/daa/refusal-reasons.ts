/**
 * Every reason the local DAA service refuses an attestation, each with a stable
 * code. `recoverable` says whether the device can reach an affirming result by
 * its own means: retrying with a new session or a fresh key, or installing an
 * update. A reason that is not recoverable needs the operator (claim, revocation,
 * tenant CA, reference values) or is a malformed request that a retry repeats.
 */
export const REFUSAL_REASONS = {
  // the request itself
  'body-too-large': { recoverable: false, status: 413, summary: 'the request body exceeds the size limit' },
  'body-malformed': { recoverable: false, status: 400, summary: 'the request body is not the JSON object expected' },
  // the session
  'session-unknown': { recoverable: true, status: 404, summary: 'no such session' },
  'session-expired': { recoverable: true, status: 410, summary: 'the session expired before evidence arrived' },
  'session-used': { recoverable: true, status: 409, summary: 'the session already received evidence (a nonce is good once)' },
  // the token
  'evidence-malformed': { recoverable: false, status: 400, summary: 'the evidence is not a compact JWS with JSON header and claims' },
  'alg-none': { recoverable: false, status: 400, summary: "the token is unsigned (alg 'none')" },
  'alg-symmetric': { recoverable: false, status: 400, summary: 'the token uses a shared-secret MAC (HS*), not the device key' },
  'alg-rsa': { recoverable: false, status: 400, summary: 'the token is signed with RSA; devices sign ES256' },
  'alg-unsupported': { recoverable: false, status: 400, summary: 'the token algorithm is not ES256' },
  'device-id-malformed': { recoverable: false, status: 400, summary: 'ueid is not a 128-hex device ID on the P-256 curve' },
  'signature-invalid': { recoverable: false, status: 403, summary: "the signature does not verify with the device ID's key" },
  'nonce-missing': { recoverable: false, status: 400, summary: 'the evidence has no eat_nonce' },
  'nonce-malformed': { recoverable: false, status: 400, summary: 'eat_nonce is not base64url text' },
  'nonce-length': { recoverable: false, status: 400, summary: 'eat_nonce is not 32 bytes' },
  'claims-malformed': { recoverable: false, status: 400, summary: 'a claim is missing or of the wrong type' },
  // binding to the session
  'nonce-mismatch': { recoverable: true, status: 403, summary: "eat_nonce is not this session's nonce" },
  'device-mismatch': { recoverable: false, status: 403, summary: 'the evidence is for another device than the session' },
  // the device and its tenant
  'device-unclaimed': { recoverable: false, status: 403, summary: 'the device is not claimed to any tenant' },
  'tenant-mismatch': { recoverable: false, status: 403, summary: 'the device is claimed to another tenant than the evidence names' },
  'device-revoked': { recoverable: false, status: 403, summary: 'the device is revoked' },
  'tenant-ca-revoked': { recoverable: false, status: 403, summary: "the tenant's CA is revoked and no other is active" },
  'tenant-ca-inactive': { recoverable: false, status: 403, summary: 'the tenant has no active CA' },
  'bootcount-regressed': { recoverable: false, status: 403, summary: 'the boot counter went backwards since the last attestation' },
  // what booted
  'reference-values-missing': { recoverable: false, status: 403, summary: 'the tenant has no reference values' },
  'secure-boot-failed': { recoverable: true, status: 403, summary: 'the device reports that secure boot did not pass (oemboot false)' },
  'component-unknown': { recoverable: true, status: 403, summary: "a measured component is not in the tenant's reference values" },
  'image-untrusted': { recoverable: true, status: 403, summary: 'a measured image is marked untrusted' },
  'image-unknown': { recoverable: true, status: 403, summary: "a measured image's hash and ID are not among the trusted ones" },
  'component-missing': { recoverable: true, status: 403, summary: 'a required component was not measured' },
  'security-version-below-floor': { recoverable: true, status: 403, summary: "an image's security version is below the tenant's floor" },
  'development-mode-forbidden': { recoverable: true, status: 403, summary: 'the device is in development mode and the policy forbids it' },
  // the key the certificate is for
  'certificate-key-not-p256': { recoverable: true, status: 403, summary: 'the key to certify is not an EC P-256 key' },
  'certificate-key-invalid': { recoverable: true, status: 403, summary: 'the key to certify is not a valid P-256 point' },
  'certificate-key-is-identity': { recoverable: true, status: 403, summary: "the key to certify is the device's identity key" },
  'certificate-key-reused': { recoverable: true, status: 403, summary: 'the key to certify was already certified' },
} as const satisfies Record<string, { recoverable: boolean; status: number; summary: string }>;

export type RefusalCode = keyof typeof REFUSAL_REASONS;


/** One reason of a refusal, as the service answers it and the audit log keeps it. */
export interface RefusalReason {
  code: RefusalCode;
  recoverable: boolean;
  detail: string;
}

export function refusal(code: RefusalCode, detail?: string): RefusalReason {
  const entry = REFUSAL_REASONS[code];
  return { code, recoverable: entry.recoverable, detail: detail ?? entry.summary };
}

/** The HTTP status of a refusal: that of its first reason. */
export function refusalStatus(reasons: readonly RefusalReason[]): number {
  return reasons.length ? REFUSAL_REASONS[reasons[0]!.code].status : 403;
}
