import { expect } from 'chai';
import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { CertificateError } from '../../src/pki/certificate-error.js';
import {
  Certificate,
  loadCertificate,
  loadCertificates,
  parseCertificate,
  parseCertificates,
  toCertificateBundlePem,
  toCertificatePem,
} from '../../src/pki/certificate.js';
import { exportPrivateKeyPem, generateSigningKeyPair, publicKeyToPoint } from '../../src/pki/signing-key.js';
import { normalizeSha1Thumbprint, sha1ThumbprintHex, sha256ThumbprintHex } from '../../src/pki/thumbprint.js';
import { InputError } from '../../src/util/failure.js';
import { DEVICE_API_CA, fixturePath, readFixture, SDK_TEST_CERT } from '../helpers/fixtures.js';
import { ScratchDir } from './openssl.js';

const SDK_TEST_THUMBPRINT = 'a8d5cc6958f48710140d7a26160fc1cfc31f5df0';

describe('certificate thumbprints', () => {
  it('gives the SDK test certificate the SHA-1 thumbprint a8d5cc69...5df0', async () => {
    const cert = await loadCertificate(fixturePath(SDK_TEST_CERT));
    expect(cert.thumbprintHex).to.equal(SDK_TEST_THUMBPRINT);
    expect(cert.thumbprint).to.have.length(20);
    expect(sha1ThumbprintHex(cert.der)).to.equal(SDK_TEST_THUMBPRINT);
  });

  it('gives the SHA-256 thumbprint Node computes', async () => {
    const cert = await loadCertificate(fixturePath(SDK_TEST_CERT));
    const node = new NodeX509Certificate(readFixture(SDK_TEST_CERT));
    expect(sha256ThumbprintHex(cert.der)).to.equal(node.fingerprint256.replace(/:/g, '').toLowerCase());
    expect(cert.sha256Thumbprint.toString('hex')).to.equal(node.fingerprint256.replace(/:/g, '').toLowerCase());
  });

  it('normalises thumbprints written as bytes, upper case or with colons', () => {
    const bytes = Buffer.from(SDK_TEST_THUMBPRINT, 'hex');
    expect(normalizeSha1Thumbprint(bytes)).to.equal(SDK_TEST_THUMBPRINT);
    expect(normalizeSha1Thumbprint('A8:D5:CC:69:58:F4:87:10:14:0D:7A:26:16:0F:C1:CF:C3:1F:5D:F0')).to.equal(SDK_TEST_THUMBPRINT);
    expect(normalizeSha1Thumbprint(SDK_TEST_THUMBPRINT.toUpperCase())).to.equal(SDK_TEST_THUMBPRINT);
    expect(normalizeSha1Thumbprint(bytes.subarray(0, 19))).to.equal(undefined);
    expect(normalizeSha1Thumbprint('a8d5')).to.equal(undefined);
    expect(normalizeSha1Thumbprint('x'.repeat(40))).to.equal(undefined);
  });
});

