import { randomFillSync } from 'node:crypto';

/**
 * Bytes from the CSPRNG, drawn 4 KiB at a time: each attestation needs a few
 * dozen (the session nonce, the random half of the certificate serial), and one
 * call per 4 KiB costs less than one per nonce. Every byte is handed out once.
 */
const POOL_BYTES = 4096;

let pool = Buffer.alloc(0);
let offset = 0;

/** `length` fresh random bytes (at most 4 KiB), in a buffer of their own. */
export function pooledRandomBytes(length: number): Buffer {
  if (length > POOL_BYTES) return randomFillSync(Buffer.allocUnsafe(length));
  if (offset + length > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_BYTES));
    offset = 0;
  }
  const bytes = Buffer.allocUnsafe(length);
  pool.copy(bytes, 0, offset, offset + length);
  offset += length;
  return bytes;
}
