import { createHash } from 'node:crypto';

/**
 * Certificate thumbprints: hashes of a certificate's DER encoding. The SG section
 * of a signed image names its signer by the SHA-1 thumbprint (20 bytes).
 */
export const SHA1_THUMBPRINT_LENGTH = 20;
export const SHA256_THUMBPRINT_LENGTH = 32;

export function sha1Thumbprint(der: Uint8Array): Buffer {
  return createHash('sha1').update(der).digest();
}

export function sha1ThumbprintHex(der: Uint8Array): string {
  return sha1Thumbprint(der).toString('hex');
}

export function sha256Thumbprint(der: Uint8Array): Buffer {
  return createHash('sha256').update(der).digest();
}

export function sha256ThumbprintHex(der: Uint8Array): string {
  return sha256Thumbprint(der).toString('hex');
}

/**
 * A SHA-1 thumbprint as 40 lower-case hex characters, from 20 bytes or from hex
 * written any common way (upper case, `AB:CD:..` as OpenSSL prints, spaces).
 * Undefined when the input cannot be a SHA-1 thumbprint.
 */
export function normalizeSha1Thumbprint(thumbprint: Uint8Array | string): string | undefined {
  if (typeof thumbprint !== 'string') {
    return thumbprint.length === SHA1_THUMBPRINT_LENGTH ? Buffer.from(thumbprint).toString('hex') : undefined;
  }
  const hex = thumbprint.replace(/[\s:]/g, '').toLowerCase();
  return /^[0-9a-f]{40}$/.test(hex) ? hex : undefined;
}
