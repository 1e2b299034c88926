import { MalformedDataError } from './link-errors.js';

/**
 * Consistent Overhead Byte Stuffing (Cheshire and Baker), the plain variant the
 * recovery link uses: 0x00 never appears in the encoding, so a single 0x00 can end
 * a frame. Each block is a code byte N (1..255) followed by N-1 non-zero bytes; a
 * block with N < 255 stands for its bytes plus a 0x00, except the last block.
 * The delimiter itself is not part of the encoding: callers append/strip it.
 */

/** Longest run of data bytes one block can carry. */
const MAX_BLOCK_DATA = 254;

/** Encodes `data` (any bytes); the result contains no 0x00 and is at least one byte long. */
export function cobsEncode(data: Uint8Array): Buffer {
  // Worst case: one code byte per 254 data bytes, plus the first code byte.
  const out = Buffer.allocUnsafe(data.length + Math.ceil(data.length / MAX_BLOCK_DATA) + 1);
  let codeAt = 0;
  let write = 1;
  let code = 1;
  for (let i = 0; i < data.length; i += 1) {
    const byte = data[i];
    if (byte === 0) {
      out[codeAt] = code;
      codeAt = write;
      write += 1;
      code = 1;
      continue;
    }
    out[write] = byte;
    write += 1;
    code += 1;
    if (code === 0xff) {
      // A full block carries no implied zero; start the next one.
      out[codeAt] = code;
      codeAt = write;
      write += 1;
      code = 1;
    }
  }
  out[codeAt] = code;
  return out.subarray(0, write);
}

/**
 * Decodes one encoded frame (without its 0x00 delimiter). Throws MalformedDataError
 * naming the offset of the first byte that cannot be right: a 0x00 inside the frame,
 * or a code byte whose block runs past the end. An empty input is not a valid encoding.
 */
export function cobsDecode(encoded: Uint8Array): Buffer {
  if (encoded.length === 0) {
    throw new MalformedDataError('cobs-empty', 'COBS frame is empty', 0);
  }
  const out = Buffer.allocUnsafe(encoded.length);
  let write = 0;
  let read = 0;
  while (read < encoded.length) {
    const code = encoded[read];
    if (code === 0) {
      throw new MalformedDataError('cobs-zero-byte', 'COBS frame contains a 0x00 code byte', read);
    }
    const blockEnd = read + code;
    if (blockEnd > encoded.length) {
      throw new MalformedDataError(
        'cobs-block-overrun',
        `COBS code byte 0x${code.toString(16).padStart(2, '0')} runs ${blockEnd - encoded.length} byte(s) past the end of the frame`,
        read,
      );
    }
    for (let i = read + 1; i < blockEnd; i += 1) {
      const byte = encoded[i];
      if (byte === 0) {
        throw new MalformedDataError('cobs-zero-byte', 'COBS frame contains a 0x00 data byte', i);
      }
      out[write] = byte;
      write += 1;
    }
    read = blockEnd;
    if (code !== 0xff && read < encoded.length) {
      out[write] = 0;
      write += 1;
    }
  }
  return out.subarray(0, write);
}
