import { FormatError } from './format-error.js';
import {
  type AbiEntry,
  type DebugSection,
  type IdentitySection,
  type SignatureSection,
  checkU16,
  decodeAbiList,
  decodeDebug,
  decodeIdentity,
  decodeSignatureSection,
  decodeU32Section,
  sectionIdFromNumber,
  sectionIdToNumber,
} from './metadata-sections.js';

/**
 * The signed image package layout (image-format.md):
 *   image    = body || metadata || u32le metadataLength || signature(64)
 *   metadata = u32le magic | u32le sectionCount | section*
 *   section  = u16le id | u16le dataLength | data
 * Parsing keeps every section's raw bytes so that an unknown section, or a
 * known one with odd content, survives parse/serialize byte for byte.
 */
export const METADATA_MAGIC = 0x4d345834;
export const SIGNATURE_LENGTH = 64;
/** magic + count + the trailing length field. */
const METADATA_FIXED_BYTES = 12;
const SECTION_HEADER_BYTES = 4;

export interface MetadataSection {
  /** Two ASCII letters, e.g. "ID". */
  id: string;
  data: Buffer;
}

export interface LocatedSection extends MetadataSection {
  /** Byte offset of the section header in the package. */
  offset: number;
}

export interface ImagePackage {
  body: Buffer;
  sections: LocatedSection[];
  metadataLength: number;
  signature: Buffer;
  /** body || metadata || metadataLength: the bytes the signature covers. */
  signedBytes: Buffer;
  /** Total length of the package in bytes. */
  length: number;
}

/** Parse a signed image package; throws FormatError naming the byte offset of any fault. */
export function parseImagePackage(bytes: Buffer): ImagePackage {
  const minimum = METADATA_FIXED_BYTES + SIGNATURE_LENGTH;
  if (bytes.length < minimum) {
    throw new FormatError(
      'image-truncated',
      `image package is ${bytes.length} bytes; the smallest possible one is ${minimum} (metadata header, length and signature)`,
      { offset: bytes.length },
    );
  }
  const lengthOffset = bytes.length - SIGNATURE_LENGTH - 4;
  const metadataLength = bytes.readUInt32LE(lengthOffset);
  const metadataStart = bytes.length - SIGNATURE_LENGTH - metadataLength;
  if (metadataLength < METADATA_FIXED_BYTES || metadataStart < 0) {
    throw new FormatError(
      'metadata-length-invalid',
      `metadata length ${metadataLength} does not fit: the package has ${bytes.length - SIGNATURE_LENGTH} bytes before the signature and metadata needs at least ${METADATA_FIXED_BYTES}`,
      { offset: lengthOffset },
    );
  }
  const magic = bytes.readUInt32LE(metadataStart);
  if (magic !== METADATA_MAGIC) {
    throw new FormatError(
      'metadata-magic-invalid',
      `metadata magic is 0x${magic.toString(16).padStart(8, '0')}, expected 0x${METADATA_MAGIC.toString(16)} ("4X4M")`,
      { offset: metadataStart },
    );
  }
  const sectionCount = bytes.readUInt32LE(metadataStart + 4);
  const sections: LocatedSection[] = [];
  let cursor = metadataStart + 8;
  for (let index = 0; index < sectionCount; index++) {
    if (cursor + SECTION_HEADER_BYTES > lengthOffset) {
      throw new FormatError(
        'section-past-end',
        `section ${index + 1} of ${sectionCount} starts past the end of the metadata`,
        { offset: cursor },
      );
    }
    const id = sectionIdFromNumber(bytes.readUInt16LE(cursor));
    const dataLength = bytes.readUInt16LE(cursor + 2);
    const dataStart = cursor + SECTION_HEADER_BYTES;
    if (dataStart + dataLength > lengthOffset) {
      throw new FormatError(
        'section-past-end',
        `section ${JSON.stringify(id)} (${index + 1} of ${sectionCount}) claims ${dataLength} data bytes, past the end of the metadata at ${lengthOffset}`,
        { offset: cursor + 2 },
      );
    }
    sections.push({ id, offset: cursor, data: bytes.subarray(dataStart, dataStart + dataLength) });
    cursor = dataStart + dataLength;
  }
  if (cursor !== lengthOffset) {
    throw new FormatError(
      'metadata-trailing-bytes',
      `${lengthOffset - cursor} bytes between the last section and the metadata length field`,
      { offset: cursor },
    );
  }
  return {
    body: bytes.subarray(0, metadataStart),
    sections,
    metadataLength,
    signature: bytes.subarray(bytes.length - SIGNATURE_LENGTH),
    signedBytes: bytes.subarray(0, bytes.length - SIGNATURE_LENGTH),
    length: bytes.length,
  };
}

