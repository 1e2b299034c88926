import { parseCertificates, type Certificate } from '../pki/certificate.js';
import { TrustedKeystore } from '../pki/trusted-keystore.js';

/**
 * The body of the emulator's TrustedKeystore image (type 19), project-defined:
 * a PEM bundle in which every certificate is preceded by a `# role: <role>` line.
 * PEM readers skip the comment lines; the emulator reads them to know what a
 * signer may sign (OS, production apps, development apps, capabilities).
 */
export const KeystoreRole = {
  Os: 'os',
  ProductionApp: 'production-app',
  DevelopmentApp: 'development-app',
  Capability: 'capability',
  /** Microsoft's public SDK test certificate: signs SDK-built development apps. */
  SdkTest: 'sdk-test',
} as const;

/** Roles whose apps need the AppDevelopment capability. */
export const DEVELOPMENT_ROLES: ReadonlySet<string> = new Set([KeystoreRole.DevelopmentApp, KeystoreRole.SdkTest]);

export function encodeKeystoreBody(entries: ReadonlyArray<{ role: string; cert: Certificate }>): string {
  return entries.map(({ role, cert }) => `# role: ${role}\n${cert.toPem().trim()}\n`).join('');
}

export function decodeKeystoreBody(pem: string): TrustedKeystore {
  let keystore = TrustedKeystore.empty();
  const blocks = pem.split(/(?=^# role: )/m);
  for (const block of blocks) {
    if (!block.includes('-----BEGIN CERTIFICATE-----')) continue;
    const role = /^# role: ([\w-]+)/.exec(block)?.[1] ?? 'unknown';
    for (const cert of parseCertificates(block, `keystore image (${role})`)) keystore = keystore.add(cert, role);
  }
  return keystore;
}
