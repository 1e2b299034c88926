import { createPublicKey, X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsageExtension,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
} from '@peculiar/x509';
import { CertificateError } from './certificate-error.js';
import { extendedKeyUsageName, keyUsagesFromFlags, type ExtendedKeyUsage, type KeyUsage } from './key-usage.js';
import { sha1Thumbprint, sha256Thumbprint } from './thumbprint.js';

export interface SubjectAltName {
  readonly type: 'dns' | 'ip' | 'email' | 'url' | 'dn' | 'guid' | 'upn' | 'id';
  readonly value: string;
}

export interface CertificateExtensionValue {
  readonly oid: string;
  readonly critical: boolean;
  /** The DER the extension's OCTET STRING wraps. */
  readonly value: Buffer;
}

/**
 * One parsed X.509 certificate. Immutable; everything is derived from `der`.
 * Parsing never enforces name length limits (device CNs are 128 characters).
 */
export class Certificate {
  readonly der: Buffer;
  /** Where it came from (a file path, "certificate 2 of bundle.pem"), for messages. */
  readonly source: string;
  readonly #x509: X509Certificate;
  readonly #publicKey: KeyObject;
  #thumbprint: Buffer | undefined;
  #node: NodeX509Certificate | undefined;

  private constructor(der: Buffer, x509: X509Certificate, source: string, publicKey: KeyObject) {
    this.der = der;
    this.#x509 = x509;
    this.source = source;
    this.#publicKey = publicKey;
  }

  /** Parses DER; throws `CertificateError` naming `source` when it is not X.509. */
  static fromDer(der: Uint8Array, source = 'certificate'): Certificate {
    const bytes = Buffer.from(der);
    const encodedLength = derSequenceLength(bytes);
    if (encodedLength !== undefined && encodedLength < bytes.length) {
      // The thumbprint is over the certificate alone, so extra bytes must not ride along.
      const extra = bytes.length - encodedLength;
      throw new CertificateError('certificate-malformed', source, `${extra} unexpected byte(s) after the certificate's DER`);
    }
    let x509: X509Certificate;
    let publicKey: KeyObject;
    try {
      x509 = new X509Certificate(new Uint8Array(bytes));
      // Read the fields the class exposes so a damaged body fails here, not later.
      const fields: unknown[] = [x509.subject, x509.issuer, x509.notBefore, x509.notAfter, x509.extensions];
      void fields;
      // The key as Node imports it, too: a key algorithm it does not know, or a key that does
      // not decode, is a damaged certificate, not a plain Error from the publicKey getter later.
      publicKey = createPublicKey({ key: Buffer.from(x509.publicKey.rawData), format: 'der', type: 'spki' });
    } catch (error) {
      throw new CertificateError('certificate-malformed', source, `not a valid X.509 certificate (${reason(error)})`, { cause: error });
    }
    return new Certificate(bytes, x509, source, publicKey);
  }

  /** Subject as `CN=..., O=...`, attributes in their encoded order. */
  get subject(): string {
    return this.#x509.subject;
  }

  get issuer(): string {
    return this.#x509.issuer;
  }

  get commonName(): string | undefined {
    return this.#x509.subjectName.getField('CN')[0];
  }

  /** Lower-case hex, without a sign-padding zero byte. */
  get serialNumber(): string {
    return this.#x509.serialNumber.toLowerCase();
  }

  get notBefore(): Date {
    return this.#x509.notBefore;
  }

  get notAfter(): Date {
    return this.#x509.notAfter;
  }

  get publicKey(): KeyObject {
    return this.#publicKey;
  }

