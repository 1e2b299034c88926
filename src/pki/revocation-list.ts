import {
  AuthorityKeyIdentifierExtension,
  Extension,
  X509Crl,
  X509CrlGenerator,
  X509CrlReason,
} from '@peculiar/x509';
import type { CertificateIssuer } from './certificate-authority.js';
import type { Certificate } from './certificate.js';
import { CertificateError } from './certificate-error.js';
import { privateKeyToCryptoKey } from './signing-key.js';

/** Why a certificate was revoked (RFC 5280 CRLReason names). */
export type RevocationReason = Exclude<keyof typeof X509CrlReason, number>;

export interface RevokedCertificateEntry {
  /** Hex serial number, as `Certificate.serialNumber` gives it. */
  readonly serialNumber: string;
  readonly revocationDate?: Date;
  readonly reason?: RevocationReason;
}

export interface CreateRevocationListParams {
  readonly issuer: CertificateIssuer;
  readonly revoked?: readonly RevokedCertificateEntry[];
  /** Default: now. */
  readonly thisUpdate?: Date;
  /** Default: `thisUpdate` plus `days`. */
  readonly nextUpdate?: Date;
  /** Default 7. */
  readonly days?: number;
  /** The CRL number extension; relying parties use it to spot a stale list. */
  readonly crlNumber?: number | bigint;
}

const OID_CRL_NUMBER = '2.5.29.20';
const DAY_MS = 24 * 60 * 60 * 1000;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A parsed X.509 certificate revocation list, e.g. a tenant CA's published CRL. */
export class RevocationList {
  readonly der: Buffer;
  readonly source: string;
  readonly #crl: X509Crl;

  private constructor(der: Buffer, crl: X509Crl, source: string) {
    this.der = der;
    this.#crl = crl;
    this.source = source;
  }

  static fromDer(der: Uint8Array, source = 'revocation list'): RevocationList {
    const bytes = Buffer.from(der);
    try {
      const crl = new X509Crl(new Uint8Array(bytes));
      const fields: unknown[] = [crl.issuer, crl.thisUpdate, crl.entries];
      void fields;
      return new RevocationList(bytes, crl, source);
    } catch (error) {
      throw new CertificateError('certificate-malformed', source, `not a valid X.509 CRL (${reason(error)})`, { cause: error });
    }
  }

  /** From PEM (`X509 CRL` block) or DER. */
  static parse(input: string | Uint8Array, source = 'revocation list'): RevocationList {
    if (typeof input !== 'string' && input.length > 0 && input[0] === 0x30) return RevocationList.fromDer(input, source);
    const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
    const match = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/.exec(text);
    if (!match) throw new CertificateError('certificate-missing', source, 'no BEGIN X509 CRL block in it');
    return RevocationList.fromDer(Buffer.from((match[1] ?? '').replace(/\s+/g, ''), 'base64'), source);
  }

  get issuer(): string {
    return this.#crl.issuer;
  }

  get thisUpdate(): Date {
    return this.#crl.thisUpdate;
  }

  get nextUpdate(): Date | undefined {
    return this.#crl.nextUpdate;
  }

  get crlNumber(): bigint | undefined {
    const extension = this.#crl.getExtension(OID_CRL_NUMBER);
    return extension ? decodeDerInteger(Buffer.from(extension.value)) : undefined;
  }

  get revoked(): { serialNumber: string; revocationDate: Date; reason?: RevocationReason }[] {
    return this.#crl.entries.map((entry) => ({
      serialNumber: entry.serialNumber.toLowerCase().replace(/^00(?=[89a-f])/, ''),
      revocationDate: entry.revocationDate,
      ...(entry.reason !== undefined ? { reason: X509CrlReason[entry.reason] as RevocationReason } : {}),
    }));
  }

  isRevoked(certificateOrSerial: Certificate | string): boolean {
    const serial = typeof certificateOrSerial === 'string' ? certificateOrSerial : certificateOrSerial.serialNumber;
    const wanted = canonicalSerial(serial);
    return this.revoked.some((entry) => canonicalSerial(entry.serialNumber) === wanted);
  }

  /** Whether `issuer`'s key signed this list. */
  async isSignedBy(issuer: Certificate): Promise<boolean> {
    try {
      return await this.#crl.verify({ publicKey: issuer.toX509() }, globalThis.crypto);
    } catch {
      return false;
    }
  }

  toPem(): string {
    const lines = this.der.toString('base64').match(/.{1,64}/g) ?? [];
    return `-----BEGIN X509 CRL-----\n${lines.join('\n')}\n-----END X509 CRL-----\n`;
  }
}

/** A CRL signed by `issuer`, carrying its authority key identifier. */
export async function createRevocationList(params: CreateRevocationListParams): Promise<RevocationList> {
  const issuerCert = params.issuer.cert;
  const thisUpdate = params.thisUpdate ?? new Date();
  const nextUpdate = params.nextUpdate ?? new Date(thisUpdate.getTime() + (params.days ?? 7) * DAY_MS);
  const extensions: Extension[] = [];
  const keyId = issuerCert.subjectKeyIdentifier;
  if (keyId) extensions.push(new AuthorityKeyIdentifierExtension(keyId, false));
  if (params.crlNumber !== undefined) {
    extensions.push(new Extension(OID_CRL_NUMBER, false, new Uint8Array(encodeDerInteger(BigInt(params.crlNumber)))));
  }
  let crl: X509Crl;
  try {
    crl = await X509CrlGenerator.create(
      {
        issuer: issuerCert.toX509().subjectName,
        thisUpdate,
        nextUpdate,
        signingAlgorithm: ECDSA_SHA256,
        signingKey: await privateKeyToCryptoKey(params.issuer.privateKey),
        extensions,
        entries: (params.revoked ?? []).map((entry) => ({
          serialNumber: derSerialHex(entry.serialNumber),
          revocationDate: entry.revocationDate ?? thisUpdate,
          ...(entry.reason ? { reason: X509CrlReason[entry.reason] } : {}),
        })),
      },
      globalThis.crypto,
    );
  } catch (error) {
    throw new CertificateError('certificate-params', `CRL of ${issuerCert.subject}`, `cannot build it (${reason(error)})`, { cause: error });
  }
  return RevocationList.fromDer(Buffer.from(crl.rawData), `CRL of ${issuerCert.subject}`);
}

/** Serial hex without sign padding or leading zeros, for comparing. */
function canonicalSerial(serial: string): string {
  return serial.toLowerCase().replace(/^(?:00)+(?=.)/, '') || '0';
}

/** Serial hex as DER INTEGER content bytes: even length, a zero byte before a high bit. */
function derSerialHex(serial: string): string {
  let hex = canonicalSerial(serial.replace(/[\s:]/g, ''));
  if (!/^[0-9a-f]+$/.test(hex)) throw new CertificateError('certificate-params', 'CRL entry', `serial number "${serial}" is not hex`);
  if (hex.length % 2) hex = `0${hex}`;
  return /^[89a-f]/.test(hex) ? `00${hex}` : hex;
}

function encodeDerInteger(value: bigint): Buffer {
  if (value < 0n) throw new CertificateError('certificate-params', 'CRL number', 'must not be negative');
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (/^[89a-f]/.test(hex)) hex = `00${hex}`;
  const content = Buffer.from(hex, 'hex');
  return Buffer.concat([Buffer.from([0x02, content.length]), content]);
}

function decodeDerInteger(der: Buffer): bigint | undefined {
  if (der[0] !== 0x02 || der.length < 3 || der[1] !== der.length - 2) return undefined;
  return BigInt(`0x${der.subarray(2).toString('hex')}`);
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
