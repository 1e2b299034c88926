import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { InputError } from '../util/failure.js';

/**
 * ECDSA P-256 keys, the only key type Azure Sphere images, capability images
 * and device identities use. Keys are Node `KeyObject`s so signing is synchronous;
 * WebCrypto `CryptoKey`s (what @peculiar/x509 needs) are derived on demand.
 */
export interface SigningKeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** Bytes of a raw r || s signature, and of an uncompressed X || Y point. */
export const RAW_SIGNATURE_LENGTH = 64;
export const PUBLIC_POINT_LENGTH = 64;
const COORDINATE_LENGTH = 32;

const P256_WEB_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;

export function generateSigningKeyPair(): SigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, publicKey };
}

/** The public half of a private key, e.g. after loading only the private key PEM. */
export function signingKeyPairFromPrivateKey(privateKey: KeyObject): SigningKeyPair {
  assertP256(privateKey, 'private key');
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

export function exportPrivateKeyPem(privateKey: KeyObject): string {
  return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

export function exportPublicKeyPem(publicKey: KeyObject): string {
  return publicKey.export({ type: 'spki', format: 'pem' }) as string;
}

/** SubjectPublicKeyInfo DER, the form certificates embed. */
export function exportPublicKeyDer(publicKey: KeyObject): Buffer {
  return publicKey.export({ type: 'spki', format: 'der' });
}

/**
 * Reads a PKCS#8 (or SEC1 "EC PRIVATE KEY") PEM; `source` names the file in errors.
 * Refuses encrypted keys and any key that is not P-256.
 */
export function importPrivateKeyPem(pem: string | Buffer, source = 'private key'): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (error) {
    const message = `${source}: not a readable unencrypted PEM private key (${reason(error)})`;
    throw new InputError('key-malformed', message, { source }, { cause: error });
  }
  assertP256(key, source);
  return key;
}

/** Reads an SPKI public key PEM (a private key PEM also works: its public half is taken). */
export function importPublicKeyPem(pem: string | Buffer, source = 'public key'): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (error) {
    const message = `${source}: not a readable PEM public key (${reason(error)})`;
    throw new InputError('key-malformed', message, { source }, { cause: error });
  }
  assertP256(key, source);
  return key;
}

export function isP256Key(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

function assertP256(key: KeyObject, source: string): void {
  if (!isP256Key(key)) {
    const kind = key.asymmetricKeyDetails?.namedCurve ?? key.asymmetricKeyType ?? key.type;
    throw new InputError('key-not-p256', `${source}: expected an ECDSA P-256 key, found ${kind}`, { source, kind });
  }
}

/**
 * ECDSA-SHA256 over `data`, as the 64-byte r || s that image signatures store
 * (not the DER form OpenSSL emits by default).
 */
export function signRaw(privateKey: KeyObject, data: Uint8Array): Buffer {
  assertP256(privateKey, 'signing key');
  return nodeSign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
}

/**
 * Checks a 64-byte r || s ECDSA-SHA256 signature. Never throws: a signature of the
 * wrong length, garbage, or a key of the wrong type is simply not valid.
 */
export function verifyRaw(publicKey: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== RAW_SIGNATURE_LENGTH || !isP256Key(publicKey)) return false;
  try {
    return nodeVerify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/** The uncompressed public point X || Y (64 bytes, no 0x04 prefix): the emulator's device ID. */
export function publicKeyToPoint(key: KeyObject): Buffer {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  assertP256(publicKey, 'public key');
  const jwk = publicKey.export({ format: 'jwk' });
  if (!jwk.x || !jwk.y) throw new InputError('key-malformed', 'public key: no EC coordinates');
  return Buffer.concat([
    leftPad(Buffer.from(jwk.x, 'base64url'), COORDINATE_LENGTH),
    leftPad(Buffer.from(jwk.y, 'base64url'), COORDINATE_LENGTH),
  ]);
}

/**
 * A public key from its 64-byte X || Y (or the 128 hex characters of a device ID).
 * Rejects points that are not on the P-256 curve.
 */
export function publicKeyFromPoint(point: Uint8Array | string): KeyObject {
  const bytes = typeof point === 'string' ? hexBytes(point) : Buffer.from(point);
  if (bytes === undefined || bytes.length !== PUBLIC_POINT_LENGTH) {
    const got = describeLength(point, bytes);
    throw new InputError('public-point-malformed', `public point: expected ${PUBLIC_POINT_LENGTH} bytes (X || Y), got ${got}`);
  }
  try {
    return createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: bytes.subarray(0, COORDINATE_LENGTH).toString('base64url'),
        y: bytes.subarray(COORDINATE_LENGTH).toString('base64url'),
      },
      format: 'jwk',
    });
  } catch (error) {
    throw new InputError('public-point-invalid', `public point: not a point on the P-256 curve (${reason(error)})`, {}, { cause: error });
  }
}

/** WebCrypto form of a private key, for libraries that sign through `crypto.subtle`. */
export async function privateKeyToCryptoKey(privateKey: KeyObject): Promise<CryptoKey> {
  assertP256(privateKey, 'private key');
  // A copy typed as Uint8Array<ArrayBuffer>: WebCrypto takes no shared buffers.
  const der = new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' }));
  return globalThis.crypto.subtle.importKey('pkcs8', der, P256_WEB_ALGORITHM, false, ['sign']);
}

/** WebCrypto form of a public key. */
export async function publicKeyToCryptoKey(publicKey: KeyObject): Promise<CryptoKey> {
  assertP256(publicKey, 'public key');
  return globalThis.crypto.subtle.importKey('spki', new Uint8Array(exportPublicKeyDer(publicKey)), P256_WEB_ALGORITHM, true, ['verify']);
}

function leftPad(bytes: Buffer, length: number): Buffer {
  return bytes.length >= length ? bytes : Buffer.concat([Buffer.alloc(length - bytes.length), bytes]);
}

function hexBytes(text: string): Buffer | undefined {
  return /^(?:[0-9a-fA-F]{2})*$/.test(text) ? Buffer.from(text, 'hex') : undefined;
}

function describeLength(point: Uint8Array | string, bytes: Buffer | undefined): string {
  if (bytes) return `${bytes.length} bytes`;
  return `a string of ${(point as string).length} characters that is not hex`;
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