describe('loading certificates', () => {
  let scratch: ScratchDir;
  beforeEach(() => {
    scratch = new ScratchDir();
  });
  afterEach(() => scratch.remove());

  it('reads subject, issuer, validity, serial, public key and extensions of the SDK test certificate', async () => {
    const cert = await loadCertificate(fixturePath(SDK_TEST_CERT));
    expect(cert.subject).to.equal('C=US, ST=Washington, L=Redmond, O=Microsoft Corporation, CN=Azure Sphere SDK Test');
    expect(cert.issuer).to.equal(cert.subject);
    expect(cert.commonName).to.equal('Azure Sphere SDK Test');
    expect(cert.serialNumber).to.equal('a1f85ed6d3c90f10');
    expect(cert.notBefore.toISOString()).to.equal('2018-05-22T01:16:25.000Z');
    expect(cert.notAfter.toISOString()).to.equal('2038-05-17T01:16:25.000Z');
    expect(cert.isCa).to.equal(true);
    expect(cert.isSelfIssued).to.equal(true);
    expect(cert.isSignedBy(cert)).to.equal(true);
    expect(cert.subjectKeyIdentifier).to.equal('63b08ff0f8f7d97858e3339b507052fa1dcc9e8b');
    expect(cert.authorityKeyIdentifier).to.equal(cert.subjectKeyIdentifier);
    expect(cert.keyUsages).to.equal(undefined);
    expect(cert.isValidAt(new Date('2030-01-01'))).to.equal(true);
    expect(cert.isValidAt(new Date('2040-01-01'))).to.equal(false);
    expect(publicKeyToPoint(cert.publicKey).subarray(0, 4).toString('hex')).to.equal('edf233c0');
    expect(cert.source).to.equal(fixturePath(SDK_TEST_CERT));
  });

  it('reads DER as well as PEM', async () => {
    const pem = await loadCertificate(fixturePath(SDK_TEST_CERT));
    const derFile = scratch.write('sdk.cer', pem.der);
    const der = await loadCertificate(derFile);
    expect(der.equals(pem)).to.equal(true);
    expect(parseCertificate(pem.toPem()).thumbprintHex).to.equal(SDK_TEST_THUMBPRINT);
  });

  it('reads every certificate of a bundle, skipping keys and text around them', async () => {
    const sdk = await loadCertificate(fixturePath(SDK_TEST_CERT));
    const api = await loadCertificates(fixturePath(DEVICE_API_CA));
    const bundle = [
      '# trusted signers',
      sdk.toPem(),
      exportPrivateKeyPem(generateSigningKeyPair().privateKey),
      toCertificateBundlePem(api),
    ].join('\n');
    const file = scratch.write('bundle.pem', bundle);
    const certs = await loadCertificates(file);
    expect(certs.map((c) => c.thumbprintHex)).to.deep.equal([SDK_TEST_THUMBPRINT, ...api.map((c) => c.thumbprintHex)]);
    expect(certs[0]!.source).to.equal(`${file} (certificate 1)`);
  });

  it('insists on exactly one certificate where one is expected', async () => {
    const sdk = await loadCertificate(fixturePath(SDK_TEST_CERT));
    const file = scratch.write('two.pem', sdk.toPem() + sdk.toPem());
    const error = await loadCertificate(file).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(CertificateError).and.include({ code: 'certificate-count' });
    expect((error as Error).message).to.contain(file).and.contain('found 2');
  });

  it('says which file is missing', async () => {
    const missing = scratch.file('nope.pem');
    const error = await loadCertificate(missing).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(CertificateError).and.instanceOf(InputError);
    expect(error).to.include({ code: 'certificate-unreadable', source: missing });
    expect((error as Error).message).to.equal(`${missing}: no such file`);
  });

  it('says when a file holds no certificate, and what it holds instead', async () => {
    const keyOnly = scratch.write('key.pem', exportPrivateKeyPem(generateSigningKeyPair().privateKey));
    const error = await loadCertificates(keyOnly).catch((e: unknown) => e);
    expect(error).to.include({ code: 'certificate-missing' });
    expect((error as Error).message).to.contain(keyOnly).and.contain('found only PRIVATE KEY');
    expect(() => parseCertificates('hello', 'notes.txt')).to.throw(CertificateError, /notes\.txt: no certificate .*neither PEM nor DER/);
  });

  it('says which member of a bundle is damaged', async () => {
    const sdk = await loadCertificate(fixturePath(SDK_TEST_CERT));
    const truncated = sdk.der.subarray(0, 100);
    const pem = sdk.toPem() + toCertificatePem(truncated);
    expect(() => parseCertificates(pem, 'bundle.pem')).to.throw(CertificateError, /bundle\.pem \(certificate 2\): not a valid X\.509 certificate/);
    expect(() => Certificate.fromDer(Buffer.concat([sdk.der, Buffer.from('\n')]), 'sdk.cer'))
      .to.throw(CertificateError, /sdk\.cer: 1 unexpected byte\(s\) after the certificate's DER/);
    expect(() => Certificate.fromDer(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]), 'tiny.der')).to.throw(CertificateError, /tiny\.der: not a valid X\.509/);
    expect(() => parseCertificates('-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n', 'x.pem')).to.throw(CertificateError, /not base64/);
  });

  // Found by `npm run fuzz -- --target rest-bodies`: a certificate whose key Node cannot import
  // parsed, and its publicKey getter then threw a plain Error (a 500 from POST /certstore/certs).
  it('refuses a certificate whose public key does not import, when it is parsed', async () => {
    const sdk = await loadCertificate(fixturePath(SDK_TEST_CERT));
    // id-ecPublicKey (1.2.840.10045.2.1) in the SubjectPublicKeyInfo becomes an OID no one knows.
    const oddKey = Buffer.from(sdk.der.toString('hex').replace('06072a8648ce3d0201', '06072a8648ce3d0209'), 'hex');
    expect(new NodeX509Certificate(oddKey).subject).to.equal(new NodeX509Certificate(sdk.der).subject);
    expect(() => Certificate.fromDer(oddKey, 'odd-key.cer')).to.throw(CertificateError, /^odd-key\.cer: not a valid X\.509 certificate \(.*decode error\)/);
    expect(() => parseCertificate(toCertificatePem(oddKey), 'odd-key.pem')).to.throw(CertificateError, /odd-key\.pem: not a valid X\.509/);
  });
});
