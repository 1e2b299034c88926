import { pooledRandomBytes } from './random-pool.js';

/**
 * Serial numbers of device certificates, in increasing order: 6 bytes of
 * milliseconds since the epoch, a 2-byte counter within the millisecond, then
 * 8 bytes from the CSPRNG. Each is unique (time and counter, and the random part
 * besides), carries the 64 random bits the CA/Browser Forum asks for, and is 16
 * bytes with its top bit clear (positive, fixed length) until the year 6429.
 * Increasing serials append to the `certificates` primary key instead of
 * dirtying a random page of it per certificate (the table takes one per
 * attestation; a random key is one more page to write at every commit).
 */
const RANDOM_BYTES = 8;

let lastMs = 0;
let counter = 0;

export function nextCertificateSerial(now = Date.now()): string {
  let ms = Math.max(Math.floor(now), lastMs);
  if (ms === lastMs) {
    // The counter orders serials within a millisecond; past 65535 of them, borrow the next millisecond.
    if (++counter > 0xffff) (ms = lastMs + 1), (counter = 0);
  } else counter = 0;
  lastMs = ms;
  const bytes = Buffer.allocUnsafe(8);
  bytes.writeUIntBE(ms, 0, 6);
  bytes.writeUInt16BE(counter, 6);
  return bytes.toString('hex') + pooledRandomBytes(RANDOM_BYTES).toString('hex');
}