  /** SHA-1 of the DER (20 bytes): what an image's SG section names. */
  get thumbprint(): Buffer {
    this.#thumbprint ??= sha1Thumbprint(this.der);
    return Buffer.from(this.#thumbprint);
  }

  get thumbprintHex(): string {
    return this.thumbprint.toString('hex');
  }

  get sha256Thumbprint(): Buffer {
    return sha256Thumbprint(this.der);
  }

  get isCa(): boolean {
    return this.#x509.getExtension(BasicConstraintsExtension)?.ca ?? false;
  }

  get pathLength(): number | undefined {
    return this.#x509.getExtension(BasicConstraintsExtension)?.pathLength;
  }

  /** Undefined when the certificate has no key usage extension (any usage allowed). */
  get keyUsages(): KeyUsage[] | undefined {
    const extension = this.#x509.getExtension(KeyUsagesExtension);
    return extension ? keyUsagesFromFlags(extension.usages) : undefined;
  }

  /** Undefined when the certificate has no extended key usage extension. */
  get extendedKeyUsages(): ExtendedKeyUsage[] | undefined {
    const extension = this.#x509.getExtension(ExtendedKeyUsageExtension);
    return extension ? extension.usages.map((usage) => extendedKeyUsageName(String(usage))) : undefined;
  }

  get subjectAltNames(): SubjectAltName[] {
    const extension = this.#x509.getExtension(SubjectAlternativeNameExtension);
    return extension ? extension.names.items.map((name) => ({ type: name.type, value: name.value })) : [];
  }

  /** Hex key identifier, when the extension is present. */
  get subjectKeyIdentifier(): string | undefined {
    return this.#x509.getExtension(SubjectKeyIdentifierExtension)?.keyId.toLowerCase();
  }

  get authorityKeyIdentifier(): string | undefined {
    return this.#x509.getExtension(AuthorityKeyIdentifierExtension)?.keyId?.toLowerCase();
  }

  get extensions(): CertificateExtensionValue[] {
    return this.#x509.extensions.map((extension) => ({
      oid: extension.type,
      critical: extension.critical,
      value: Buffer.from(extension.value),
    }));
  }

  extension(oid: string): CertificateExtensionValue | undefined {
    return this.extensions.find((extension) => extension.oid === oid);
  }

  /** Subject and issuer names are the same DER (the certificate claims to issue itself). */
  get isSelfIssued(): boolean {
    return Buffer.from(this.#x509.subjectName.toArrayBuffer()).equals(Buffer.from(this.#x509.issuerName.toArrayBuffer()));
  }

  isValidAt(date: Date = new Date()): boolean {
    return date.getTime() >= this.notBefore.getTime() && date.getTime() <= this.notAfter.getTime();
  }

  /** Whether `issuer`'s key made this certificate's signature (names are not compared). */
  isSignedBy(issuer: Certificate): boolean {
    try {
      return this.#nodeCertificate().verify(issuer.publicKey);
    } catch {
      return false;
    }
  }

  /**
   * Whether `issuer` is named as this certificate's issuer: its subject is this
   * certificate's issuer name, and the key identifiers agree when both are present.
   * The signature is not checked (see `isSignedBy`).
   */
  isNamedIssuer(issuer: Certificate): boolean {
    const issuerName = Buffer.from(this.#x509.issuerName.toArrayBuffer());
    if (!issuerName.equals(Buffer.from(issuer.#x509.subjectName.toArrayBuffer()))) return false;
    const authorityKeyId = this.authorityKeyIdentifier;
    const subjectKeyId = issuer.subjectKeyIdentifier;
    return authorityKeyId === undefined || subjectKeyId === undefined || authorityKeyId === subjectKeyId;
  }

  /** Named as the issuer and its key made the signature. */
  isIssuedBy(issuer: Certificate): boolean {
    return this.isNamedIssuer(issuer) && this.isSignedBy(issuer);
  }

  /** The same certificate for @peculiar/x509 APIs (building chains, CRLs). */
  toX509(): X509Certificate {
    return new X509Certificate(new Uint8Array(this.der));
  }

  toPem(): string {
    return toCertificatePem(this.der);
  }

  equals(other: Certificate): boolean {
    return this.der.equals(other.der);
  }

  toJSON(): Record<string, unknown> {
    return {
      subject: this.subject,
      issuer: this.issuer,
      serialNumber: this.serialNumber,
      notBefore: this.notBefore.toISOString(),
      notAfter: this.notAfter.toISOString(),
      thumbprint: this.thumbprintHex,
    };
  }

  #nodeCertificate(): NodeX509Certificate {
    this.#node ??= new NodeX509Certificate(this.der);
    return this.#node;
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 #]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/**
 * Every CERTIFICATE block of a PEM text (other blocks, such as keys, are skipped),
 * or the one certificate of DER bytes. Throws when there is no certificate at all.
 */
export function parseCertificates(input: string | Uint8Array, source = 'certificate'): Certificate[] {
  if (typeof input !== 'string' && input.length > 0 && input[0] === 0x30) {
    return [Certificate.fromDer(input, source)];
  }
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
  const bodies: Buffer[] = [];
  const otherBlocks = new Set<string>();
  for (const match of text.matchAll(PEM_BLOCK)) {
    const label = match[1] ?? '';
    if (label !== 'CERTIFICATE') {
      otherBlocks.add(label);
      continue;
    }
    const base64 = (match[2] ?? '').replace(/\s+/g, '');
    if (base64.length === 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) {
      throw new CertificateError('certificate-malformed', memberSource(source, bodies.length), 'PEM body is not base64');
    }
    bodies.push(Buffer.from(base64, 'base64'));
  }
  if (bodies.length === 0) {
    const found = otherBlocks.size ? `found only ${[...otherBlocks].join(', ')}` : 'neither PEM nor DER';
    throw new CertificateError('certificate-missing', source, `no certificate (BEGIN CERTIFICATE block) in it: ${found}`);
  }
  // A lone certificate keeps the plain source name; bundle members say which one they are.
  if (bodies.length === 1) return [Certificate.fromDer(bodies[0]!, source)];
  return bodies.map((der, index) => Certificate.fromDer(der, memberSource(source, index)));
}

/** Total length of the DER SEQUENCE at the start of `der`, when its header is readable. */
function derSequenceLength(der: Buffer): number | undefined {
  if (der.length < 2 || der[0] !== 0x30) return undefined;
  const first = der[1]!;
  if (first < 0x80) return 2 + first;
  const lengthBytes = first & 0x7f;
  if (lengthBytes === 0 || lengthBytes > 4 || der.length < 2 + lengthBytes) return undefined;
  return 2 + lengthBytes + der.readUIntBE(2, lengthBytes);
}

function memberSource(source: string, index: number): string {
  return `${source} (certificate ${index + 1})`;
}

/** Exactly one certificate from PEM or DER; a bundle is an error here. */
export function parseCertificate(input: string | Uint8Array, source = 'certificate'): Certificate {
  const certificates = parseCertificates(input, source);
  if (certificates.length !== 1) {
    throw new CertificateError('certificate-count', source, `expected one certificate, found ${certificates.length} (a bundle)`);
  }
  return certificates[0]!;
}

export async function loadCertificates(path: string): Promise<Certificate[]> {
  return parseCertificates(await readCertificateFile(path), path);
}

export async function loadCertificate(path: string): Promise<Certificate> {
  return parseCertificate(await readCertificateFile(path), path);
}

export function toCertificatePem(der: Uint8Array): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** Several certificates as one PEM bundle, in the order given. */
export function toCertificateBundlePem(certificates: readonly Certificate[]): string {
  return certificates.map((certificate) => certificate.toPem()).join('');
}

async function readCertificateFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'no such file' : `cannot read it (${code ?? reason(error)})`;
    throw new CertificateError('certificate-unreadable', path, problem, { cause: error });
  }
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
