/** Test helpers for writing bytes the way the spec prints them. */

/** Bytes from spec notation: `02 04 02 a0`, spaces optional. */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** Reproducible pseudo-random bytes (xorshift32), so a failing size always fails the same way. */
export function patternBytes(length: number, seed = 0x2545f491): Buffer {
  const out = Buffer.alloc(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i += 1) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out[i] = state & 0xff;
  }
  return out;
}
