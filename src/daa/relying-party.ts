import { parseCertificates, type Certificate } from '../pki/certificate.js';
import { verifyCertificateChain, type ChainProblemCode } from '../pki/certificate-chain.js';
import { readEvidenceExtension } from './device-certificate.js';
import { EVIDENCE_EXTENSION_OID } from './protocol.js';
import type { AuthorityRecord } from './local-pki.js';
import type { DeviceRecord } from './tenant-registry.js';

/**
 * The relying-party check: given the certificate chain a device presented (for
 * example over mutual TLS), is it valid now, for which device and tenant, and
 * if not, why. Against the local PKI by default; against the tenant CA an
 * operator downloaded from the real service when `trustAnchorsPem` is given.
 */
export interface RelyingPartyRequest {
  /** The presented chain, leaf first, PEM. */
  chainPem: string;
  /** The board under test: the certificate must be this device's. */
  expectedDeviceId?: string;
  /** Default: now. */
  at?: Date;
  /** Trust these CA certificates instead of the local PKI (a real tenant's CA and chain). */
  trustAnchorsPem?: string;
}

export type RelyingPartyProblemCode =
  | 'chain-unreadable'
  | 'untrusted-issuer'
  | 'signature-invalid'
  | 'not-yet-valid'
  | 'expired'
  | 'issuer-not-ca'
  | 'issuer-cannot-sign-certificates'
  | 'path-length-exceeded'
  | 'client-auth-missing'
  | 'not-a-device-certificate'
  | 'attestation-extension-missing'
  | 'tenant-ca-revoked'
  | 'certificate-revoked'
  | 'device-revoked'
  | 'device-not-in-tenant'
  | 'device-mismatch';

export interface RelyingPartyProblem {
  code: RelyingPartyProblemCode;
  detail: string;
}

export interface RelyingPartyVerdict {
  valid: boolean;
  deviceId: string | null;
  tenant: string | null;
  issuerThumbprint: string | null;
  serialNumber: string | null;
  notBefore: string | null;
  notAfter: string | null;
  evidenceSha256: string | null;
  problems: RelyingPartyProblem[];
}

/** What the check needs to know from the service's state. */
export interface RelyingPartyDirectory {
  anchors(): Certificate[];
  /** Intermediate and every tenant CA, whatever their status. */
  intermediates(): Certificate[];
  authorityByThumbprint(thumbprint: string): AuthorityRecord | undefined;
  certificateRevoked(serialNumber: string): boolean;
  findDevice(deviceId: string): DeviceRecord | undefined;
}

const CHAIN_CODES: Record<ChainProblemCode, RelyingPartyProblemCode> = {
  'issuer-not-found': 'untrusted-issuer',
  'signature-invalid': 'signature-invalid',
  'not-yet-valid': 'not-yet-valid',
  expired: 'expired',
  'issuer-not-ca': 'issuer-not-ca',
  'issuer-cannot-sign-certificates': 'issuer-cannot-sign-certificates',
  'path-length-exceeded': 'path-length-exceeded',
  'extended-key-usage-missing': 'client-auth-missing',
};

export function checkPresentedChain(request: RelyingPartyRequest, directory: RelyingPartyDirectory): RelyingPartyVerdict {
  const verdict: RelyingPartyVerdict = {
    valid: false,
    deviceId: null,
    tenant: null,
    issuerThumbprint: null,
    serialNumber: null,
    notBefore: null,
    notAfter: null,
    evidenceSha256: null,
    problems: [],
  };
  let presented: Certificate[];
  let anchors: Certificate[];
  try {
    presented = parseCertificates(request.chainPem, 'presented chain');
    anchors = request.trustAnchorsPem ? parseCertificates(request.trustAnchorsPem, 'trust anchors') : directory.anchors();
  } catch (error) {
    verdict.problems.push({ code: 'chain-unreadable', detail: (error as Error).message });
    return verdict;
  }
  const [leaf, ...rest] = presented as [Certificate, ...Certificate[]];
  verdict.serialNumber = leaf.serialNumber;
  verdict.notBefore = leaf.notBefore.toISOString();
  verdict.notAfter = leaf.notAfter.toISOString();
  const cn = leaf.commonName ?? '';
  if (/^[0-9a-fA-F]{128}$/.test(cn)) verdict.deviceId = cn.toLowerCase();
  else verdict.problems.push({ code: 'not-a-device-certificate', detail: `subject ${leaf.subject.slice(0, 200)} is not CN=<128-hex device ID>` });

  const intermediates = request.trustAnchorsPem ? rest : [...rest, ...directory.intermediates()];
  const chain = verifyCertificateChain({ leaf, intermediates, trustAnchors: anchors, at: request.at ?? new Date(), extendedKeyUsage: 'clientAuth' });
  for (const problem of chain.problems) verdict.problems.push({ code: CHAIN_CODES[problem.code], detail: problem.message });
  if (!leaf.extendedKeyUsages?.includes('clientAuth')) verdict.problems.push({ code: 'client-auth-missing', detail: 'the certificate carries no clientAuth extended key usage' });
  const extension = leaf.extension(EVIDENCE_EXTENSION_OID);
  const digest = extension ? readEvidenceExtension(extension.value) : undefined;
  if (digest) verdict.evidenceSha256 = digest.toString('hex');
  else verdict.problems.push({ code: 'attestation-extension-missing', detail: `no readable ${EVIDENCE_EXTENSION_OID} extension` });

  const issuer = chain.path[1];
  if (issuer) {
    verdict.issuerThumbprint = issuer.thumbprintHex;
    const authority = request.trustAnchorsPem ? undefined : directory.authorityByThumbprint(issuer.thumbprintHex);
    if (authority?.tenantId) {
      verdict.tenant = authority.tenantId;
      if (authority.status === 'Revoked') verdict.problems.push({ code: 'tenant-ca-revoked', detail: `tenant CA ${authority.thumbprint} is revoked` });
    }
  }
  if (!request.trustAnchorsPem) {
    if (directory.certificateRevoked(leaf.serialNumber)) verdict.problems.push({ code: 'certificate-revoked', detail: `certificate ${leaf.serialNumber} is revoked` });
    const device = verdict.deviceId ? directory.findDevice(verdict.deviceId) : undefined;
    if (device?.revokedAt) verdict.problems.push({ code: 'device-revoked', detail: `device revoked ${device.revokedAt.toISOString()}` });
    if (verdict.deviceId && verdict.tenant && device?.tenantId !== verdict.tenant) {
      verdict.problems.push({ code: 'device-not-in-tenant', detail: `the device is not claimed to tenant ${verdict.tenant}` });
    }
  }
  if (request.expectedDeviceId && verdict.deviceId !== request.expectedDeviceId.toLowerCase()) {
    verdict.problems.push({ code: 'device-mismatch', detail: `the certificate is for ${verdict.deviceId ?? cn.slice(0, 40)}, not the board under test ${request.expectedDeviceId.slice(0, 16)}...` });
  }
  verdict.problems = dedupe(verdict.problems);
  verdict.valid = verdict.problems.length === 0;
  return verdict;
}

function dedupe(problems: RelyingPartyProblem[]): RelyingPartyProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => (seen.has(p.code) ? false : (seen.add(p.code), true)));
}
