import { expect } from 'chai';
import { X509Certificate, createHash } from 'node:crypto';
import { FormatError } from '../../src/image/format-error.js';
import { parseImagePackage, readImageFacts, serializeImagePackage } from '../../src/image/image-package.js';
import { type TrustAnchors, verifyImagePackage } from '../../src/image/image-signing.js';
import { SDK_TEST_CERT, TEST_APP, readFixture } from '../helpers/fixtures.js';

/** Trust built straight from Node's X509Certificate, independent of src/pki. */
function trustOf(pem: Buffer): TrustAnchors {
  const cert = new X509Certificate(pem);
  const thumb = createHash('sha1').update(cert.raw).digest();
  return {
    findByThumbprint: (t) => (t.equals(thumb) ? { publicKey: cert.publicKey, subject: cert.subject } : undefined),
  };
}

describe('image package layout', () => {
  const bytes = readFixture(TEST_APP);
  const sdkTrust = trustOf(readFixture(SDK_TEST_CERT));

  it('reads the facts the SDK wrote into the real test app', () => {
    const pkg = parseImagePackage(bytes);
    const facts = readImageFacts(pkg);
    expect(pkg.metadataLength).to.equal(148);
    expect(pkg.body.length).to.equal(28672);
    expect(pkg.sections.map((s) => s.id)).to.deep.equal(['ID', 'SG', 'DB', 'TP', 'ND']);
    expect(facts.identity).to.deep.equal({
      imageType: 10,
      reserved: 0,
      componentId: '1689d8b2-c835-2e27-27ad-e894d6d15fa9',
      imageId: 'c25d88f4-9900-4a8e-9d2c-afc199c28151',
    });
    expect(facts.debug?.name).to.equal('Anvil Test App');
    expect(facts.debug?.buildDate.toISOString()).to.equal('2020-09-10T03:40:38.000Z');
    expect(facts.temporaryImage).to.equal(2);
    expect(facts.abiDepends).to.deep.equal([{ version: 5, identityType: 3 }]);
    expect(facts.abiProvides).to.deep.equal([]);
    expect(facts.securityVersion).to.equal(undefined);
    expect(facts.signatureInfo?.thumbprint.toString('hex')).to.equal('a8d5cc6958f48710140d7a26160fc1cfc31f5df0');
  });

  it('rebuilds the real package byte for byte without re-signing', () => {
    const rebuilt = serializeImagePackage(parseImagePackage(bytes));
    expect(rebuilt.equals(bytes)).to.equal(true);
  });

  it('carries unknown sections through a rebuild untouched', () => {
    const pkg = parseImagePackage(bytes);
    const odd = { id: 'ZZ', data: Buffer.from([1, 2, 3, 0xff, 0]) };
    const withOdd = serializeImagePackage({ ...pkg, sections: [...pkg.sections, odd] });
    const again = parseImagePackage(withOdd);
    expect(again.sections.at(-1)?.id).to.equal('ZZ');
    expect(again.sections.at(-1)?.data.equals(odd.data)).to.equal(true);
    expect(serializeImagePackage(again).equals(withOdd)).to.equal(true);
  });

  it('verifies the real signature against the SDK test certificate', () => {
    const result = verifyImagePackage(parseImagePackage(bytes), sdkTrust);
    expect(result).to.include({ verified: true, reason: 'ok', thumbprint: 'a8d5cc6958f48710140d7a26160fc1cfc31f5df0' });
    expect(result.signer).to.match(/CN=Azure Sphere SDK Test/);
  });

  it('calls a signer missing from the keystore untrusted', () => {
    const none: TrustAnchors = { findByThumbprint: () => undefined };
    expect(verifyImagePackage(parseImagePackage(bytes), none)).to.include({ verified: false, reason: 'untrusted-signer' });
  });

  it('fails verification when any single byte of body, metadata or signature is flipped', () => {
    // Every metadata byte and signature byte, and a stride through the body.
    const positions: number[] = [];
    for (let i = 0; i < 28672; i += 97) positions.push(i);
    for (let i = 28672; i < bytes.length; i++) positions.push(i);
    for (const position of positions) {
      const copy = Buffer.from(bytes);
      copy[position] = copy[position]! ^ 0x01;
      let verified = false;
      try {
        verified = verifyImagePackage(parseImagePackage(copy), sdkTrust).verified;
      } catch (error) {
        expect(error, `byte ${position}`).to.be.instanceOf(FormatError);
      }
      expect(verified, `flipping byte ${position} still verified`).to.equal(false);
    }
  });

  describe('rejects malformed packages with the byte offset of the fault', () => {
    const cases: Array<[string, () => Buffer, string, number]> = [
      ['a truncated file', () => bytes.subarray(0, 40), 'image-truncated', 40],
      [
        'a metadata length larger than the file',
        () => {
          const b = Buffer.from(bytes);
          b.writeUInt32LE(100_000, b.length - 68);
          return b;
        },
        'metadata-length-invalid',
        bytes.length - 68,
      ],
      [
        'a wrong magic',
        () => {
          const b = Buffer.from(bytes);
          b[28672] = 0;
          return b;
        },
        'metadata-magic-invalid',
        28672,
      ],
      [
        'a section length past the end',
        () => {
          const b = Buffer.from(bytes);
          b.writeUInt16LE(0xfff0, 28672 + 8 + 2);
          return b;
        },
        'section-past-end',
        28682,
      ],
      [
        'a section count larger than the sections present',
        () => {
          const b = Buffer.from(bytes);
          b.writeUInt32LE(6, 28672 + 4);
          return b;
        },
        'section-past-end',
        bytes.length - 68,
      ],
    ];
    for (const [name, make, code, offset] of cases) {
      it(name, () => {
        expect(() => parseImagePackage(make()))
          .to.throw(FormatError)
          .with.property('code', code);
        try {
          parseImagePackage(make());
        } catch (error) {
          expect((error as FormatError).offset).to.equal(offset);
          expect((error as FormatError).message).to.match(/byte offset/);
        }
      });
    }
  });
});
