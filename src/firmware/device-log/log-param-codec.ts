import { describeDeviceError } from '../../util/device-error-catalog.js';
import { InputError } from '../../util/failure.js';
import type { LogParam } from './log-manifests.js';

/**
 * Parameter bytes of a device-log entry (device-log-format.md section 4):
 * integer i32 LE, unsignedInteger u32 LE, ipAddress 4 octets in address order,
 * uniqueId 16 bytes, string UTF-8 + NUL, commonError u32 LE full error code;
 * packed with no padding. Decoding prints each value as Microsoft's parser does.
 */

/**
 * How a writer lays out a GUID's 16 bytes. `canonical` (RFC 4122 order) is what
 * real devices write (inferred from Microsoft's sample, section 4), so the parser
 * prints the first three groups byte-swapped; `parser` writes the bytes_le order
 * so that the parser prints the canonical text.
 */
export type GuidByteOrder = 'canonical' | 'parser';

export type LogArg = number | string;

/** A string parameter longer than this (UTF-8 bytes) is cut, on a character boundary: entries stay well inside a bank. */
export const MAX_STRING_PARAM_BYTES = 255;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function encodeLogParams(params: readonly LogParam[], args: readonly LogArg[], where: string, guidOrder: GuidByteOrder = 'canonical'): Buffer {
  if (args.length !== params.length) throw new InputError('log-args', `${where} takes ${params.length} parameter(s) (${params.map((p) => p.name).join(', ')}), got ${args.length}`);
  return Buffer.concat(params.map((param, index) => encodeLogParam(param, args[index]!, `${where} parameter ${JSON.stringify(param.name)}`, guidOrder)));
}

export function encodeLogParam(param: LogParam, value: LogArg, where: string, guidOrder: GuidByteOrder = 'canonical'): Buffer {
  const out = Buffer.alloc(param.type === 'uniqueId' ? 16 : 4);
  switch (param.type) {
    case 'integer':
      out.writeInt32LE(requireInteger(value, -(2 ** 31), 2 ** 31 - 1, where));
      return out;
    case 'unsignedInteger':
    case 'commonError':
      out.writeUInt32LE(requireInteger(value, 0, 0xffffffff, where));
      return out;
    case 'ipAddress': {
      const octets = typeof value === 'string' ? value.split('.').map(Number) : [];
      if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) throw new InputError('log-args', `${where} must be a dotted IPv4 address, got ${JSON.stringify(value)}`);
      return Buffer.from(octets);
    }
    case 'uniqueId': {
      if (typeof value !== 'string' || !GUID.test(value)) throw new InputError('log-args', `${where} must be a GUID, got ${JSON.stringify(value)}`);
      const bytes = Buffer.from(value.replaceAll('-', ''), 'hex');
      return guidOrder === 'parser' ? swapGuidGroups(bytes) : bytes;
    }
    case 'string': {
      if (typeof value !== 'string') throw new InputError('log-args', `${where} must be a string, got ${JSON.stringify(value)}`);
      if (value.includes('\0')) throw new InputError('log-args', `${where} must not contain NUL`);
      return Buffer.concat([truncateUtf8(value, MAX_STRING_PARAM_BYTES), Buffer.of(0)]);
    }
    default:
      // The parser consumes nothing for a type it does not know.
      return Buffer.alloc(0);
  }
}

export interface DecodedLogParam {
  name: string;
  type: string;
  /** The number (integer, unsignedInteger, commonError) or text (string, ipAddress, uniqueId as the parser prints it); null for an unknown type. */
  value: number | string | null;
  /** `<name>: <value>` exactly as Microsoft's parser prints it. */
  text: string;
  /** uniqueId: the GUID read in RFC 4122 byte order (what a device wrote, section 4). */
  guid?: string;
  /** commonError: the code as the catalog names it. */
  error?: { code: number; name: string; message: string; untranslated: boolean };
}

/**
 * Decodes one parameter at `offset` of `bytes`, which must end before `end`
 * (the entry's end). Throws InputError naming the byte offset when it would
 * run past the entry or is not valid UTF-8; Microsoft's parser would read on
 * into the next entry or crash.
 */
