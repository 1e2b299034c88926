import { expect } from 'chai';
import { createCa, issueCertificate, type CertificateAuthority } from '../../src/pki/certificate-authority.js';
import { CertificateError } from '../../src/pki/certificate-error.js';
import type { Certificate } from '../../src/pki/certificate.js';
import { decodePkcs7Chain, encodePkcs7Chain, encodePkcs7ChainPem } from '../../src/pki/pkcs7-chain.js';
import { createRevocationList, RevocationList } from '../../src/pki/revocation-list.js';
import { generateSigningKeyPair } from '../../src/pki/signing-key.js';
import { openssl, ScratchDir } from './openssl.js';

describe('revocation lists and PKCS#7 chains', () => {
  let scratch: ScratchDir;
  let root: CertificateAuthority;
  let tenant: CertificateAuthority;
  let revoked: Certificate;
  let good: Certificate;

  before(async () => {
    root = await createCa({ subject: 'CN=local DAA root' });
    tenant = await createCa({ subject: 'CN=tenant CA', parent: root });
    const device = (subject: string) =>
      issueCertificate({ issuer: tenant, subject, publicKey: generateSigningKeyPair().publicKey, extendedKeyUsages: ['clientAuth'] });
    revoked = await device('CN=revoked device');
    good = await device('CN=good device');
  });
  beforeEach(() => {
    scratch = new ScratchDir();
  });
  afterEach(() => scratch.remove());

  describe('a tenant CRL', () => {
    it('is signed by the tenant CA as openssl sees it, and lists the revoked serial with its reason', async () => {
      const crl = await createRevocationList({
        issuer: tenant,
        revoked: [{ serialNumber: revoked.serialNumber, reason: 'keyCompromise', revocationDate: new Date('2026-02-01T00:00:00Z') }],
        crlNumber: 7,
        days: 7,
      });
      const crlFile = scratch.write('tenant.crl.pem', crl.toPem());
      const tenantFile = scratch.write('tenant.pem', tenant.cert.toPem());
      const check = openssl(['crl', '-in', crlFile, '-CAfile', tenantFile, '-noout', '-text']);
      expect(check.status, check.stderr).to.equal(0);
      expect(check.stderr + check.stdout).to.match(/verify OK/);
      expect(check.stdout).to.contain(`Serial Number: ${revoked.serialNumber.toUpperCase()}`);
      expect(check.stdout).to.match(/Key Compromise/);
      expect(check.stdout).to.match(/X509v3 CRL Number:\s*\n\s*7/);
      expect(check.stdout).to.match(/Issuer: CN = tenant CA/);

      expect(crl.isRevoked(revoked)).to.equal(true);
      expect(crl.isRevoked(good)).to.equal(false);
      expect(crl.crlNumber).to.equal(7n);
      expect(crl.revoked).to.deep.equal([{ serialNumber: revoked.serialNumber, revocationDate: new Date('2026-02-01T00:00:00Z'), reason: 'keyCompromise' }]);
      expect(await crl.isSignedBy(tenant.cert)).to.equal(true);
      expect(await crl.isSignedBy(root.cert)).to.equal(false);
      expect(crl.nextUpdate!.getTime() - crl.thisUpdate.getTime()).to.be.closeTo(7 * 24 * 3600 * 1000, 1000);
    });

    it('makes openssl verify -crl_check refuse the revoked certificate and accept the other', async () => {
      const crl = await createRevocationList({ issuer: tenant, revoked: [{ serialNumber: revoked.serialNumber }] });
      const rootCrl = await createRevocationList({ issuer: root });
      const chain = scratch.write('chain.pem', root.cert.toPem() + tenant.cert.toPem());
      const crls = scratch.write('crls.pem', crl.toPem() + rootCrl.toPem());
      const verify = (cert: Certificate) =>
        openssl(['verify', '-crl_check_all', '-CAfile', chain, '-CRLfile', crls, scratch.write('leaf.pem', cert.toPem())]);
      const accepted = verify(good);
      expect(accepted.status, accepted.stdout + accepted.stderr).to.equal(0);
      const refused = verify(revoked);
      expect(refused.status).to.not.equal(0);
      expect(refused.stdout + refused.stderr).to.match(/certificate revoked/);
    });

    it('reads back from PEM and DER, and names what is wrong with other input', async () => {
      const crl = await createRevocationList({ issuer: tenant, revoked: [{ serialNumber: good.serialNumber }, { serialNumber: revoked.serialNumber }] });
      expect(RevocationList.parse(crl.toPem()).revoked).to.have.length(2);
      expect(RevocationList.parse(crl.der).isRevoked(good.serialNumber.toUpperCase())).to.equal(true);
      // A serial with its high bit set is padded to stay a positive INTEGER.
      const highBit = await createRevocationList({ issuer: tenant, revoked: [{ serialNumber: 'FF01' }] });
      expect(highBit.revoked[0]!.serialNumber).to.equal('ff01');
      expect(openssl(['crl', '-noout', '-text', '-in', scratch.write('high.crl', highBit.toPem())]).stdout).to.contain('Serial Number: FF01');
      expect(() => RevocationList.parse('nothing here', 'tenant.crl')).to.throw(CertificateError, /tenant\.crl: no BEGIN X509 CRL block/);
      expect(() => RevocationList.fromDer(tenant.cert.der, 'tenant.pem')).to.throw(CertificateError, /tenant\.pem: not a valid X\.509 CRL/);
    });
  });

  describe('a PKCS#7 chain', () => {
    it('holds the chain in order, as openssl pkcs7 -print_certs lists it', () => {
      const file = scratch.write('chain.p7b', encodePkcs7ChainPem([tenant.cert, root.cert]));
      const listed = openssl(['pkcs7', '-in', file, '-print_certs', '-noout']);
      expect(listed.status, listed.stderr).to.equal(0);
      expect(listed.stdout.match(/subject=.*/g)).to.deep.equal(['subject=CN = tenant CA', 'subject=CN = local DAA root']);

      const derFile = scratch.write('chain.p7b.der', encodePkcs7Chain([tenant.cert, root.cert]));
      expect(openssl(['pkcs7', '-inform', 'DER', '-in', derFile, '-print_certs', '-noout']).status).to.equal(0);
    });

    it('reads back a bundle openssl wrote', () => {
      const certs = scratch.write('certs.pem', tenant.cert.toPem() + root.cert.toPem());
      const out = scratch.file('out.p7b');
      expect(openssl(['crl2pkcs7', '-nocrl', '-certfile', certs, '-out', out]).status).to.equal(0);
      const decoded = decodePkcs7Chain(openssl(['pkcs7', '-in', out]).stdout, out);
      expect(decoded.map((c) => c.thumbprintHex)).to.deep.equal([tenant.cert.thumbprintHex, root.cert.thumbprintHex]);
      expect(decodePkcs7Chain(encodePkcs7Chain([root.cert]))[0]!.equals(root.cert)).to.equal(true);
      expect(() => decodePkcs7Chain(root.cert.toPem(), 'tenant.p7b')).to.throw(CertificateError, /tenant\.p7b: no BEGIN PKCS7 block/);
      expect(() => decodePkcs7Chain(root.cert.der, 'tenant.p7b')).to.throw(CertificateError, /tenant\.p7b: not a PKCS#7 certificate bundle/);
    });
  });
});
