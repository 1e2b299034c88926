import { createECDH, createHash, createHmac, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

/**
 * Keys the seeds are built with, derived from fixed labels rather than generated,
 * so that the seeds (and so every input of a seeded run) are the same from one
 * run to the next. They sign nothing but fuzz seeds.
 */
export interface FixedKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** A P-256 key pair whose private scalar `d` is SHA-256 of `label` (below the group order for any label in practice). */
export function fixedP256KeyPair(label: string): FixedKeyPair & { d: Buffer } {
  const d = createHash('sha256').update(`sphere-rig fuzz key: ${label}`).digest();
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(d);
  const point = ecdh.getPublicKey();
  const jwk = {
    kty: 'EC',
    crv: 'P-256',
    x: point.subarray(1, 33).toString('base64url'),
    y: point.subarray(33, 65).toString('base64url'),
  };
  const privateKey = createPrivateKey({ key: { ...jwk, d: d.toString('base64url') }, format: 'jwk' });
  return { privateKey, publicKey: createPublicKey({ key: jwk, format: 'jwk' }), d };
}

/** PKCS#8 prefix of an Ed25519 private key: the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** An Ed25519 key pair seeded from `label`: Ed25519 signatures are deterministic, so what it signs is too. */
export function fixedEd25519KeyPair(label: string): FixedKeyPair & { pkcs8: Buffer } {
  const seed = createHash('sha256').update(`sphere-rig fuzz key: ${label}`).digest();
  const pkcs8 = Buffer.concat([ED25519_PKCS8_PREFIX, seed]);
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: createPublicKey(privateKey), pkcs8 };
}

// ---------------------------------------------------------------------------------
// Deterministic ES256 (RFC 6979), for seeds only: Node's ECDSA draws a random nonce,
// so a seed it signed would differ in every run. Plain BigInt arithmetic, a few
// milliseconds a signature: far too slow for the fuzz loop, fine for two seeds.

const P = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const G: [bigint, bigint] = [
  0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
];

const mod = (a: bigint, m: bigint): bigint => ((a % m) + m) % m;

function inverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

type Point = [bigint, bigint] | null;

function add(a: Point, b: Point): Point {
  if (!a) return b;
  if (!b) return a;
  const [x1, y1] = a;
  const [x2, y2] = b;
  if (x1 === x2 && mod(y1 + y2, P) === 0n) return null;
  const slope = x1 === x2 && y1 === y2 ? mod((3n * x1 * x1 - 3n) * inverse(2n * y1, P), P) : mod((y2 - y1) * inverse(x2 - x1, P), P);
  const x3 = mod(slope * slope - x1 - x2, P);
  return [x3, mod(slope * (x1 - x3) - y1, P)];
}

function multiply(k: bigint, point: Point): Point {
  let result: Point = null;
  let addend = point;
  for (let rest = k; rest > 0n; rest >>= 1n) {
    if (rest & 1n) result = add(result, addend);
    addend = add(addend, addend);
  }
  return result;
}

const toInt = (bytes: Buffer): bigint => BigInt(`0x${bytes.toString('hex') || '0'}`);
const toBytes = (value: bigint): Buffer => Buffer.from(value.toString(16).padStart(64, '0'), 'hex');
const hmac = (key: Buffer, ...parts: Buffer[]): Buffer => createHmac('sha256', key).update(Buffer.concat(parts)).digest();

/** The ES256 signature (r || s, 64 bytes) of `data` with the private scalar `d`, nonce per RFC 6979. */
export function deterministicEs256(d: Buffer, data: Buffer): Buffer {
  const x = toInt(d);
  const hash = createHash('sha256').update(data).digest();
  const e = toInt(hash);
  const h1 = toBytes(mod(e, N));
  let v: Buffer = Buffer.alloc(32, 0x01);
  let k: Buffer = Buffer.alloc(32, 0x00);
  k = hmac(k, v, Buffer.of(0x00), toBytes(x), h1);
  v = hmac(k, v);
  k = hmac(k, v, Buffer.of(0x01), toBytes(x), h1);
  v = hmac(k, v);
  for (;;) {
    v = hmac(k, v);
    const nonce = toInt(v);
    if (nonce >= 1n && nonce < N) {
      const r = mod(multiply(nonce, G)![0], N);
      const s = mod(inverse(nonce, N) * (e + r * x), N);
      if (r !== 0n && s !== 0n) return Buffer.concat([toBytes(r), toBytes(s)]);
    }
    k = hmac(k, v, Buffer.of(0x00));
    v = hmac(k, v);
  }
}
