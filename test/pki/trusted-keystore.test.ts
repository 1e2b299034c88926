import { expect } from 'chai';
import type { TrustAnchors } from '../../src/image/image-signing.js';
import { createSelfSigned } from '../../src/pki/certificate-authority.js';
import { CertificateError } from '../../src/pki/certificate-error.js';
import { loadCertificate, type Certificate } from '../../src/pki/certificate.js';
import { generateSigningKeyPair, signRaw, verifyRaw } from '../../src/pki/signing-key.js';
import { TrustedKeystore } from '../../src/pki/trusted-keystore.js';
import { fixturePath, SDK_TEST_CERT } from '../helpers/fixtures.js';
import { ScratchDir } from './openssl.js';

const SDK_TEST_THUMBPRINT = 'a8d5cc6958f48710140d7a26160fc1cfc31f5df0';

describe('trusted keystore', () => {
  let sdk: Certificate;
  let osKeys: ReturnType<typeof generateSigningKeyPair>;
  let os: Certificate;

  before(async () => {
    sdk = await loadCertificate(fixturePath(SDK_TEST_CERT));
    osKeys = generateSigningKeyPair();
    os = await createSelfSigned({ subject: 'CN=sphere-rig OS signing, O=sphere-rig', keyPair: osKeys, keyUsages: ['digitalSignature'] });
  });

  it('finds a certificate by its SHA-1 thumbprint as 20 bytes or as hex', () => {
    const keystore = TrustedKeystore.empty().add(sdk, 'sdk-test').add(os, 'os');
    const entry = keystore.findByThumbprint(Buffer.from(SDK_TEST_THUMBPRINT, 'hex'));
    expect(entry).to.include({ role: 'sdk-test', thumbprint: SDK_TEST_THUMBPRINT, subject: sdk.subject });
    expect(entry!.cert.equals(sdk)).to.equal(true);
    expect(keystore.findByThumbprint(SDK_TEST_THUMBPRINT.toUpperCase())?.role).to.equal('sdk-test');
    expect(keystore.findByThumbprint(os.thumbprint)?.role).to.equal('os');
    expect(keystore.has(os.thumbprintHex)).to.equal(true);
  });

  it('finds nothing for unknown, short or malformed thumbprints', () => {
    const keystore = TrustedKeystore.empty().add(sdk, 'sdk-test');
    expect(keystore.findByThumbprint(Buffer.alloc(20))).to.equal(undefined);
    expect(keystore.has(os.thumbprint)).to.equal(false);
    expect(keystore.has(Buffer.from(SDK_TEST_THUMBPRINT, 'hex').subarray(0, 19))).to.equal(false);
    expect(keystore.has('not a thumbprint')).to.equal(false);
  });

  it('never changes: add returns a new keystore, and a certificate already present keeps its role', () => {
    const empty = TrustedKeystore.empty();
    const one = empty.add(sdk, 'sdk-test');
    const two = one.add(os, 'os');
    expect(empty.size).to.equal(0);
    expect(one.size).to.equal(1);
    expect(two.size).to.equal(2);
    expect(one.has(os.thumbprint)).to.equal(false);
    expect(two.add(sdk, 'other')).to.equal(two);
    expect(two.findByThumbprint(sdk.thumbprint)?.role).to.equal('sdk-test');
    expect(Object.isFrozen(two.entries()[0])).to.equal(true);
  });

  it('lists entries in the order added, with role and subject, and merges keystores', () => {
    const keystore = TrustedKeystore.of([
      { cert: os, role: 'os' },
      { cert: sdk, role: 'sdk-test' },
    ]);
    expect(keystore.toJSON()).to.deep.equal([
      { role: 'os', thumbprint: os.thumbprintHex, subject: 'CN=sphere-rig OS signing, O=sphere-rig' },
      { role: 'sdk-test', thumbprint: SDK_TEST_THUMBPRINT, subject: sdk.subject },
    ]);
    expect([...keystore].map((e) => e.role)).to.deep.equal(['os', 'sdk-test']);
    expect(keystore.byRole('os')).to.have.length(1);
    const merged = TrustedKeystore.empty().add(os, 'os').merge(TrustedKeystore.empty().add(sdk, 'sdk-test').add(os, 'renamed'));
    expect(merged.toJSON().map((e) => e.role)).to.deep.equal(['os', 'sdk-test']);
  });

  it('loads every certificate of PEM files and bundles under a role, naming an unreadable file', async () => {
    const scratch = new ScratchDir();
    try {
      const bundle = scratch.write('keystore.pem', os.toPem() + sdk.toPem());
      const keystore = await TrustedKeystore.load([bundle, fixturePath(SDK_TEST_CERT)], 'trusted');
      expect(keystore.size).to.equal(2);
      expect(keystore.toPem()).to.equal(os.toPem() + sdk.toPem());
      const missing = scratch.file('missing.pem');
      const error = await TrustedKeystore.load([bundle, missing], 'trusted').catch((e: unknown) => e);
      expect(error).to.be.instanceOf(CertificateError);
      expect((error as Error).message).to.contain(missing);
    } finally {
      scratch.remove();
    }
  });

  it('serves image verification as its trust anchors, giving the key that checks a signature', () => {
    const keystore = TrustedKeystore.empty().add(os, 'os');
    const anchors: TrustAnchors = keystore;
    const data = Buffer.from('signed image bytes');
    const anchor = anchors.findByThumbprint(os.thumbprint);
    expect(anchor?.subject).to.equal(os.subject);
    expect(verifyRaw(anchor!.publicKey, data, signRaw(osKeys.privateKey, data))).to.equal(true);
  });
});
