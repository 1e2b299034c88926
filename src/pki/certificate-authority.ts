import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsageExtension,
  Extension,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509CertificateGenerator,
  type Name,
} from '@peculiar/x509';
import { Certificate, type SubjectAltName } from './certificate.js';
import { CertificateError } from './certificate-error.js';
import { toX509Name, type DistinguishedName } from './distinguished-name.js';
import { extendedKeyUsageOid, isObjectIdentifier, keyUsageFlags, type ExtendedKeyUsage, type KeyUsage } from './key-usage.js';
import { exportPublicKeyDer, generateSigningKeyPair, privateKeyToCryptoKey, type SigningKeyPair } from './signing-key.js';

/** A certificate and the private key that signs in its name. */
export interface CertificateIssuer {
  readonly cert: Certificate;
  readonly privateKey: KeyObject;
}

/** A CA made by `createCa`: an issuer that also hands out its public key. */
export interface CertificateAuthority extends CertificateIssuer {
  readonly publicKey: KeyObject;
}

/** An extension this module has no builder for: its OID, DER value and criticality. */
export interface ExtraExtension {
  readonly oid: string;
  readonly value: Uint8Array;
  readonly critical?: boolean;
}

/**
 * A subject alternative name: a string is an IP address when it parses as one,
 * else a DNS name (wildcards such as `*.devices.sphere.azure.local` allowed).
 */
export type SubjectAltNameInput = string | SubjectAltName;

/** What every certificate this module builds may carry. */
export interface CertificateProfile {
  readonly subject: DistinguishedName;
  /** Default: now (whole seconds). */
  readonly notBefore?: Date;
  /** Default: `notBefore` plus `days`. */
  readonly notAfter?: Date;
  /** Lifetime when `notAfter` is not given; default 365. */
  readonly days?: number;
  /** A CA certificate (basicConstraints CA:TRUE), optionally limiting the path length below it. */
  readonly ca?: boolean | { readonly pathLength?: number };
  /** Default: keyCertSign, cRLSign, digitalSignature for a CA; digitalSignature otherwise. */
  readonly keyUsages?: readonly KeyUsage[];
  readonly extendedKeyUsages?: readonly ExtendedKeyUsage[];
  readonly subjectAltNames?: readonly SubjectAltNameInput[];
  readonly extensions?: readonly ExtraExtension[];
}

export interface SelfSignedParams extends CertificateProfile {
  readonly keyPair: SigningKeyPair;
}

export interface IssueCertificateParams extends CertificateProfile {
  readonly issuer: CertificateIssuer;
  /** The subject's key: a KeyObject or SubjectPublicKeyInfo DER. */
  readonly publicKey: KeyObject | Uint8Array;
}

export interface CreateCaParams extends Omit<CertificateProfile, 'ca'> {
  /** Default: a fresh P-256 pair. */
  readonly keyPair?: SigningKeyPair;
  /** Signs the new CA (an intermediate); absent, the CA is a self-signed root. */
  readonly parent?: CertificateIssuer;
  readonly pathLength?: number;
}

const DEFAULT_DAYS = 365;
const DAY_MS = 24 * 60 * 60 * 1000;
const SERIAL_BYTES = 16;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
const CA_KEY_USAGES: readonly KeyUsage[] = ['keyCertSign', 'cRLSign', 'digitalSignature'];
const LEAF_KEY_USAGES: readonly KeyUsage[] = ['digitalSignature'];

/** A certificate signed by its own key; with `ca`, a root. */
export async function createSelfSigned(params: SelfSignedParams): Promise<Certificate> {
  const subjectName = toX509Name(params.subject);
  const spki = exportPublicKeyDer(params.keyPair.publicKey);
  const subjectKeyId = await keyIdentifier(spki);
  return build(params, {
    subjectName,
    issuerName: subjectName,
    spki,
    subjectKeyId,
    authorityKeyId: subjectKeyId,
    signingKey: params.keyPair.privateKey,
  });
}

/** A certificate for `publicKey`, signed by `issuer`. */
export async function issueCertificate(params: IssueCertificateParams): Promise<Certificate> {
  assertIssuerKeyMatches(params.issuer);
  const spki = subjectPublicKeyInfo(params.publicKey);
  const issuerCert = params.issuer.cert;
  return build(params, {
    subjectName: toX509Name(params.subject),
    // The issuer's subject exactly as encoded, so name chaining compares equal bytes.
    issuerName: issuerCert.toX509().subjectName,
    spki,
    subjectKeyId: await keyIdentifier(spki),
    authorityKeyId: issuerCert.subjectKeyIdentifier ?? (await keyIdentifier(exportPublicKeyDer(issuerCert.publicKey))),
    signingKey: params.issuer.privateKey,
  });
}

/** A root CA (no parent) or an intermediate signed by `parent`. */
export async function createCa(params: CreateCaParams): Promise<CertificateAuthority> {
  const { keyPair: givenKeyPair, parent, pathLength, ...rest } = params;
  const keyPair = givenKeyPair ?? generateSigningKeyPair();
  const profile: CertificateProfile = { ...rest, ca: pathLength === undefined ? true : { pathLength } };
  const cert = parent
    ? await issueCertificate({ ...profile, issuer: parent, publicKey: keyPair.publicKey })
    : await createSelfSigned({ ...profile, keyPair });
  return { cert, privateKey: keyPair.privateKey, publicKey: keyPair.publicKey };
}

