import { createHash, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { DBGSTAT_DISABLED, DBGSTAT_ENABLED, EVIDENCE_TYPE, type EcPublicJwk, type EvidenceClaims, type Measurement } from '../../daa/protocol.js';
import type { VerifiedImage } from '../secure-boot.js';

/**
 * The Pluton role in building evidence: measure what actually booted (SHA-256
 * of every loaded image, in boot order), state the boot counter, uptime and
 * debug status, bind the fresh key the certificate is for, and sign it all with
 * the identity key as an EAT in JWT form (ES256).
 */
export interface EvidenceInputs {
  nonce: string;
  deviceId: string;
  tenant: string;
  bootCount: number;
  uptimeSeconds: number;
  developmentMode: boolean;
  images: readonly VerifiedImage[];
  /** The public half of the fresh certificate key. */
  certificateKey: KeyObject;
  /** Board clock, ms since the epoch. */
  now: number;
}

export function measureImages(images: readonly VerifiedImage[]): Measurement[] {
  return images.map((image) => ({
    imageType: image.imageType,
    componentId: image.componentId,
    imageId: image.imageId,
    securityVersion: image.securityVersion,
    sha256: createHash('sha256').update(image.bytes).digest('hex'),
  }));
}

export function buildEvidenceClaims(inputs: EvidenceInputs): EvidenceClaims {
  const jwk = inputs.certificateKey.export({ format: 'jwk' }) as EcPublicJwk;
  return {
    eat_nonce: inputs.nonce,
    ueid: inputs.deviceId,
    bootcount: inputs.bootCount,
    uptime: inputs.uptimeSeconds,
    dbgstat: inputs.developmentMode ? DBGSTAT_ENABLED : DBGSTAT_DISABLED,
    oemboot: true,
    measurements: measureImages(inputs.images),
    tenant: inputs.tenant,
    cnf: { jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } },
    iat: Math.floor(inputs.now / 1000),
  };
}

/** The compact JWS of the claims, signed ES256 with the identity key. */
export function signEvidence(claims: EvidenceClaims, identityKey: KeyObject): Promise<string> {
  return new SignJWT({ ...claims }).setProtectedHeader({ alg: 'ES256', typ: EVIDENCE_TYPE }).sign(identityKey);
}
