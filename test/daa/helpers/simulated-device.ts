import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { generateSigningKeyPair, publicKeyToPoint, type SigningKeyPair } from '../../../src/pki/signing-key.js';
import type { EvidenceClaims, Measurement } from '../../../src/daa/protocol.js';

/**
 * A device as the DAA service sees it, written independently of the emulator:
 * an identity key, a boot counter, the images it "booted", and evidence built
 * and signed by hand (compact JWS, ES256 over header.payload), so tests can
 * also build every kind of wrong token.
 */
export const OS_COMPONENT = '5e8c0c1e-0009-4a61-9d4b-000000000009';
export const LOADER_COMPONENT = '5e8c0c1e-0005-4a61-9d4b-000000000005';

export interface BootedImage {
  imageType: number;
  componentId: string;
  imageId: string;
  securityVersion: number;
  bytes: Buffer;
}

export class SimulatedDevice {
  readonly identity: SigningKeyPair = generateSigningKeyPair();
  readonly deviceId = publicKeyToPoint(this.identity.publicKey).toString('hex');
  bootCount = 3;
  developmentMode = false;
  images: BootedImage[] = [
    { imageType: 5, componentId: LOADER_COMPONENT, imageId: randomGuid(), securityVersion: 2, bytes: randomBytes(256) },
    { imageType: 9, componentId: OS_COMPONENT, imageId: randomGuid(), securityVersion: 2, bytes: randomBytes(512) },
  ];

  measurements(): Measurement[] {
    return this.images.map((i) => ({
      imageType: i.imageType,
      componentId: i.componentId,
      imageId: i.imageId,
      securityVersion: i.securityVersion,
      sha256: createHash('sha256').update(i.bytes).digest('hex'),
    }));
  }

  /** Claims for a session, with a fresh certificate key unless one is given. */
  claims(nonce: string, tenant: string, certificateKey: KeyObject = generateSigningKeyPair().publicKey): EvidenceClaims {
    const jwk = certificateKey.export({ format: 'jwk' });
    return {
      eat_nonce: nonce,
      ueid: this.deviceId,
      bootcount: this.bootCount,
      uptime: 12,
      dbgstat: this.developmentMode ? 0 : 1,
      oemboot: true,
      measurements: this.measurements(),
      tenant,
      cnf: { jwk: { kty: String(jwk.kty), crv: jwk.crv, x: jwk.x, y: jwk.y } },
      iat: Math.floor(Date.now() / 1000),
    };
  }

  /** ES256 with the identity key, unless another key or header is given. */
  sign(claims: object, options: { header?: object; key?: KeyObject } = {}): string {
    return signCompact(claims, options.header ?? { alg: 'ES256', typ: 'eat+jwt' }, options.key ?? this.identity.privateKey);
  }
}

export function signCompact(claims: object, header: object, key: KeyObject): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

export function b64url(text: string | Buffer): string {
  return Buffer.from(text).toString('base64url');
}

export function rsaKey(): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}

export function randomGuid(): string {
  const h = randomBytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
