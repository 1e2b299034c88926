import type { RefusalReason } from './refusal-reasons.js';

/**
 * The wire protocol of the local DAA service (attestation.md), shared by the
 * service and the emulated device. Roles as in RFC 9334: the board is the
 * Attester, the service the Verifier and certificate issuer.
 *
 *   POST {base}/sessions                 {deviceId?}       -> 201 SessionGrant
 *   POST {base}/sessions/{id}/evidence   {evidence: JWT}   -> 200 AttestationResult (affirming)
 *                                                           -> 4xx AttestationResult (refused, reasons)
 *
 * Evidence is an EAT (RFC 9711) in JWT form, signed ES256 with the device's
 * identity key; the verifier takes the public key from the device ID (X || Y).
 */

/** The remote-attestation-data extension the issued certificate carries, non-critical. */
export const EVIDENCE_EXTENSION_OID = '1.3.6.1.4.1.311.98.1';

/** Bytes of the session nonce. */
export const NONCE_BYTES = 32;

/** JWS `typ` the device sets (RFC 9782 media type application/eat+jwt). */
export const EVIDENCE_TYPE = 'eat+jwt';

/** RFC 9711 debug status values this profile uses: development mode is debug enabled. */
export const DBGSTAT_ENABLED = 0;
export const DBGSTAT_DISABLED = 1;

/** One loaded image, in boot order. */
export interface Measurement {
  imageType: number;
  componentId: string;
  imageId: string;
  securityVersion: number;
  /** SHA-256 of the whole image package as loaded, lower-case hex. */
  sha256: string;
}

/** A P-256 public key as a JWK (RFC 7517), the key the certificate is issued for. */
export interface EcPublicJwk {
  kty: string;
  crv?: string;
  x?: string;
  y?: string;
  [member: string]: unknown;
}

/** The claims of the evidence token. */
export interface EvidenceClaims {
  /** base64url of the session's 32-byte nonce. */
  eat_nonce: string;
  /** The device ID: 128 lower-case hex (the identity key's X || Y). */
  ueid: string;
  /** Boots of this chip so far; never goes backwards. */
  bootcount: number;
  /** Seconds since the OS came up. */
  uptime: number;
  /** RFC 9711 debug status: 0 (enabled) in development mode, 1 (disabled) otherwise. */
  dbgstat: number;
  /** Secure boot passed. */
  oemboot: boolean;
  measurements: Measurement[];
  /** The tenant the device is claimed to, as the session told it. */
  tenant: string;
  /** RFC 7800 confirmation: the fresh key the certificate will be issued for. */
  cnf: { jwk: EcPublicJwk };
  /** Issued at, seconds (device clock). */
  iat: number;
}

export interface SessionRequest {
  deviceId?: string;
}

export interface SessionGrant {
  sessionId: string;
  /** base64url of 32 random bytes. */
  nonce: string;
  expiresAt: string;
  /** The tenant the device is claimed to (null when unclaimed or no device was named). */
  tenant: string | null;
}

export interface AffirmingResult {
  verdict: 'affirming';
  sessionId: string;
  deviceId: string;
  tenant: string;
  certificatePem: string;
  /** The issuing tenant CA, then the intermediate, then the root. */
  chainPem: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  /** SHA-256 of the accepted evidence token, as the certificate's extension carries it. */
  evidenceSha256: string;
}

export interface RefusedResult {
  verdict: 'refused';
  sessionId: string | null;
  deviceId: string | null;
  reasons: RefusalReason[];
}

export type AttestationResult = AffirmingResult | RefusedResult;
