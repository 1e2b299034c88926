import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCa, type CertificateAuthority } from '../../pki/certificate-authority.js';
import { parseCertificate } from '../../pki/certificate.js';
import { exportPrivateKeyPem, importPrivateKeyPem, signingKeyPairFromPrivateKey } from '../../pki/signing-key.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { InputError } from '../../util/failure.js';

/**
 * The rig's own stand-in for Microsoft's "Azure Sphere Device" CA: every
 * emulated board's REST API certificate chains to it, and hosts pin its
 * certificate exactly as they pin Microsoft's for real boards. One per state
 * folder, created at provisioning (or at the first emulator start of an older
 * state folder):
 *   <state>/rest-ca/ca.cert.pem   the certificate clients pin (mode 0644)
 *   <state>/rest-ca/ca.key.pem    its P-256 key (mode 0600, folder 0700)
 */
export const REST_CA_DIR = 'rest-ca';
export const REST_CA_CERT_FILE = 'ca.cert.pem';
export const REST_CA_KEY_FILE = 'ca.key.pem';
export const REST_CA_SUBJECT = 'CN=sphere-rig emulated Azure Sphere Device CA, O=sphere-rig';

const TWENTY_YEARS_DAYS = 20 * 365 + 5;

export function restCaPaths(stateDir: string): { dir: string; cert: string; key: string } {
  const dir = join(stateDir, REST_CA_DIR);
  return { dir, cert: join(dir, REST_CA_CERT_FILE), key: join(dir, REST_CA_KEY_FILE) };
}

/** Creates the CA if either file is missing; returns the path of the certificate to pin. */
export async function ensureRestCa(stateDir: string): Promise<string> {
  const paths = restCaPaths(stateDir);
  if (existsSync(paths.cert) && existsSync(paths.key)) return paths.cert;
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const ca = await createCa({ subject: REST_CA_SUBJECT, days: TWENTY_YEARS_DAYS });
  // Key first: a certificate on disk always has its key beside it.
  writeFileAtomic(paths.key, exportPrivateKeyPem(ca.privateKey), 0o600);
  writeFileAtomic(paths.cert, ca.cert.toPem(), 0o644);
  return paths.cert;
}

export function loadRestCa(stateDir: string): CertificateAuthority {
  const paths = restCaPaths(stateDir);
  let certPem: Buffer;
  let keyPem: Buffer;
  try {
    certPem = readFileSync(paths.cert);
    keyPem = readFileSync(paths.key);
  } catch (error) {
    throw new InputError('rest-ca-missing', `${paths.dir}: the REST API CA is missing or unreadable (${(error as NodeJS.ErrnoException).code ?? String(error)})`, {
      dir: paths.dir,
    });
  }
  const cert = parseCertificate(certPem, paths.cert);
  const pair = signingKeyPairFromPrivateKey(importPrivateKeyPem(keyPem, paths.key));
  return { cert, privateKey: pair.privateKey, publicKey: pair.publicKey };
}
