import { FormatError } from './format-error.js';

/**
 * GUIDs in images are stored in .NET byte order ("bytes_le"): the first three
 * groups little-endian, the last two as written.
 */
const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(text: unknown): text is string {
  return typeof text === 'string' && GUID_PATTERN.test(text);
}

/** 16 bytes_le bytes to the canonical lower-case text form. */
export function guidFromBytes(bytes: Buffer, offset = 0): string {
  if (offset < 0 || offset + 16 > bytes.length) {
    throw new FormatError('guid-truncated', 'a GUID needs 16 bytes', { offset });
  }
  const hex = (start: number, end: number, reverse: boolean): string => {
    const part = Buffer.from(bytes.subarray(offset + start, offset + end));
    if (reverse) part.reverse();
    return part.toString('hex');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

/** The canonical text form to 16 bytes_le bytes; `where` names the field for errors. */
export function guidToBytes(text: string, where = 'GUID'): Buffer {
  if (!isGuid(text)) {
    throw new FormatError('guid-invalid', `${where} is not a GUID (expected 8-4-4-4-12 hex digits): ${JSON.stringify(text)}`);
  }
  const groups = text.toLowerCase().split('-');
  const le = (hex: string): Buffer => Buffer.from(hex, 'hex').reverse();
  return Buffer.concat([le(groups[0]!), le(groups[1]!), le(groups[2]!), Buffer.from(groups[3]! + groups[4]!, 'hex')]);
}

/** A fresh random (version 4) GUID. */
export function randomGuid(): string {
  return globalThis.crypto.randomUUID();
}
