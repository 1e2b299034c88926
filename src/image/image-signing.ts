import { createHash, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { FormatError } from './format-error.js';
import {
  type ImagePackage,
  type MetadataSection,
  encodeSignedBytes,
  findSection,
  SIGNATURE_LENGTH,
} from './image-package.js';
import { decodeSignatureSection, encodeSignatureSection, SigningType } from './metadata-sections.js';

/**
 * Signing and verification of image packages: ECDSA P-256 over SHA-256 of
 * body || metadata || metadataLength, stored as raw r||s; the SG section names
 * the signer by the SHA-1 thumbprint of its certificate.
 */

/** Whoever can sign: the certificate thumbprint it will be known by and a raw r||s signer. */
export interface ImageSigner {
  thumbprint: Buffer;
  sign(data: Buffer): Buffer;
}

/** A trust anchor as verification needs it (a TrustedKeystore provides these). */
export interface TrustAnchor {
  publicKey: KeyObject;
  subject: string;
}

export interface TrustAnchors {
  findByThumbprint(thumbprint: Buffer): TrustAnchor | undefined;
}

export type VerificationReason =
  | 'ok'
  | 'no-signature-section'
  | 'unsupported-signing-type'
  | 'untrusted-signer'
  | 'bad-signature';

export interface VerificationResult {
  verified: boolean;
  reason: VerificationReason;
  /** Lower-case hex SHA-1 thumbprint from the SG section, or null without one. */
  thumbprint: string | null;
  signingType: number | null;
  /** Subject of the trusted certificate that matched the thumbprint. */
  signer: string | null;
}

export function verifyImagePackage(pkg: ImagePackage, trust: TrustAnchors): VerificationResult {
  const sg = findSection(pkg, 'SG');
  if (!sg) return { verified: false, reason: 'no-signature-section', thumbprint: null, signingType: null, signer: null };
  let info;
  try {
    info = decodeSignatureSection(sg.data);
  } catch {
    return { verified: false, reason: 'no-signature-section', thumbprint: null, signingType: null, signer: null };
  }
  const thumbprint = info.thumbprint.toString('hex');
  const base = { thumbprint, signingType: info.signingType };
  if (info.signingType !== SigningType.EcdsaP256) return { ...base, verified: false, reason: 'unsupported-signing-type', signer: null };
  const anchor = trust.findByThumbprint(info.thumbprint);
  if (!anchor) return { ...base, verified: false, reason: 'untrusted-signer', signer: null };
  const good = verifyRawSignature(anchor.publicKey, pkg.signedBytes, pkg.signature);
  return { ...base, verified: good, reason: good ? 'ok' : 'bad-signature', signer: anchor.subject };
}

/** ECDSA-SHA256 check of a raw r||s signature; false (never a throw) for any bad input. */
export function verifyRawSignature(publicKey: KeyObject, data: Buffer, signature: Buffer): boolean {
  if (signature.length !== SIGNATURE_LENGTH) return false;
  try {
    return cryptoVerify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/**
 * Signs body and sections: the SG section is replaced (or added after ID) with the
 * signer's thumbprint, then the signature computed. Returns the whole package.
 */
export function signImage(body: Buffer, sections: readonly MetadataSection[], signer: ImageSigner): Buffer {
  const sg: MetadataSection = {
    id: 'SG',
    data: encodeSignatureSection({ thumbprint: signer.thumbprint, signingType: SigningType.EcdsaP256 }),
  };
  const withSigner = replaceOrInsertSection(sections, sg, 'ID');
  const signed = encodeSignedBytes(body, withSigner);
  const signature = signer.sign(signed);
  if (signature.length !== SIGNATURE_LENGTH) {
    throw new FormatError('signature-length-invalid', `signer returned ${signature.length} bytes; a raw P-256 signature is 64`);
  }
  return Buffer.concat([signed, signature]);
}

/** Re-sign an already parsed package with another signer, keeping every other section as is. */
export function resignImagePackage(pkg: ImagePackage, signer: ImageSigner): Buffer {
  return signImage(pkg.body, pkg.sections, signer);
}

function replaceOrInsertSection(sections: readonly MetadataSection[], section: MetadataSection, after: string): MetadataSection[] {
  const plain = sections.map((s) => ({ id: s.id, data: s.data }));
  const existing = plain.findIndex((s) => s.id === section.id);
  if (existing >= 0) {
    plain[existing] = section;
    return plain;
  }
  const anchor = plain.findIndex((s) => s.id === after);
  plain.splice(anchor >= 0 ? anchor + 1 : 0, 0, section);
  return plain;
}

/** SHA-256 of the whole package, as provenance records carry it. */
export function imageDigest(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
