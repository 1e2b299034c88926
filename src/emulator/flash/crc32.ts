import * as zlib from 'node:zlib';

/** CRC-32 (IEEE 802.3, as zip and zlib), the checksum of every flash record and blob. */
export function crc32(data: Uint8Array): number {
  return nativeCrc32 ? nativeCrc32(data) >>> 0 : tableCrc32(data);
}

// zlib.crc32 exists from Node 20.15; the package allows any Node 20, so keep a fallback.
const nativeCrc32: ((data: Uint8Array) => number) | undefined =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? (zlib.crc32 as (data: Uint8Array) => number) : undefined;

let table: Uint32Array | undefined;

function tableCrc32(data: Uint8Array): number {
  table ??= buildTable();
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function buildTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

/** Exposed so a test can check the fallback against the native one. */
export const crc32ByTable = tableCrc32;