export function decodeLogParam(bytes: Buffer, offset: number, end: number, param: LogParam): { param: DecodedLogParam; next: number } {
  const fixed = param.type === 'uniqueId' ? 16 : ['integer', 'unsignedInteger', 'ipAddress', 'commonError'].includes(param.type) ? 4 : 0;
  const overrun = (size: string): never => {
    throw new InputError('device-log-malformed', `byte offset ${offset}: parameter ${JSON.stringify(param.name)} (${param.type}, ${size}) runs past the entry's end at ${end}`, { offset });
  };
  if (fixed && offset + fixed > end) overrun(`${fixed} bytes`);
  const named = (value: number | string | null, shown: string, extra: Partial<DecodedLogParam> = {}) => ({ name: param.name, type: param.type, value, text: `${param.name}: ${shown}`, ...extra });
  switch (param.type) {
    case 'integer': {
      const value = bytes.readInt32LE(offset);
      return { param: named(value, String(value)), next: offset + 4 };
    }
    case 'unsignedInteger': {
      const value = bytes.readUInt32LE(offset);
      return { param: named(value, String(value)), next: offset + 4 };
    }
    case 'ipAddress': {
      const value = [...bytes.subarray(offset, offset + 4)].join('.');
      return { param: named(value, value), next: offset + 4 };
    }
    case 'uniqueId': {
      const raw = bytes.subarray(offset, offset + 16);
      const shown = guidText(swapGuidGroups(Buffer.from(raw)));
      return { param: named(shown, shown, { guid: guidText(raw) }), next: offset + 16 };
    }
    case 'commonError': {
      const code = bytes.readUInt32LE(offset);
      const error = parserErrorName(code);
      return { param: named(code, parserErrorRepr(error), { error }), next: offset + 4 };
    }
    case 'string': {
      const nul = bytes.indexOf(0, offset);
      if (nul < 0 || nul >= end) overrun('no NUL before it');
      let value: string;
      try {
        value = utf8.decode(bytes.subarray(offset, nul));
      } catch {
        throw new InputError('device-log-malformed', `byte offset ${offset}: string parameter ${JSON.stringify(param.name)} is not valid UTF-8`, { offset });
      }
      return { param: named(value, value), next: nul + 1 };
    }
    default:
      return { param: named(null, ''), next: offset };
  }
}

/** How Microsoft's error_code.py names a code (device-log-format.md section 7). */
export function parserErrorName(code: number): { code: number; name: string; message: string; untranslated: boolean } {
  const described = describeDeviceError(code);
  switch (described.standing) {
    case 'success':
    case 'listed':
      return { code, name: described.name, message: described.message, untranslated: false };
    case 'errno':
    case 'unlisted-id':
      return { code, name: described.name, message: `${described.categoryName} error code: ${described.id}`, untranslated: false };
    default:
      return { code, name: 'UnknownError', message: '<Error Translation failed>', untranslated: true };
  }
}

/** The Python repr of the parser's error dict: `{'code': 7340047, 'name': '...', 'message': '...', '_is_untranslated': False}`. */
export function parserErrorRepr(error: { code: number; name: string; message: string; untranslated: boolean }): string {
  return `{'code': ${error.code}, 'name': ${pythonStringRepr(error.name)}, 'message': ${pythonStringRepr(error.message)}, '_is_untranslated': ${error.untranslated ? 'True' : 'False'}}`;
}

/** Python's repr of a str: single quotes unless the text holds a single quote and no double quote. */
export function pythonStringRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === '\\') out += '\\\\';
    else if (char === quote) out += `\\${quote}`;
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += char;
  }
  return out + quote;
}

function requireInteger(value: LogArg, min: number, max: number, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new InputError('log-args', `${where} must be an integer in ${min}..${max}, got ${JSON.stringify(value)}`);
  return value;
}

/** The first three GUID groups reversed in place: RFC 4122 order <-> Microsoft's bytes_le order. */
function swapGuidGroups(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  out.subarray(0, 4).reverse();
  out.subarray(4, 6).reverse();
  out.subarray(6, 8).reverse();
  return out;
}

function guidText(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function truncateUtf8(text: string, maxBytes: number): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return bytes;
  let cut = maxBytes;
  // Back off to the start of a character (continuation bytes are 10xxxxxx).
  while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--;
  return bytes.subarray(0, cut);
}
