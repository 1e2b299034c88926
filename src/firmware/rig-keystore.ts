import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Certificate, parseCertificate } from '../pki/certificate.js';
import { findSigningRole, type RoleKeys } from '../pki/signing-roles.js';
import { encodeKeystoreBody, KeystoreRole } from './keystore-image.js';

/**
 * The TrustedKeystore body of the rig's image sets: the rig's OS, app and capability
 * signing certificates by role, and Microsoft's SDK test certificate where asked (so
 * SDK-built development apps run). Built by the emulator's provisioning, the scenario
 * steps and the CLI alike.
 */
export const SDK_TEST_CERT_PATH = fileURLToPath(new URL('../../fixtures/azure-sphere/azure-sphere-sdk-test.pem', import.meta.url));

/** The certificates a chip's keystore image holds, each with its role. */
export function keystoreBodyFor(roles: readonly RoleKeys[], trustSdkTestCert: boolean): string {
  const entries: Array<{ role: string; cert: Certificate }> = [
    { role: KeystoreRole.Os, cert: findSigningRole(roles, 'os').cert },
    { role: KeystoreRole.ProductionApp, cert: findSigningRole(roles, 'production-app').cert },
    { role: KeystoreRole.DevelopmentApp, cert: findSigningRole(roles, 'development-app').cert },
    { role: KeystoreRole.Capability, cert: findSigningRole(roles, 'capability').cert },
  ];
  if (trustSdkTestCert) entries.push({ role: KeystoreRole.SdkTest, cert: parseCertificate(readFileSync(SDK_TEST_CERT_PATH), SDK_TEST_CERT_PATH) });
  return encodeKeystoreBody(entries);
}
