import { createPublicKey } from 'node:crypto';
import { InputError } from '../util/failure.js';
import type { CertificateIssuer } from './certificate-authority.js';
import { exportPublicKeyDer, signRaw } from './signing-key.js';

/**
 * Something that signs raw r || s and is known by its certificate's SHA-1
 * thumbprint: the shape image signing takes for its SG section.
 */
export interface RawSigner {
  readonly thumbprint: Buffer;
  readonly subject: string;
  sign(data: Uint8Array): Buffer;
}

/** Checks once that the key belongs to the certificate: a mismatch would sign images no keystore accepts. */
export function rawSignerFor(issuer: CertificateIssuer): RawSigner {
  const { cert, privateKey } = issuer;
  if (!exportPublicKeyDer(createPublicKey(privateKey)).equals(exportPublicKeyDer(cert.publicKey))) {
    throw new InputError('signing-keys-mismatch', `${cert.source}: the signing key does not belong to this certificate (${cert.subject})`);
  }
  return {
    thumbprint: cert.thumbprint,
    subject: cert.subject,
    sign: (data) => signRaw(privateKey, data),
  };
}
