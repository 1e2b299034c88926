import { FormatError } from './format-error.js';
import { guidFromBytes, guidToBytes } from './guid.js';

/**
 * Codecs of the known metadata sections (image-format.md, "Sections"). A section
 * is kept as its raw bytes in the package; these functions give typed views and
 * build new sections. Unknown ids are never decoded, only carried.
 */

/** Two ASCII letters stored as a little-endian u16: "ID" is bytes 49 44. */
export function sectionIdToNumber(id: string): number {
  if (!/^[\x20-\x7e]{2}$/.test(id)) throw new FormatError('section-id-invalid', `section id must be two ASCII characters: ${JSON.stringify(id)}`);
  return id.charCodeAt(0) | (id.charCodeAt(1) << 8);
}

export function sectionIdFromNumber(value: number): string {
  return String.fromCharCode(value & 0xff, (value >> 8) & 0xff);
}

export interface IdentitySection {
  imageType: number;
  reserved: number;
  componentId: string;
  imageId: string;
}

export interface SignatureSection {
  /** SHA-1 of the signing certificate's DER. */
  thumbprint: Buffer;
  /** 1 = ECDSA P-256. */
  signingType: number;
}

export interface DebugSection {
  buildDate: Date;
  name: string;
}

export interface AbiEntry {
  version: number;
  identityType: number;
}

export const SigningType = { EcdsaP256: 1 } as const;

function expectLength(id: string, data: Buffer, length: number, offset: number, atLeast = false): void {
  if (atLeast ? data.length < length : data.length !== length) {
    throw new FormatError(
      'section-length-invalid',
      `section ${id} has ${data.length} data bytes, expected ${atLeast ? 'at least ' : ''}${length}`,
      { offset },
    );
  }
}

export function decodeIdentity(data: Buffer, offset = 0): IdentitySection {
  expectLength('ID', data, 36, offset);
  return {
    imageType: data.readUInt16LE(0),
    reserved: data.readUInt16LE(2),
    componentId: guidFromBytes(data, 4),
    imageId: guidFromBytes(data, 20),
  };
}

export function encodeIdentity(identity: IdentitySection): Buffer {
  const data = Buffer.alloc(36);
  data.writeUInt16LE(checkU16(identity.imageType, 'imageType'), 0);
  data.writeUInt16LE(checkU16(identity.reserved, 'reserved'), 2);
  guidToBytes(identity.componentId, 'componentId').copy(data, 4);
  guidToBytes(identity.imageId, 'imageId').copy(data, 20);
  return data;
}

export function decodeSignatureSection(data: Buffer, offset = 0): SignatureSection {
  expectLength('SG', data, 24, offset);
  return { thumbprint: Buffer.from(data.subarray(0, 20)), signingType: data.readUInt32LE(20) };
}

export function encodeSignatureSection(section: SignatureSection): Buffer {
  if (section.thumbprint.length !== 20) throw new FormatError('thumbprint-invalid', 'a signer thumbprint is 20 bytes (SHA-1)');
  const data = Buffer.alloc(24);
  section.thumbprint.copy(data, 0);
  data.writeUInt32LE(checkU32(section.signingType, 'signingType'), 20);
  return data;
}

const DEBUG_NAME_BYTES = 32;

export function decodeDebug(data: Buffer, offset = 0): DebugSection {
  expectLength('DB', data, 8 + DEBUG_NAME_BYTES, offset);
  const seconds = data.readUInt32LE(0) + data.readUInt32LE(4) * 2 ** 32;
  const nameBytes = data.subarray(8, 8 + DEBUG_NAME_BYTES);
  const end = nameBytes.indexOf(0);
  // Dates past the year 275760 do not fit a JS Date; keep such garbage visible but safe.
  const millis = seconds * 1000;
  return {
    buildDate: new Date(millis <= 8.64e15 ? millis : NaN),
    name: nameBytes.subarray(0, end === -1 ? DEBUG_NAME_BYTES : end).toString('utf8'),
  };
}

/** The name is cut to 31 bytes so that a NUL always ends it, as the SDK does. */
export function encodeDebug(section: DebugSection): Buffer {
  const data = Buffer.alloc(8 + DEBUG_NAME_BYTES);
  const time = section.buildDate.getTime();
  if (!Number.isFinite(time) || time < 0) throw new FormatError('build-date-invalid', 'build date must be a valid date after 1970');
  const seconds = Math.floor(time / 1000);
  data.writeUInt32LE(seconds % 2 ** 32, 0);
  data.writeUInt32LE(Math.floor(seconds / 2 ** 32), 4);
  let name: Buffer = Buffer.from(section.name, 'utf8');
  if (name.length > DEBUG_NAME_BYTES - 1) name = truncateUtf8(name, DEBUG_NAME_BYTES - 1);
  name.copy(data, 8);
  return data;
}

function truncateUtf8(bytes: Buffer, max: number): Buffer {
  let end = max;
  // Never cut inside a multi-byte character: back up over continuation bytes.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

export function decodeU32Section(id: string, data: Buffer, offset = 0): number {
  expectLength(id, data, 4, offset);
  return data.readUInt32LE(0);
}

export function encodeU32Section(value: number, what: string): Buffer {
  const data = Buffer.alloc(4);
  data.writeUInt32LE(checkU32(value, what), 0);
  return data;
}

export function decodeAbiList(id: string, data: Buffer, offset = 0): AbiEntry[] {
  expectLength(id, data, 4, offset, true);
  const count = data.readUInt32LE(0);
  if (data.length !== 4 + count * 8) {
    throw new FormatError(
      'section-length-invalid',
      `section ${id} declares ${count} ABI entries (${4 + count * 8} bytes) but has ${data.length} bytes`,
      { offset },
    );
  }
  const entries: AbiEntry[] = [];
  for (let i = 0; i < count; i++) {
    entries.push({ version: data.readUInt32LE(4 + i * 8), identityType: data.readUInt32LE(8 + i * 8) });
  }
  return entries;
}

export function encodeAbiList(entries: readonly AbiEntry[]): Buffer {
  const data = Buffer.alloc(4 + entries.length * 8);
  data.writeUInt32LE(entries.length, 0);
  entries.forEach((entry, i) => {
    data.writeUInt32LE(checkU32(entry.version, 'ABI version'), 4 + i * 8);
    data.writeUInt32LE(checkU32(entry.identityType, 'ABI identity type'), 8 + i * 8);
  });
  return data;
}

export function checkU16(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new FormatError('value-out-of-range', `${what} must be an integer 0..65535, got ${value}`);
  }
  return value;
}

export function checkU32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new FormatError('value-out-of-range', `${what} must be an integer 0..4294967295, got ${value}`);
  }
  return value;
}
