import { expect } from 'chai';
import { createCa, issueCertificate, type CertificateAuthority } from '../../src/pki/certificate-authority.js';
import { verifyCertificateChain } from '../../src/pki/certificate-chain.js';
import { Certificate } from '../../src/pki/certificate.js';
import { generateSigningKeyPair } from '../../src/pki/signing-key.js';

const HOUR_MS = 60 * 60 * 1000;

describe('certificate chain verification', () => {
  let root: CertificateAuthority;
  let intermediate: CertificateAuthority;
  let tenant: CertificateAuthority;
  let device: Certificate;
  const issuedAt = new Date('2026-06-01T00:00:00Z');
  const during = new Date('2026-06-01T12:00:00Z');

  before(async () => {
    root = await createCa({ subject: 'CN=local DAA root', notBefore: new Date('2026-01-01'), days: 3650 });
    intermediate = await createCa({ subject: 'CN=local DAA intermediate', parent: root, notBefore: new Date('2026-01-01'), days: 1825 });
    tenant = await createCa({ subject: 'CN=tenant 1', parent: intermediate, notBefore: new Date('2026-01-01'), days: 730, pathLength: 0 });
    device = await issueCertificate({
      issuer: tenant,
      subject: { CN: 'AB'.repeat(64) },
      publicKey: generateSigningKeyPair().publicKey,
      notBefore: issuedAt,
      notAfter: new Date(issuedAt.getTime() + 24 * HOUR_MS),
      extendedKeyUsages: ['clientAuth'],
    });
  });

  it('accepts a device certificate whose chain reaches the trusted root', () => {
    const result = verifyCertificateChain({
      leaf: device,
      intermediates: [intermediate.cert, tenant.cert],
      trustAnchors: [root.cert],
      at: during,
      extendedKeyUsage: 'clientAuth',
    });
    expect(result.problems).to.deep.equal([]);
    expect(result.valid).to.equal(true);
    expect(result.path.map((c) => c.subject)).to.deep.equal([device.subject, 'CN=tenant 1', 'CN=local DAA intermediate', 'CN=local DAA root']);
  });

  it('accepts a chain that stops at a trusted tenant CA (a relying party that trusts only its tenant)', () => {
    const result = verifyCertificateChain({ leaf: device, trustAnchors: [tenant.cert], at: during });
    expect(result.valid).to.equal(true);
    expect(result.path).to.have.length(2);
  });

  it('names each problem: expiry, missing issuer, wrong purpose', () => {
    const later = new Date(issuedAt.getTime() + 25 * HOUR_MS);
    const expired = verifyCertificateChain({ leaf: device, intermediates: [intermediate.cert, tenant.cert], trustAnchors: [root.cert], at: later });
    expect(expired.valid).to.equal(false);
    expect(expired.problems.map((p) => p.code)).to.deep.equal(['expired']);

    const early = verifyCertificateChain({ leaf: device, trustAnchors: [tenant.cert], at: new Date('2026-05-31T00:00:00Z') });
    expect(early.problems.map((p) => p.code)).to.deep.equal(['not-yet-valid']);

    const gap = verifyCertificateChain({ leaf: device, intermediates: [tenant.cert], trustAnchors: [root.cert], at: during });
    expect(gap.problems.map((p) => p.code)).to.deep.equal(['issuer-not-found']);
    expect(gap.problems[0]!.message).to.contain('CN=local DAA intermediate');

    const purpose = verifyCertificateChain({ leaf: device, trustAnchors: [tenant.cert], at: during, extendedKeyUsage: 'serverAuth' });
    expect(purpose.problems.map((p) => p.code)).to.deep.equal(['extended-key-usage-missing']);
  });

  it('refuses a certificate from another CA of the same name, and a tampered signature', async () => {
    const impostorRoot = await createCa({ subject: 'CN=local DAA root', notBefore: new Date('2026-01-01'), days: 3650 });
    const impostorIntermediate = await createCa({ subject: 'CN=local DAA intermediate', parent: impostorRoot, notBefore: new Date('2026-01-01') });
    const impostor = verifyCertificateChain({ leaf: impostorIntermediate.cert, trustAnchors: [root.cert], at: during });
    expect(impostor.valid).to.equal(false);
    expect(impostor.problems.map((p) => p.code)).to.deep.equal(['issuer-not-found']);

    const tampered = Buffer.from(device.der);
    tampered[tampered.length - 1]! ^= 0x01; // last byte of the signature's s
    const result = verifyCertificateChain({ leaf: Certificate.fromDer(tampered), trustAnchors: [tenant.cert], at: during });
    expect(result.problems.map((p) => p.code)).to.deep.equal(['signature-invalid']);
  });

  it('refuses certificates issued by a non-CA and paths longer than a CA allows', async () => {
    const leafKeys = generateSigningKeyPair();
    const holderKeys = generateSigningKeyPair();
    const holder = await issueCertificate({ issuer: tenant, subject: 'CN=not a CA', publicKey: holderKeys.publicKey, notBefore: new Date('2026-01-01') });
    const child = await issueCertificate({
      issuer: { cert: holder, privateKey: holderKeys.privateKey },
      subject: 'CN=child',
      publicKey: leafKeys.publicKey,
      notBefore: new Date('2026-01-01'),
    });
    const result = verifyCertificateChain({ leaf: child, intermediates: [holder], trustAnchors: [tenant.cert], at: during });
    expect(result.problems.map((p) => p.code)).to.include.members(['issuer-not-ca', 'issuer-cannot-sign-certificates']);

    const subCaKeys = generateSigningKeyPair();
    const subCa = await issueCertificate({ issuer: tenant, subject: 'CN=sub CA', publicKey: subCaKeys.publicKey, ca: true, notBefore: new Date('2026-01-01') });
    const deep = await issueCertificate({
      issuer: { cert: subCa, privateKey: subCaKeys.privateKey },
      subject: 'CN=deep',
      publicKey: leafKeys.publicKey,
      notBefore: new Date('2026-01-01'),
    });
    const tooLong = verifyCertificateChain({ leaf: deep, intermediates: [subCa, tenant.cert, intermediate.cert], trustAnchors: [root.cert], at: during });
    expect(tooLong.problems.map((p) => p.code)).to.deep.equal(['path-length-exceeded']);
    expect(tooLong.problems[0]!.subject).to.equal('CN=tenant 1');
  });
});
