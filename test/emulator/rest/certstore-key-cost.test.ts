import { expect } from 'chai';
import { createPrivateKey } from 'node:crypto';
import { createCa, issueCertificate } from '../../../src/pki/certificate-authority.js';
import { generateSigningKeyPair } from '../../../src/pki/signing-key.js';
import { rawHttps, jsonOf, type RawExchange } from '../../helpers/raw-https.js';
import { RestBoard } from '../../helpers/rest-board.js';

const PRIVATE_KEY_INVALID = 38797327;

// DER, byte by byte: tag, length, contents.
function tlv(tag: number, contents: Buffer): Buffer {
  const n = contents.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, contents]);
}
const seq = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts));
const octets = (bytes: Buffer): Buffer => tlv(0x04, bytes);
const integer = (bytes: number[]): Buffer => tlv(0x02, Buffer.from(bytes));
const OID_PBES2 = Buffer.from('06092a864886f70d01050d', 'hex'); // 1.2.840.113549.1.5.13
const OID_PBKDF2 = Buffer.from('06092a864886f70d01050c', 'hex'); // 1.2.840.113549.1.5.12
const OID_HMAC_SHA256 = Buffer.from('06082a864886f70d0209', 'hex'); // 1.2.840.113549.2.9
const OID_PBE_SHA_3DES = Buffer.from('060a2a864886f70d010c0103', 'hex'); // 1.2.840.113549.1.12.1.3

/** PEM of an EncryptedPrivateKeyInfo with PBES2/PBKDF2-HMAC-SHA256/AES-256-CBC and this iteration count (big-endian bytes). */
function pbkdf2Key(iterations: number[], encrypted: Buffer): string {
  const aes256cbc = Buffer.from('060960864801650304012a', 'hex'); // 2.16.840.1.101.3.4.1.42
  const kdf = seq(OID_PBKDF2, seq(octets(Buffer.alloc(16, 7)), integer(iterations), seq(OID_HMAC_SHA256, Buffer.from([0x05, 0x00]))));
  const scheme = seq(aes256cbc, octets(Buffer.alloc(16, 9)));
  return pem(seq(seq(OID_PBES2, seq(kdf, scheme)), octets(encrypted)));
}

function pem(der: Buffer): string {
  return `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END ENCRYPTED PRIVATE KEY-----\n`;
}

/**
 * POST /certstore/certs/:id with an encrypted key: the key derivation's cost is
 * chosen by whoever wrote the key, and OpenSSL pays it on the emulator's event
 * loop. A key asking for 2^31 PBKDF2 iterations (hours) is refused with the
 * device's invalid-key error at once, and the board keeps answering; an
 * ordinary encrypted key still installs.
 */
describe('device REST API: an encrypted certstore key cannot make the emulator derive keys for hours', function () {
  this.timeout(60_000);
  let rest: RestBoard;
  let developer: string;
  let publicCert: string;
  let keyPem: string;

  before(async () => {
    rest = await RestBoard.start();
    developer = rest.capability([11]).toString('base64');
    const ca = await createCa({ subject: 'CN=Key Cost CA' });
    const key = generateSigningKeyPair();
    publicCert = (await issueCertificate({ issuer: ca, publicKey: key.publicKey, subject: 'CN=key-cost', extendedKeyUsages: ['clientAuth'] })).toPem();
    keyPem = createPrivateKey(key.privateKey.export({ type: 'pkcs8', format: 'pem' })).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'lab-pass' }) as string;
  });

  after(async () => {
    await rest?.stop();
  });

  const install = (id: string, privateKey: string): Promise<RawExchange> =>
    rawHttps({
      port: rest.port,
      ca: rest.ca,
      method: 'POST',
      path: `/certstore/certs/${id}`,
      headers: { 'AZSPHERE-CAPABILITIES': developer, 'Content-Type': 'application/json' },
      body: Buffer.from(JSON.stringify({ certType: 'Client', publicCert, privateKey, password: 'lab-pass' })),
    });

  it('installs an ordinary encrypted key (PBKDF2, 2048 iterations)', async () => {
    const answer = await install('ordinary', keyPem);
    expect(answer.status, answer.body.toString()).to.equal(200);
  });

  it('refuses 2^31 - 1 PBKDF2 iterations with 400 {"error": 38797327} and keeps serving', async () => {
    // The real key's ciphertext, under parameters asking for 2^31 - 1 iterations.
    const encrypted = Buffer.from(keyPem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64').subarray(-48);
    for (const iterations of [[0x7f, 0xff, 0xff, 0xff], [0x0f, 0x42, 0x41]]) {
      const answer = await install('costly', pbkdf2Key(iterations, encrypted));
      expect(answer.status, answer.body.toString()).to.equal(400);
      expect(jsonOf(answer)).to.deep.equal({ error: PRIVATE_KEY_INVALID });
    }
    // PKCS#12 PBE (SHA-1 and 3DES), whose parameters are {salt, iterations}: bounded the same way.
    const pkcs12 = pem(seq(seq(OID_PBE_SHA_3DES, seq(octets(Buffer.alloc(8, 1)), integer([0x7f, 0xff, 0xff, 0xff]))), octets(Buffer.alloc(48, 3))));
    expect(jsonOf(await install('costly', pkcs12))).to.deep.equal({ error: PRIVATE_KEY_INVALID });
    // The same key under the bound (one iteration) is refused only as undecryptable, after being tried.
    expect(jsonOf(await install('cheap', pbkdf2Key([0x01], encrypted)))).to.deep.equal({ error: PRIVATE_KEY_INVALID });
    const status = await rawHttps({ port: rest.port, ca: rest.ca, method: 'GET', path: '/status' });
    expect(status.status).to.equal(200);
  });
});