/** The metadata block for these sections, including its trailing length field. */
export function encodeMetadata(sections: readonly MetadataSection[]): Buffer {
  const length = METADATA_FIXED_BYTES + sections.reduce((sum, s) => sum + SECTION_HEADER_BYTES + s.data.length, 0);
  const out = Buffer.alloc(length);
  out.writeUInt32LE(METADATA_MAGIC, 0);
  out.writeUInt32LE(sections.length, 4);
  let cursor = 8;
  for (const section of sections) {
    out.writeUInt16LE(sectionIdToNumber(section.id), cursor);
    out.writeUInt16LE(checkU16(section.data.length, `length of section ${section.id}`), cursor + 2);
    section.data.copy(out, cursor + SECTION_HEADER_BYTES);
    cursor += SECTION_HEADER_BYTES + section.data.length;
  }
  out.writeUInt32LE(length, cursor);
  return out;
}

/** body || metadata || length: what a signature is computed over. */
export function encodeSignedBytes(body: Buffer, sections: readonly MetadataSection[]): Buffer {
  return Buffer.concat([body, encodeMetadata(sections)]);
}

/** Rebuild the package bytes from its parts (no re-signing). */
export function serializeImagePackage(pkg: { body: Buffer; sections: readonly MetadataSection[]; signature: Buffer }): Buffer {
  if (pkg.signature.length !== SIGNATURE_LENGTH) {
    throw new FormatError('signature-length-invalid', `signature must be ${SIGNATURE_LENGTH} bytes, got ${pkg.signature.length}`);
  }
  return Buffer.concat([encodeSignedBytes(pkg.body, pkg.sections), pkg.signature]);
}

export function findSection(pkg: Pick<ImagePackage, 'sections'>, id: string): LocatedSection | MetadataSection | undefined {
  return pkg.sections.find((s) => s.id === id);
}

function offsetOf(section: LocatedSection | MetadataSection): number | undefined {
  return 'offset' in section ? section.offset + SECTION_HEADER_BYTES : undefined;
}

/** Typed views of the known sections; each is undefined when the section is absent. */
export interface ImageFacts {
  identity: IdentitySection | undefined;
  signatureInfo: SignatureSection | undefined;
  debug: DebugSection | undefined;
  temporaryImage: number | undefined;
  abiDepends: AbiEntry[];
  abiProvides: AbiEntry[];
  securityVersion: number | undefined;
}

export function readImageFacts(pkg: Pick<ImagePackage, 'sections'>): ImageFacts {
  const view = <T>(id: string, decode: (data: Buffer, offset?: number) => T): T | undefined => {
    const section = findSection(pkg, id);
    return section ? decode(section.data, offsetOf(section)) : undefined;
  };
  return {
    identity: view('ID', decodeIdentity),
    signatureInfo: view('SG', decodeSignatureSection),
    debug: view('DB', decodeDebug),
    temporaryImage: view('TP', (d, o) => decodeU32Section('TP', d, o)),
    abiDepends: view('ND', (d, o) => decodeAbiList('ND', d, o)) ?? [],
    abiProvides: view('NP', (d, o) => decodeAbiList('NP', d, o)) ?? [],
    securityVersion: view('RV', (d, o) => decodeU32Section('RV', d, o)),
  };
}

/** The identity section, required by everything that installs or boots an image. */
export function requireIdentity(pkg: Pick<ImagePackage, 'sections'>): IdentitySection {
  const identity = readImageFacts(pkg).identity;
  if (!identity) throw new FormatError('identity-missing', 'image has no ID (identity) section');
  return identity;
}
