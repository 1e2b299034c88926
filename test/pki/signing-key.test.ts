import { expect } from 'chai';
import { createPublicKey, generateKeyPairSync, verify as nodeVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InputError } from '../../src/util/failure.js';
import {
  exportPrivateKeyPem,
  exportPublicKeyPem,
  generateSigningKeyPair,
  importPrivateKeyPem,
  importPublicKeyPem,
  privateKeyToCryptoKey,
  publicKeyFromPoint,
  publicKeyToCryptoKey,
  publicKeyToPoint,
  signingKeyPairFromPrivateKey,
  signRaw,
  verifyRaw,
} from '../../src/pki/signing-key.js';
import { openssl, rawSignatureToDer, ScratchDir } from './openssl.js';

describe('P-256 signing keys', () => {
  const message = Buffer.from('body || metadata || metadataLength');

  it('makes 64-byte r||s signatures that Node verifies once converted to DER independently', () => {
    const { privateKey, publicKey } = generateSigningKeyPair();
    const signature = signRaw(privateKey, message);
    expect(signature).to.have.length(64);
    expect(nodeVerify('sha256', message, publicKey, rawSignatureToDer(signature))).to.equal(true);
    expect(verifyRaw(publicKey, message, signature)).to.equal(true);
  });

  it('makes signatures that openssl dgst -sha256 -verify accepts', () => {
    const scratch = new ScratchDir();
    try {
      const { privateKey, publicKey } = generateSigningKeyPair();
      const signature = signRaw(privateKey, message);
      const data = scratch.write('data.bin', message);
      const pub = scratch.write('pub.pem', exportPublicKeyPem(publicKey));
      const sig = scratch.write('sig.der', rawSignatureToDer(signature));
      const good = openssl(['dgst', '-sha256', '-verify', pub, '-signature', sig, data]);
      expect(good.status, good.stderr).to.equal(0);
      expect(good.stdout).to.match(/Verified OK/);

      const tampered = scratch.write('other.bin', Buffer.from('something else'));
      expect(openssl(['dgst', '-sha256', '-verify', pub, '-signature', sig, tampered]).status).to.not.equal(0);
    } finally {
      scratch.remove();
    }
  });

  it('verifies signatures openssl made, once converted from DER to r||s', () => {
    const scratch = new ScratchDir();
    try {
      const key = scratch.file('key.pem');
      expect(openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]).status).to.equal(0);
      const data = scratch.write('data.bin', message);
      const sig = scratch.file('sig.der');
      expect(openssl(['dgst', '-sha256', '-sign', key, '-out', sig, data]).status).to.equal(0);
      const publicKey = createPublicKey({ key: readFileSync(key), format: 'pem' });
      const raw = derSignatureToRaw(readFileSync(sig));
      expect(verifyRaw(publicKey, message, raw)).to.equal(true);
    } finally {
      scratch.remove();
    }
  });

  it('answers false, never throws, for wrong, short, long or garbage signatures', () => {
    const { privateKey, publicKey } = generateSigningKeyPair();
    const signature = signRaw(privateKey, message);
    const flipped = Buffer.from(signature);
    flipped[10]! ^= 0x01;
    expect(verifyRaw(publicKey, message, flipped)).to.equal(false);
    expect(verifyRaw(publicKey, Buffer.from('other data'), signature)).to.equal(false);
    expect(verifyRaw(publicKey, message, signature.subarray(0, 63))).to.equal(false);
    expect(verifyRaw(publicKey, message, Buffer.concat([signature, Buffer.from([0])]))).to.equal(false);
    expect(verifyRaw(publicKey, message, Buffer.alloc(64))).to.equal(false);
    expect(verifyRaw(publicKey, message, Buffer.alloc(64, 0xff))).to.equal(false);
    expect(verifyRaw(publicKey, message, rawSignatureToDer(signature))).to.equal(false);
    expect(verifyRaw(generateSigningKeyPair().publicKey, message, signature)).to.equal(false);
  });

  it('round-trips keys through PKCS#8 and SPKI PEM', () => {
    const pair = generateSigningKeyPair();
    const privatePem = exportPrivateKeyPem(pair.privateKey);
    const publicPem = exportPublicKeyPem(pair.publicKey);
    expect(privatePem).to.match(/^-----BEGIN PRIVATE KEY-----/);
    expect(publicPem).to.match(/^-----BEGIN PUBLIC KEY-----/);
    const restored = signingKeyPairFromPrivateKey(importPrivateKeyPem(privatePem));
    const signature = signRaw(restored.privateKey, message);
    expect(verifyRaw(importPublicKeyPem(publicPem), message, signature)).to.equal(true);
    expect(exportPublicKeyPem(restored.publicKey)).to.equal(publicPem);
  });

  it('refuses keys that are not P-256 and PEM that is not a key, naming the source', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const rsaPem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(() => importPrivateKeyPem(rsaPem, 'keys/os.key.pem'))
      .to.throw(InputError, /keys\/os\.key\.pem: expected an ECDSA P-256 key, found rsa/);
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    expect(() => importPublicKeyPem(k1.publicKey.export({ type: 'spki', format: 'pem' }) as string, 'k1.pem'))
      .to.throw(InputError, /secp256k1/);
    expect(() => importPrivateKeyPem('not a key', 'junk.pem')).to.throw(InputError, /junk\.pem: not a readable/);
    expect(() => signRaw(rsa.privateKey, message)).to.throw(InputError);
  });

  it('gives the uncompressed public point X||Y and rebuilds the key from it (device IDs)', () => {
    const pair = generateSigningKeyPair();
    const point = publicKeyToPoint(pair.publicKey);
    expect(point).to.have.length(64);
    // SPKI DER of a P-256 key ends with 04 || X || Y.
    const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
    expect(point.equals(spki.subarray(spki.length - 64))).to.equal(true);
    expect(publicKeyToPoint(pair.privateKey).equals(point)).to.equal(true);

    const fromBytes = publicKeyFromPoint(point);
    const fromHex = publicKeyFromPoint(point.toString('hex').toUpperCase());
    const signature = signRaw(pair.privateKey, message);
    expect(verifyRaw(fromBytes, message, signature)).to.equal(true);
    expect(verifyRaw(fromHex, message, signature)).to.equal(true);
  });

  it('refuses points of the wrong length or off the curve', () => {
    expect(() => publicKeyFromPoint(Buffer.alloc(65))).to.throw(InputError, /expected 64 bytes/);
    expect(() => publicKeyFromPoint('zz'.repeat(64))).to.throw(InputError, /not hex/);
    const offCurve = Buffer.alloc(64, 0);
    offCurve[63] = 1;
    expect(() => publicKeyFromPoint(offCurve)).to.throw(InputError, /not a point on the P-256 curve/);
  });

  it('converts to WebCrypto keys that sign and verify with Node keys', async () => {
    const pair = generateSigningKeyPair();
    const privateCrypto = await privateKeyToCryptoKey(pair.privateKey);
    const publicCrypto = await publicKeyToCryptoKey(pair.publicKey);
    const algorithm = { name: 'ECDSA', hash: 'SHA-256' };
    // WebCrypto ECDSA signatures are r||s too.
    const webSignature = Buffer.from(await crypto.subtle.sign(algorithm, privateCrypto, new Uint8Array(message)));
    expect(verifyRaw(pair.publicKey, message, webSignature)).to.equal(true);
    expect(await crypto.subtle.verify(algorithm, publicCrypto, new Uint8Array(signRaw(pair.privateKey, message)), new Uint8Array(message))).to.equal(true);
  });
});

/** DER ECDSA-Sig-Value to r||s, written independently of src/pki. */
function derSignatureToRaw(der: Buffer): Buffer {
  let offset = 2;
  const take = (): Buffer => {
    const length = der[offset + 1]!;
    const value = der.subarray(offset + 2, offset + 2 + length);
    offset += 2 + length;
    const trimmed = value.length > 32 ? value.subarray(value.length - 32) : value;
    return Buffer.concat([Buffer.alloc(32 - trimmed.length), trimmed]);
  };
  return Buffer.concat([take(), take()]);
}
