import { readInputFile } from './files.js';
import { parseCertificate } from '../pki/certificate.js';
import { rawSignerFor, type RawSigner } from '../pki/raw-signer.js';
import { importPrivateKeyPem } from '../pki/signing-key.js';
import { TrustedKeystore } from '../pki/trusted-keystore.js';
import { UsageError } from './action.js';

/** --key and --cert flags to a signer; both name their file in errors. */
export function signerFromFiles(keyPath: string | undefined, certPath: string | undefined): RawSigner {
  if (!keyPath || !certPath) throw new UsageError('signing needs both --key KEY.pem and --cert CERT.pem');
  const privateKey = importPrivateKeyPem(readInputFile(keyPath, 'private key'), keyPath);
  const cert = parseCertificate(readInputFile(certPath, 'certificate'), certPath);
  return rawSignerFor({ cert, privateKey });
}

/** --trust files (PEM bundles allowed) to a keystore. */
export async function keystoreFromFiles(paths: readonly string[]): Promise<TrustedKeystore> {
  for (const path of paths) readInputFile(path, 'certificate');
  return TrustedKeystore.load(paths, 'trusted');
}

export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
