import { FormatError } from '../image/format-error.js';

/**
 * How a set of images is laid out inside one flash slot (project-defined):
 *   u32 magic 'ISET' | u32 count | u32 length[count] | image bytes, back to back.
 * The region store around it already guards completeness with a CRC; this layer
 * only needs to split the blob again.
 */
const MAGIC = 0x54455349; // "ISET" little-endian
const MAX_IMAGES = 64;

export function encodeImageSet(images: readonly Buffer[]): Buffer {
  if (images.length > MAX_IMAGES) throw new FormatError('image-set-too-large', `a slot holds at most ${MAX_IMAGES} images`);
  const header = Buffer.alloc(8 + images.length * 4);
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt32LE(images.length, 4);
  images.forEach((image, i) => header.writeUInt32LE(image.length, 8 + i * 4));
  return Buffer.concat([header, ...images]);
}

export function decodeImageSet(blob: Buffer): Buffer[] {
  if (blob.length < 8 || blob.readUInt32LE(0) !== MAGIC) {
    throw new FormatError('image-set-invalid', 'slot does not hold an image set', { offset: 0 });
  }
  const count = blob.readUInt32LE(4);
  if (count > MAX_IMAGES || 8 + count * 4 > blob.length) {
    throw new FormatError('image-set-invalid', `image set claims ${count} images`, { offset: 4 });
  }
  const images: Buffer[] = [];
  let cursor = 8 + count * 4;
  for (let i = 0; i < count; i++) {
    const length = blob.readUInt32LE(8 + i * 4);
    if (cursor + length > blob.length) {
      throw new FormatError('image-set-invalid', `image ${i} of the set runs past the end of the slot`, { offset: 8 + i * 4 });
    }
    images.push(blob.subarray(cursor, cursor + length));
    cursor += length;
  }
  return images;
}
