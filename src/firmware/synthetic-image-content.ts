import { createHash } from 'node:crypto';

/**
 * The made-up content of the emulator's system images (OS and recovery sets):
 * code bodies and image IDs derived from seeds, so that what one build makes
 * can be made again byte for byte.
 */

/**
 * The seed prefix of one build's image IDs: version and build time, so
 * rebuilding is reproducible within one build and distinct across builds.
 */
export function buildStamp(osVersion: string, securityVersion: number, buildDate: Date): string {
  return `${osVersion}/${securityVersion}/${buildDate.getTime()}`;
}

/** A version-4-shaped GUID derived from `seed`. */
export function derivedImageId(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Deterministic filler: two builds of one version carry the same code bytes. */
export function fillerBody(seed: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  let block = createHash('sha256').update(seed).digest();
  for (let offset = 0; offset < length; offset += block.length) {
    block.copy(out, offset);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}