/** A positive random serial number of 16 bytes, as hex. */
export function randomSerialNumber(): string {
  const bytes = randomBytes(SERIAL_BYTES);
  // Top bit clear keeps the INTEGER positive; a non-zero first byte keeps its length fixed.
  bytes[0] = (bytes[0]! & 0x7f) || 0x01;
  return bytes.toString('hex');
}

interface BuildInputs {
  readonly subjectName: Name;
  readonly issuerName: Name;
  readonly spki: Buffer;
  readonly subjectKeyId: string;
  readonly authorityKeyId: string;
  readonly signingKey: KeyObject;
}

async function build(profile: CertificateProfile, inputs: BuildInputs): Promise<Certificate> {
  const { notBefore, notAfter } = validity(profile);
  const extensions = buildExtensions(profile, inputs);
  let x509;
  try {
    x509 = await X509CertificateGenerator.create(
      {
        serialNumber: randomSerialNumber(),
        subject: inputs.subjectName,
        issuer: inputs.issuerName,
        notBefore,
        notAfter,
        publicKey: new Uint8Array(inputs.spki),
        signingKey: await privateKeyToCryptoKey(inputs.signingKey),
        signingAlgorithm: ECDSA_SHA256,
        extensions,
      },
      globalThis.crypto,
    );
  } catch (error) {
    if (error instanceof CertificateError) throw error;
    throw new CertificateError('certificate-params', describe(profile), `cannot build the certificate (${reason(error)})`, { cause: error });
  }
  return Certificate.fromDer(Buffer.from(x509.rawData), describe(profile));
}

function buildExtensions(profile: CertificateProfile, inputs: BuildInputs): Extension[] {
  const isCa = profile.ca !== undefined && profile.ca !== false;
  const pathLength = typeof profile.ca === 'object' ? profile.ca.pathLength : undefined;
  const keyUsages = profile.keyUsages ?? (isCa ? CA_KEY_USAGES : LEAF_KEY_USAGES);
  const extensions: Extension[] = [
    new BasicConstraintsExtension(isCa, isCa ? pathLength : undefined, true),
    new KeyUsagesExtension(keyUsageFlags(keyUsages), true),
  ];
  if (profile.extendedKeyUsages?.length) {
    extensions.push(new ExtendedKeyUsageExtension(profile.extendedKeyUsages.map(extendedKeyUsageOid), false));
  }
  if (profile.subjectAltNames?.length) {
    extensions.push(new SubjectAlternativeNameExtension(profile.subjectAltNames.map(toGeneralName), false));
  }
  extensions.push(new SubjectKeyIdentifierExtension(inputs.subjectKeyId, false));
  extensions.push(new AuthorityKeyIdentifierExtension(inputs.authorityKeyId, false));
  const seen = new Set(extensions.map((extension) => extension.type));
  for (const extra of profile.extensions ?? []) {
    if (!isObjectIdentifier(extra.oid)) {
      throw new CertificateError('certificate-params', describe(profile), `extension OID "${extra.oid}" is not a dotted OID`);
    }
    if (seen.has(extra.oid)) {
      throw new CertificateError('certificate-params', describe(profile), `extension ${extra.oid} given twice`);
    }
    seen.add(extra.oid);
    extensions.push(new Extension(extra.oid, extra.critical ?? false, new Uint8Array(extra.value)));
  }
  return extensions;
}

function validity(profile: CertificateProfile): { notBefore: Date; notAfter: Date } {
  // X.509 times have whole seconds; truncating keeps the parsed dates equal to these.
  const notBefore = new Date(Math.floor((profile.notBefore ?? new Date()).getTime() / 1000) * 1000);
  const days = profile.days ?? DEFAULT_DAYS;
  if (!(days > 0)) throw new CertificateError('certificate-params', describe(profile), `days must be positive, got ${days}`);
  const notAfter = new Date(Math.floor((profile.notAfter ?? new Date(notBefore.getTime() + days * DAY_MS)).getTime() / 1000) * 1000);
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new CertificateError(
      'certificate-params',
      describe(profile),
      `notAfter ${notAfter.toISOString()} is not after notBefore ${notBefore.toISOString()}`,
    );
  }
  return { notBefore, notAfter };
}

function toGeneralName(name: SubjectAltNameInput): { type: SubjectAltName['type']; value: string } {
  if (typeof name !== 'string') return { type: name.type, value: name.value };
  return { type: isIP(name) ? 'ip' : 'dns', value: name };
}

/** SPKI DER of the subject's key; a private key stands for its public half. */
function subjectPublicKeyInfo(key: KeyObject | Uint8Array): Buffer {
  if (key instanceof Uint8Array) return Buffer.from(key);
  return exportPublicKeyDer(key.type === 'private' ? createPublicKey(key) : key);
}

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey bits, as hex. */
async function keyIdentifier(spki: Buffer): Promise<string> {
  const extension = await SubjectKeyIdentifierExtension.create(new Uint8Array(spki), false, globalThis.crypto);
  return extension.keyId;
}

function assertIssuerKeyMatches(issuer: CertificateIssuer): void {
  const fromKey = exportPublicKeyDer(createPublicKey(issuer.privateKey));
  if (!fromKey.equals(exportPublicKeyDer(issuer.cert.publicKey))) {
    const problem = `the issuer's private key does not belong to its certificate (${issuer.cert.subject})`;
    throw new CertificateError('certificate-params', issuer.cert.source, problem);
  }
}

function describe(profile: CertificateProfile): string {
  const subject = typeof profile.subject === 'string' ? profile.subject : JSON.stringify(profile.subject);
  return `certificate for ${subject}`;
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
