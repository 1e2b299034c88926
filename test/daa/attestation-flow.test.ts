import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { Certificate, parseCertificates } from '../../src/pki/certificate.js';
import { decodePkcs7Chain } from '../../src/pki/pkcs7-chain.js';
import { exportPublicKeyDer, generateSigningKeyPair } from '../../src/pki/signing-key.js';
import { EVIDENCE_EXTENSION_OID, type AffirmingResult } from '../../src/daa/protocol.js';
import { readEvidenceExtension } from '../../src/daa/device-certificate.js';
import { openssl, ScratchDir } from '../pki/openssl.js';
import { DaaFixture } from './helpers/daa-fixture.js';
import { SimulatedDevice } from './helpers/simulated-device.js';

describe('local DAA service: challenge/response attestation and the issued certificate', function () {
  this.timeout(30_000);
  let daa: DaaFixture;
  let scratch: ScratchDir;

  before(async () => {
    daa = await DaaFixture.start();
    scratch = new ScratchDir();
  });
  after(async () => {
    await daa.stop();
    scratch.remove();
  });

  it('affirms a claimed device running trusted software and issues a 24 h clientAuth certificate for the bound key', async () => {
    const device = new SimulatedDevice();
    const tenant = await daa.tenantFor(device);
    const session = await daa.client.createSession({ deviceId: device.deviceId });
    expect(Buffer.from(session.nonce, 'base64url')).to.have.length(32);
    expect(session.tenant).to.equal(tenant.id);
    const certificateKey = generateSigningKeyPair();
    const evidence = device.sign(device.claims(session.nonce, tenant.id, certificateKey.publicKey));
    const result = (await daa.client.submitEvidence(session.sessionId, evidence)) as AffirmingResult;
    expect(result.verdict, JSON.stringify(result)).to.equal('affirming');

    const cert = Certificate.fromDer(parseCertificates(result.certificatePem)[0]!.der);
    expect(cert.subject).to.equal(`CN=${device.deviceId}`);
    expect(cert.commonName).to.have.length(128);
    expect(cert.notAfter.getTime() - cert.notBefore.getTime()).to.equal(24 * 3600 * 1000);
    expect(cert.keyUsages).to.deep.equal(['digitalSignature']);
    expect(cert.extendedKeyUsages).to.deep.equal(['clientAuth']);
    expect(cert.isCa).to.equal(false);
    expect(cert.subjectKeyIdentifier).to.be.a('string');
    const [tenantCa, intermediate, root] = parseCertificates(result.chainPem);
    expect(cert.authorityKeyIdentifier).to.equal(tenantCa!.subjectKeyIdentifier);
    expect(cert.isIssuedBy(tenantCa!)).to.equal(true);
    expect(tenantCa!.thumbprintHex).to.equal(tenant.activeCa!.thumbprint);
    expect(exportPublicKeyDer(cert.publicKey).equals(exportPublicKeyDer(certificateKey.publicKey)), 'certified key is the bound key').to.equal(true);
    const extension = cert.extension(EVIDENCE_EXTENSION_OID)!;
    expect(extension.critical).to.equal(false);
    expect(readEvidenceExtension(extension.value)?.toString('hex')).to.equal(createHash('sha256').update(evidence).digest('hex'));
    expect(result.evidenceSha256).to.equal(createHash('sha256').update(evidence).digest('hex'));

    // An independent implementation agrees: openssl verifies it for client auth against the downloaded chain.
    const chain = decodePkcs7Chain(await daa.client.tenantChainPkcs7(tenant.id));
    expect(chain.map((c) => c.thumbprintHex)).to.deep.equal([tenantCa, intermediate, root].map((c) => c!.thumbprintHex));
    const leafFile = scratch.write('leaf.pem', result.certificatePem);
    const rootFile = scratch.write('root.pem', root!.toPem());
    const untrusted = scratch.write('untrusted.pem', tenantCa!.toPem() + intermediate!.toPem());
    const verified = openssl(['verify', '-purpose', 'sslclient', '-CAfile', rootFile, '-untrusted', untrusted, leafFile]);
    expect(verified.status, verified.stderr + verified.stdout).to.equal(0);
    const text = openssl(['x509', '-in', leafFile, '-noout', '-text']).stdout;
    expect(text).to.include('TLS Web Client Authentication');
    expect(text).to.include('1.3.6.1.4.1.311.98.1');
    expect(text).to.match(/Key Usage: critical\s+Digital Signature/);
  });

  it('records accepted and refused attestations in the audit log, with reasons', async () => {
    const device = new SimulatedDevice();
    const tenant = await daa.tenantFor(device);
    const ok = await daa.client.createSession({ deviceId: device.deviceId });
    await daa.client.submitEvidence(ok.sessionId, device.sign(device.claims(ok.nonce, tenant.id)));
    const bad = await daa.client.createSession({ deviceId: device.deviceId });
    await daa.client.submitEvidence(bad.sessionId, device.sign(device.claims(ok.nonce, tenant.id)));
    const audit = await daa.client.audit({ deviceId: device.deviceId });
    expect(audit.map((e) => e.verdict)).to.deep.equal(['refused', 'affirming']);
    expect(audit[0]!.reasons.map((r) => r.code)).to.deep.equal(['nonce-mismatch']);
    expect(audit[1]!.certificateSerial).to.match(/^[0-9a-f]+$/);
    const byTenant = await daa.client.audit({ tenant: tenant.name, verdict: 'affirming' });
    expect(byTenant).to.have.length(1);
  });

  it('lets the same device attest again in the same boot, with a fresh key each time', async () => {
    const device = new SimulatedDevice();
    const tenant = await daa.tenantFor(device);
    const serials: string[] = [];
    for (let i = 0; i < 2; i++) {
      const session = await daa.client.createSession({ deviceId: device.deviceId });
      const result = await daa.client.submitEvidence(session.sessionId, device.sign(device.claims(session.nonce, tenant.id)));
      expect(result.verdict).to.equal('affirming');
      serials.push((result as AffirmingResult).serialNumber);
    }
    expect(serials[0]).to.not.equal(serials[1]);
    expect((await daa.client.device(device.deviceId)).certificates).to.equal(2);
  });
});
