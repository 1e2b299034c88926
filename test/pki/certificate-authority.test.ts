import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import {
  createCa,
  createSelfSigned,
  issueCertificate,
  randomSerialNumber,
  type CertificateAuthority,
  type IssueCertificateParams,
} from '../../src/pki/certificate-authority.js';
import { CertificateError } from '../../src/pki/certificate-error.js';
import { exportPrivateKeyPem, generateSigningKeyPair, publicKeyToPoint } from '../../src/pki/signing-key.js';
import { openssl, ScratchDir } from './openssl.js';

const DAA_EVIDENCE_OID = '1.3.6.1.4.1.311.98.1';
const HOUR_MS = 60 * 60 * 1000;

/** DER OCTET STRING of `content`, as a stand-in evidence digest value. */
function octetString(content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x04, content.length]), content]);
}

describe('certificate authorities', () => {
  let scratch: ScratchDir;
  let root: CertificateAuthority;
  let intermediate: CertificateAuthority;

  before(async () => {
    root = await createCa({ subject: 'CN=sphere-rig test root, O=sphere-rig', days: 3650 });
    intermediate = await createCa({ subject: { CN: 'sphere-rig test intermediate', O: 'sphere-rig' }, parent: root, days: 1825, pathLength: 0 });
  });
  beforeEach(() => {
    scratch = new ScratchDir();
  });
  afterEach(() => scratch.remove());

  describe('a device certificate under root -> intermediate', () => {
    const device = generateSigningKeyPair();
    const deviceId = publicKeyToPoint(device.publicKey).toString('hex').toUpperCase();
    const digest = randomBytes(32);
    const notBefore = new Date(Date.now() - 60_000);

    async function issueDeviceCert(critical = false) {
      return issueCertificate({
        issuer: intermediate,
        subject: { CN: deviceId },
        publicKey: device.publicKey,
        notBefore,
        notAfter: new Date(notBefore.getTime() + 24 * HOUR_MS),
        keyUsages: ['digitalSignature'],
        extendedKeyUsages: ['clientAuth'],
        subjectAltNames: ['*.devices.sphere.azure.local', '127.0.0.1'],
        extensions: [{ oid: DAA_EVIDENCE_OID, value: octetString(digest), critical }],
      });
    }

    it('has a 128-character CN and verifies with openssl verify -CAfile root -untrusted intermediate', async () => {
      const leaf = await issueDeviceCert();
      expect(deviceId).to.have.length(128);
      expect(leaf.commonName).to.equal(deviceId);
      const rootFile = scratch.write('root.pem', root.cert.toPem());
      const intermediateFile = scratch.write('intermediate.pem', intermediate.cert.toPem());
      const leafFile = scratch.write('leaf.pem', leaf.toPem());
      const result = openssl(['verify', '-CAfile', rootFile, '-untrusted', intermediateFile, leafFile]);
      expect(result.status, result.stderr + result.stdout).to.equal(0);
      expect(result.stdout).to.contain(': OK');
      // Without the intermediate there is no path.
      expect(openssl(['verify', '-CAfile', rootFile, leafFile]).status).to.not.equal(0);
      // openssl's own purpose check agrees with the EKU.
      expect(openssl(['verify', '-CAfile', rootFile, '-untrusted', intermediateFile, '-purpose', 'sslclient', leafFile]).status).to.equal(0);
      expect(openssl(['verify', '-CAfile', rootFile, '-untrusted', intermediateFile, '-purpose', 'sslserver', leafFile]).status).to.not.equal(0);
    });

    it('carries the SANs, key usage, EKU and the evidence extension, as openssl x509 -text shows them', async () => {
      const leaf = await issueDeviceCert();
      const text = openssl(['x509', '-noout', '-text', '-in', scratch.write('leaf.pem', leaf.toPem())]).stdout;
      expect(text).to.contain(`Subject: CN = ${deviceId}`);
      expect(text).to.match(/X509v3 Subject Alternative Name:\s*\n\s*DNS:\*\.devices\.sphere\.azure\.local, IP Address:127\.0\.0\.1/);
      expect(text).to.match(/X509v3 Extended Key Usage:\s*\n\s*TLS Web Client Authentication/);
      expect(text).to.match(/X509v3 Key Usage: critical\s*\n\s*Digital Signature\s*\n/);
      expect(text).to.match(/X509v3 Basic Constraints: critical\s*\n\s*CA:FALSE/);
      expect(text).to.match(new RegExp(`${DAA_EVIDENCE_OID.replace(/\./g, '\\.')}:\\s*\\n`));
      expect(text).to.not.match(new RegExp(`${DAA_EVIDENCE_OID.replace(/\./g, '\\.')}: critical`));
      expect(text).to.match(/X509v3 Subject Key Identifier/);
      expect(text).to.match(/X509v3 Authority Key Identifier/);
    });

    it('reads the same back when parsed', async () => {
      const leaf = await issueDeviceCert();
      expect(leaf.subjectAltNames).to.deep.equal([
        { type: 'dns', value: '*.devices.sphere.azure.local' },
        { type: 'ip', value: '127.0.0.1' },
      ]);
      expect(leaf.keyUsages).to.deep.equal(['digitalSignature']);
      expect(leaf.extendedKeyUsages).to.deep.equal(['clientAuth']);
      expect(leaf.extension(DAA_EVIDENCE_OID)).to.deep.equal({ oid: DAA_EVIDENCE_OID, critical: false, value: octetString(digest) });
      expect(leaf.isCa).to.equal(false);
      expect(leaf.issuer).to.equal(intermediate.cert.subject);
      expect(leaf.authorityKeyIdentifier).to.equal(intermediate.cert.subjectKeyIdentifier);
      expect(leaf.subjectKeyIdentifier).to.be.a('string').and.not.equal(leaf.authorityKeyIdentifier);
      expect(leaf.notAfter.getTime() - leaf.notBefore.getTime()).to.equal(24 * HOUR_MS);
      expect(leaf.isIssuedBy(intermediate.cert)).to.equal(true);
      expect(leaf.isIssuedBy(root.cert)).to.equal(false);
      expect(publicKeyToPoint(leaf.publicKey).toString('hex').toUpperCase()).to.equal(deviceId);
    });

    it('marks an extra extension critical when asked, which openssl then refuses as unhandled', async () => {
      const leaf = await issueDeviceCert(true);
      expect(leaf.extension(DAA_EVIDENCE_OID)?.critical).to.equal(true);
      const rootFile = scratch.write('root.pem', root.cert.toPem());
      const intermediateFile = scratch.write('intermediate.pem', intermediate.cert.toPem());
      const result = openssl(['verify', '-CAfile', rootFile, '-untrusted', intermediateFile, scratch.write('leaf.pem', leaf.toPem())]);
      expect(result.status).to.not.equal(0);
      expect(result.stdout + result.stderr).to.match(/unhandled critical extension/i);
    });
  });

  it('makes CA certificates with basic constraints, path length and certificate-signing usages', () => {
    expect(root.cert.isCa).to.equal(true);
    expect(root.cert.isSelfIssued).to.equal(true);
    expect(root.cert.pathLength).to.equal(undefined);
    expect(root.cert.keyUsages).to.have.members(['keyCertSign', 'cRLSign', 'digitalSignature']);
    expect(root.cert.authorityKeyIdentifier).to.equal(root.cert.subjectKeyIdentifier);
    expect(intermediate.cert.isCa).to.equal(true);
    expect(intermediate.cert.pathLength).to.equal(0);
    expect(intermediate.cert.issuer).to.equal('CN=sphere-rig test root, O=sphere-rig');
    expect(intermediate.cert.subject).to.equal('CN=sphere-rig test intermediate, O=sphere-rig');
    expect(intermediate.cert.authorityKeyIdentifier).to.equal(root.cert.subjectKeyIdentifier);
  });

  it('issues a TLS server certificate a Node client accepts for a wildcard name and for 127.0.0.1', async () => {
    const serverKeys = generateSigningKeyPair();
    const serverCert = await issueCertificate({
      issuer: root,
      subject: 'CN=sphere-rig emulated board',
      publicKey: serverKeys.publicKey,
      days: 1,
      keyUsages: ['digitalSignature', 'keyAgreement'],
      extendedKeyUsages: ['serverAuth'],
      subjectAltNames: ['*.devices.sphere.azure.local', '127.0.0.1'],
    });
    const server = createServer({ key: exportPrivateKeyPem(serverKeys.privateKey), cert: serverCert.toPem() }, (socket) => socket.end('hello'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      const handshake = (servername?: string) =>
        new Promise<string>((resolve, reject) => {
          const socket = connect({ host: '127.0.0.1', port, ca: root.cert.toPem(), ...(servername ? { servername } : {}) }, () => {
            socket.once('data', (data) => resolve(data.toString()));
          });
          socket.once('error', reject);
        });
      expect(await handshake('board-1.devices.sphere.azure.local')).to.equal('hello');
      expect(await handshake()).to.equal('hello'); // identity checked against IP 127.0.0.1
      const wrongName = await handshake('board-1.example.com').catch((error: Error) => error);
      expect(wrongName).to.be.instanceOf(Error);
      expect((wrongName as NodeJS.ErrnoException).code).to.equal('ERR_TLS_CERT_ALTNAME_INVALID');
    } finally {
      server.close();
    }
  });

  it('makes self-signed certificates for a given key and lifetime', async () => {
    const keyPair = generateSigningKeyPair();
    const notBefore = new Date('2026-01-01T00:00:00.500Z');
    const cert = await createSelfSigned({
      subject: 'CN=self, O=sphere-rig',
      keyPair,
      notBefore,
      days: 7305,
      keyUsages: ['digitalSignature'],
      extendedKeyUsages: ['codeSigning', '1.2.3.4.5'],
    });
    expect(cert.notBefore.toISOString()).to.equal('2026-01-01T00:00:00.000Z');
    expect(cert.notAfter.toISOString()).to.equal('2046-01-01T00:00:00.000Z');
    expect(cert.isSignedBy(cert)).to.equal(true);
    expect(cert.isCa).to.equal(false);
    expect(cert.extendedKeyUsages).to.deep.equal(['codeSigning', '1.2.3.4.5']);
    const file = scratch.write('self.pem', cert.toPem());
    expect(openssl(['verify', '-CAfile', file, '-partial_chain', file]).status).to.equal(0);
  });

  it('uses random positive 16-byte serial numbers', async () => {
    const serials = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const serial = randomSerialNumber();
      expect(serial).to.match(/^[0-7][0-9a-f]{31}$/);
      expect(serial.slice(0, 2)).to.not.equal('00');
      serials.add(serial);
    }
    expect(serials.size).to.equal(200);
    const a = await issueCertificate({ issuer: root, subject: 'CN=a', publicKey: generateSigningKeyPair().publicKey });
    const b = await issueCertificate({ issuer: root, subject: 'CN=b', publicKey: generateSigningKeyPair().publicKey });
    expect(a.serialNumber).to.have.length(32).and.not.equal(b.serialNumber);
    const text = openssl(['x509', '-noout', '-serial', '-in', scratch.write('a.pem', a.toPem())]).stdout;
    expect(text.trim().toLowerCase()).to.equal(`serial=${a.serialNumber}`);
  });

  it('refuses an issuer whose private key is not its certificate key', async () => {
    const impostor = { cert: root.cert, privateKey: generateSigningKeyPair().privateKey };
    const error = await issueCertificate({ issuer: impostor, subject: 'CN=x', publicKey: generateSigningKeyPair().publicKey }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(CertificateError);
    expect((error as Error).message).to.match(/private key does not belong to its certificate/);
  });

  it('refuses bad validity, bad OIDs, duplicate extensions and unusable names, saying which', async () => {
    const publicKey = generateSigningKeyPair().publicKey;
    const issue = (profile: Partial<IssueCertificateParams>) => issueCertificate({ issuer: root, subject: 'CN=x', publicKey, ...profile });
    // Thunks: each attempt starts only when awaited, so no rejection goes unhandled meanwhile.
    const attempts: [() => Promise<unknown>, RegExp][] = [
      [() => issue({ notBefore: new Date('2030-01-01'), notAfter: new Date('2029-01-01') }), /notAfter .* is not after notBefore/],
      [() => issue({ days: 0 }), /days must be positive/],
      [() => issue({ extensions: [{ oid: 'not.an.oid', value: Buffer.from([5, 0]) }] }), /"not\.an\.oid" is not a dotted OID/],
      [() => issue({ extensions: [{ oid: '2.5.29.19', value: Buffer.from([0x30, 0]) }] }), /2\.5\.29\.19 given twice/],
      [() => issue({ subject: {} }), /distinguished name: cannot use \{\}/],
    ];
    for (const [attempt, message] of attempts) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error, String(message)).to.be.instanceOf(CertificateError);
      expect((error as Error).message).to.match(message);
    }
  });
});
