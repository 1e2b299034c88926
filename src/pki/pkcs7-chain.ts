import { X509Certificates } from '@peculiar/x509';
import { Certificate } from './certificate.js';
import { CertificateError } from './certificate-error.js';

/**
 * Certificate chains as a PKCS#7 "certs-only" SignedData (a .p7b), the form the
 * Azure Sphere security service offers a tenant CA chain in.
 */
export function encodePkcs7Chain(certificates: readonly Certificate[]): Buffer {
  const collection = new X509Certificates(certificates.map((certificate) => certificate.toX509()));
  return Buffer.from(collection.export('raw'));
}

/**
 * PEM with the conventional `PKCS7` label (@peculiar/x509 writes `CMS`, which
 * fewer tools accept).
 */
export function encodePkcs7ChainPem(certificates: readonly Certificate[]): string {
  const lines = encodePkcs7Chain(certificates).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN PKCS7-----\n${lines.join('\n')}\n-----END PKCS7-----\n`;
}

/** The certificates of a PKCS#7 bundle, from DER or PEM (label PKCS7, CMS or "PKCS #7 SIGNED DATA"). */
export function decodePkcs7Chain(input: string | Uint8Array, source = 'PKCS#7 bundle'): Certificate[] {
  const der = toDer(input, source);
  let collection: X509Certificates;
  try {
    collection = new X509Certificates(new Uint8Array(der));
  } catch (error) {
    const problem = error instanceof Error ? error.message : String(error);
    throw new CertificateError('certificate-malformed', source, `not a PKCS#7 certificate bundle (${problem})`, { cause: error });
  }
  if (collection.length === 0) throw new CertificateError('certificate-missing', source, 'the PKCS#7 bundle holds no certificates');
  return collection.map((x509, index) => Certificate.fromDer(Buffer.from(x509.rawData), `${source} (certificate ${index + 1})`));
}

function toDer(input: string | Uint8Array, source: string): Buffer {
  if (typeof input !== 'string' && input.length > 0 && input[0] === 0x30) return Buffer.from(input);
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
  const match = /-----BEGIN (PKCS7|CMS|PKCS #7 SIGNED DATA)-----([\s\S]*?)-----END \1-----/.exec(text);
  if (!match) throw new CertificateError('certificate-missing', source, 'no BEGIN PKCS7 block in it');
  return Buffer.from((match[2] ?? '').replace(/\s+/g, ''), 'base64');
}
