import { createHash, type KeyObject } from 'node:crypto';
import { EXTENDED_KEY_USAGE_OIDS } from '../pki/key-usage.js';
import {
  bitString,
  booleanTrue,
  explicit,
  implicitPrimitive,
  objectIdentifier,
  octetString,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from './der-writer.js';
import { nextCertificateSerial } from './certificate-serial.js';
import { DeviceTbsTemplate } from './device-certificate-template.js';
import { EVIDENCE_EXTENSION_OID } from './protocol.js';
import { signOnThreadpool } from './threadpool-ecdsa.js';

/**
 * Issues the one certificate profile of device authentication, encoded directly
 * in DER so that issuing costs little more than its signature:
 *   subject CN=<device ID> (128 hex, no length limit), issuer the tenant CA,
 *   basicConstraints CA:FALSE (critical), keyUsage digitalSignature (critical),
 *   extendedKeyUsage clientAuth, subject and authority key identifiers, and the
 *   non-critical extension 1.3.6.1.4.1.311.98.1 whose value is
 *   SEQUENCE { id-sha256, OCTET STRING <SHA-256 of the accepted evidence> }.
 * Tests check the result with @peculiar/x509 and openssl.
 */
export interface DeviceCertificateIssuer {
  /** The issuer's subject Name, exactly as encoded in its certificate. */
  subjectNameDer: Buffer;
  /** The issuer's subject key identifier (bytes). */
  keyIdentifier: Buffer;
  privateKey: KeyObject;
}

export interface DeviceCertificateRequest {
  deviceId: string;
  /** SubjectPublicKeyInfo DER of the key to certify. */
  spki: Buffer;
  evidenceSha256: Buffer;
  notBefore: Date;
  notAfter: Date;
}

export interface IssuedDeviceCertificate {
  der: Buffer;
  pem: string;
  serialNumber: string;
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  sha256: '2.16.840.1.101.3.4.2.1',
} as const;

const SIGNATURE_ALGORITHM = sequence(objectIdentifier(OID.ecdsaWithSha256));
const VERSION_3 = explicit(0, smallInteger(2));
const BASIC_CONSTRAINTS_LEAF = extension(OID.basicConstraints, true, sequence());
// digitalSignature is bit 0: one byte 0x80 with 7 unused bits.
const KEY_USAGE_DIGITAL_SIGNATURE = extension(OID.keyUsage, true, bitString(Buffer.from([0x80]), 7));
const EXTENDED_KEY_USAGE_CLIENT_AUTH = extension(OID.extKeyUsage, false, sequence(objectIdentifier(EXTENDED_KEY_USAGE_OIDS.clientAuth)));

/** Signs on the threadpool (threadpool-ecdsa.ts). */
export async function issueDeviceCertificate(issuer: DeviceCertificateIssuer, request: DeviceCertificateRequest): Promise<IssuedDeviceCertificate> {
  const serialNumber = nextCertificateSerial();
  const tbs = templateFor(issuer)?.fill(serialNumber, request) ?? encodeDeviceTbs(issuer, request, serialNumber);
  const signature = await signOnThreadpool(tbs, issuer.privateKey);
  const der = sequence(tbs, SIGNATURE_ALGORITHM, bitString(signature));
  return { der, pem: certificatePem(der), serialNumber };
}

/**
 * The TBSCertificate of the profile, encoded field by field: the reference
 * encoding, which DeviceTbsTemplate reproduces by patching fixed-length fields.
 */
export function encodeDeviceTbs(issuer: DeviceCertificateIssuer, request: DeviceCertificateRequest, serialNumber: string): Buffer {
  const subject = sequence(set(sequence(objectIdentifier(OID.commonName), utf8String(request.deviceId))));
  return sequence(
    VERSION_3,
    unsignedInteger(Buffer.from(serialNumber, 'hex')),
    SIGNATURE_ALGORITHM,
    issuer.subjectNameDer,
    sequence(time(request.notBefore), time(request.notAfter)),
    subject,
    request.spki,
    explicit(
      3,
      sequence(
        BASIC_CONSTRAINTS_LEAF,
        KEY_USAGE_DIGITAL_SIGNATURE,
        EXTENDED_KEY_USAGE_CLIENT_AUTH,
        extension(OID.subjectKeyIdentifier, false, octetString(spkiKeyIdentifier(request.spki))),
        extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, issuer.keyIdentifier))),
        extension(EVIDENCE_EXTENSION_OID, false, evidenceExtensionValue(request.evidenceSha256)),
      ),
    ),
  );
}

/** One template per issuer (null: the issuer's encoding defeats it, use encodeDeviceTbs). */
const templates = new WeakMap<DeviceCertificateIssuer, DeviceTbsTemplate | null>();

function templateFor(issuer: DeviceCertificateIssuer): DeviceTbsTemplate | undefined {
  let template = templates.get(issuer);
  if (template === undefined) {
    template = DeviceTbsTemplate.build(issuer, encodeDeviceTbs);
    templates.set(issuer, template);
  }
  return template ?? undefined;
}

/** PEM with 64-character lines, as toCertificatePem writes it, without a regular expression per certificate. */
function certificatePem(der: Buffer): string {
  const base64 = der.toString('base64');
  let body = '';
  for (let at = 0; at < base64.length; at += 64) body += `${base64.slice(at, at + 64)}\n`;
  return `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----\n`;
}

/** The DER value of the 1.3.6.1.4.1.311.98.1 extension for an evidence digest. */
export function evidenceExtensionValue(evidenceSha256: Uint8Array): Buffer {
  return sequence(sequence(objectIdentifier(OID.sha256)), octetString(evidenceSha256));
}

/** Reads the evidence digest back from the extension value; undefined when it is not of that shape. */
export function readEvidenceExtension(value: Uint8Array): Buffer | undefined {
  const bytes = Buffer.from(value);
  const expectedPrefix = evidenceExtensionValue(Buffer.alloc(32)).subarray(0, -32);
  if (bytes.length !== expectedPrefix.length + 32 || !bytes.subarray(0, expectedPrefix.length).equals(expectedPrefix)) return undefined;
  return bytes.subarray(expectedPrefix.length);
}

/**
 * RFC 5280 method 1: SHA-1 of the subjectPublicKey BIT STRING's bytes. For a
 * P-256 SPKI those are its last 65 bytes (the uncompressed point).
 */
export function spkiKeyIdentifier(spki: Buffer): Buffer {
  return createHash('sha1').update(spki.subarray(spki.length - 65)).digest();
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return critical ? sequence(objectIdentifier(oid), booleanTrue(), octetString(value)) : sequence(objectIdentifier(oid), octetString(value));
}
