import { issueCertificate, type CertificateIssuer } from '../../pki/certificate-authority.js';
import { exportPrivateKeyPem, generateSigningKeyPair } from '../../pki/signing-key.js';

/**
 * The TLS identity an emulated board's REST API presents: a P-256 key and a
 * certificate from the rig's REST CA, valid for the names a host checks. Real
 * clients send `Host: *.devices.sphere.azure.local` and check the server against
 * that name; the loopback IP is there for tools that connect by address.
 */
export const DEVICE_REST_HOST_NAME = '*.devices.sphere.azure.local';
export const REST_SERVER_ADDRESS = '127.0.0.1';

export interface RestServerIdentity {
  keyPem: string;
  certPem: string;
}

const VALIDITY_DAYS = 397;
/** Back-dated so that a host clock a little behind the emulator's still accepts it. */
const BACKDATE_MS = 60 * 60 * 1000;

export async function issueRestServerIdentity(ca: CertificateIssuer): Promise<RestServerIdentity> {
  const keyPair = generateSigningKeyPair();
  const cert = await issueCertificate({
    issuer: ca,
    publicKey: keyPair.publicKey,
    subject: { CN: DEVICE_REST_HOST_NAME, O: 'sphere-rig emulated device' },
    notBefore: new Date(Date.now() - BACKDATE_MS),
    days: VALIDITY_DAYS,
    keyUsages: ['digitalSignature'],
    extendedKeyUsages: ['serverAuth'],
    subjectAltNames: [DEVICE_REST_HOST_NAME, REST_SERVER_ADDRESS],
  });
  return { keyPem: exportPrivateKeyPem(keyPair.privateKey), certPem: cert.toPem() };
}
