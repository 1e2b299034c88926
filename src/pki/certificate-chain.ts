import type { Certificate } from './certificate.js';
import { extendedKeyUsageOid, type ExtendedKeyUsage } from './key-usage.js';

export type ChainProblemCode =
  | 'issuer-not-found'
  | 'signature-invalid'
  | 'not-yet-valid'
  | 'expired'
  | 'issuer-not-ca'
  | 'issuer-cannot-sign-certificates'
  | 'path-length-exceeded'
  | 'extended-key-usage-missing';

export interface ChainProblem {
  readonly code: ChainProblemCode;
  /** Subject of the certificate the problem is about. */
  readonly subject: string;
  readonly message: string;
}

export interface ChainVerification {
  readonly valid: boolean;
  /** The path found, leaf first; ends at a trust anchor when one was reached. */
  readonly path: readonly Certificate[];
  readonly problems: readonly ChainProblem[];
}

export interface VerifyChainParams {
  readonly leaf: Certificate;
  /** Certificates that may link the leaf to an anchor, in any order (e.g. what a TLS peer sent). */
  readonly intermediates?: readonly Certificate[];
  readonly trustAnchors: readonly Certificate[];
  /** Default: now. */
  readonly at?: Date;
  /** A purpose the leaf must carry when it has an EKU extension, e.g. `clientAuth`. */
  readonly extendedKeyUsage?: ExtendedKeyUsage;
}

/** Longer paths than this are refused rather than searched (no loops, no blow-ups). */
const MAX_PATH_LENGTH = 8;

/**
 * Checks a certificate chains to a trust anchor as RFC 5280 path validation does
 * for what this project uses: names and signatures link, every certificate is
 * within its validity at `at`, issuers are CAs allowed to sign certificates and
 * within their path length, and the leaf carries the required purpose. Every
 * problem is reported, each with a code, so a relying party can say exactly why.
 * Revocation is separate (see `RevocationList.isRevoked`).
 */
export function verifyCertificateChain(params: VerifyChainParams): ChainVerification {
  const at = params.at ?? new Date();
  const problems: ChainProblem[] = [];
  const path = buildPath(params.leaf, params.intermediates ?? [], params.trustAnchors);
  const last = path[path.length - 1]!;
  const anchored = params.trustAnchors.some((anchor) => anchor.equals(last));

  if (!anchored) {
    problems.push(problem('issuer-not-found', last, `no trusted issuer found for ${last.subject} (issuer ${last.issuer})`));
  }
  path.forEach((cert, index) => {
    if (at < cert.notBefore) problems.push(problem('not-yet-valid', cert, `${cert.subject} is not valid before ${cert.notBefore.toISOString()}`));
    if (at > cert.notAfter) problems.push(problem('expired', cert, `${cert.subject} expired ${cert.notAfter.toISOString()}`));
    const issuer = path[index + 1];
    if (!issuer) return;
    if (!cert.isSignedBy(issuer)) {
      problems.push(problem('signature-invalid', cert, `${cert.subject} is not signed by ${issuer.subject}`));
    }
    if (!issuer.isCa) problems.push(problem('issuer-not-ca', issuer, `${issuer.subject} is not a CA (basicConstraints)`));
    if (issuer.keyUsages && !issuer.keyUsages.includes('keyCertSign')) {
      problems.push(problem('issuer-cannot-sign-certificates', issuer, `${issuer.subject} lacks the keyCertSign key usage`));
    }
    const pathLength = issuer.pathLength;
    // Intermediates between this issuer and the leaf, not counting self-issued ones.
    const below = path.slice(1, index + 1).filter((between) => !between.isSelfIssued).length;
    if (pathLength !== undefined && below > pathLength) {
      problems.push(problem('path-length-exceeded', issuer, `${issuer.subject} allows ${pathLength} intermediate(s) below it, found ${below}`));
    }
  });
  const leafUsages = params.leaf.extendedKeyUsages;
  if (params.extendedKeyUsage && leafUsages) {
    const wanted = extendedKeyUsageOid(params.extendedKeyUsage);
    if (!leafUsages.some((usage) => extendedKeyUsageOid(usage) === wanted)) {
      problems.push(problem('extended-key-usage-missing', params.leaf, `${params.leaf.subject} is not valid for ${params.extendedKeyUsage}`));
    }
  }
  return { valid: problems.length === 0, path, problems };
}

/**
 * Leaf first. Links by name; among issuers of the right name, one whose signature
 * verifies is preferred, so a bad signature is reported as such rather than as
 * a missing issuer. Anchors are tried before intermediates.
 */
function buildPath(leaf: Certificate, intermediates: readonly Certificate[], anchors: readonly Certificate[]): Certificate[] {
  const path = [leaf];
  let current = leaf;
  while (path.length < MAX_PATH_LENGTH) {
    if (anchors.some((anchor) => anchor.equals(current))) break;
    const named = [...anchors, ...intermediates].filter(
      (candidate) => !path.some((onPath) => onPath.equals(candidate)) && current.isNamedIssuer(candidate),
    );
    const next = named.find((candidate) => current.isSignedBy(candidate)) ?? named[0];
    if (!next) break;
    path.push(next);
    if (anchors.some((anchor) => anchor.equals(next))) break;
    current = next;
  }
  return path;
}

function problem(code: ChainProblemCode, cert: Certificate, message: string): ChainProblem {
  return { code, subject: cert.subject, message };
}
