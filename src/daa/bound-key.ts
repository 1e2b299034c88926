import { createHash } from 'node:crypto';
import type { EcPublicJwk } from './protocol.js';
import { refusal, type RefusalReason } from './refusal-reasons.js';

/**
 * The key the certificate will be issued for, bound into the evidence as an
 * RFC 7800 `cnf.jwk`: it must be an EC P-256 point on the curve, and not the
 * identity key (which signs attestations and nothing else).
 */
export type BoundKeyCheck = { ok: true; spki: Buffer; sha256: string } | { ok: false; reason: RefusalReason };

const COORDINATE = /^[A-Za-z0-9_-]{43}$/;

/** SubjectPublicKeyInfo of an uncompressed P-256 point, up to and including the 0x04 before X || Y. */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex');
const P = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

/**
 * y^2 = x^3 - 3x + b (mod p) with both coordinates below p. P-256 has cofactor
 * 1, so every such point is in the group. Checked here in BigInt rather than by
 * importing a KeyObject: a tenth of the cost, on every attestation.
 */
function isOnP256(x: Buffer, y: Buffer): boolean {
  const X = BigInt(`0x${x.toString('hex')}`);
  const Y = BigInt(`0x${y.toString('hex')}`);
  if (X >= P || Y >= P) return false;
  return (Y * Y - (X * X * X - 3n * X + B)) % P === 0n;
}

export function checkBoundKey(jwk: EcPublicJwk, deviceId: string): BoundKeyCheck {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256') {
    return { ok: false, reason: refusal('certificate-key-not-p256', `cnf.jwk is ${String(jwk.kty)}${jwk.crv ? ` ${String(jwk.crv)}` : ''}, not EC P-256`) };
  }
  if ('d' in jwk) return { ok: false, reason: refusal('certificate-key-invalid', 'cnf.jwk carries a private key') };
  if (typeof jwk.x !== 'string' || typeof jwk.y !== 'string' || !COORDINATE.test(jwk.x) || !COORDINATE.test(jwk.y)) {
    return { ok: false, reason: refusal('certificate-key-invalid', 'cnf.jwk x and y must be 32-byte base64url coordinates') };
  }
  const x = Buffer.from(jwk.x, 'base64url');
  const y = Buffer.from(jwk.y, 'base64url');
  if (!isOnP256(x, y)) return { ok: false, reason: refusal('certificate-key-invalid', 'cnf.jwk is not a point on the P-256 curve') };
  // The device ID is the identity key's X || Y.
  if (Buffer.concat([x, y]).toString('hex') === deviceId) return { ok: false, reason: refusal('certificate-key-is-identity') };
  const spki = Buffer.concat([P256_SPKI_PREFIX, x, y]);
  return { ok: true, spki, sha256: createHash('sha256').update(spki).digest('hex') };
}
