import { crc32 } from './crc32.js';
import type { FlashDevice } from './flash-device.js';
import { FlashError } from './flash-error.js';
import { type FlashRegion, checkRegionFits, regionOffset, regionSize } from './flash-region.js';
import { programFirstUnitLast, programInUnits } from './program-in-units.js';

const MAGIC = Buffer.from('BLOB', 'latin1');
/** magic | u32 length | u32 crc32 of data */
const HEADER_BYTES = 12;

/** Why a region holds no readable blob. */
export type BlobAbsence = 'no-header' | 'bad-magic' | 'bad-length' | 'bad-crc';

export type BlobRead =
  | { data: Buffer; reason?: undefined; detail?: undefined }
  | { data: undefined; reason: BlobAbsence; detail: string };

/**
 * One blob per region of whole erase blocks. The header sits in the region's
 * first program unit(s), which no data shares, and is programmed after all the
 * data: a blob is visible only once complete, and rewriting a region erases its
 * old header first, so a torn rewrite reads as no blob, never a mix.
 */
export class RegionStore {
  constructor(private readonly flash: FlashDevice) {}

  /** The bytes reserved for the header: whole program units, so data never shares one. */
  get headerSpan(): number {
    const unit = this.flash.geometry.programUnit;
    return Math.ceil(HEADER_BYTES / unit) * unit;
  }

  /** The largest blob the region can hold. */
  capacity(region: FlashRegion): number {
    return Math.max(0, regionSize(region, this.flash.geometry) - this.headerSpan);
  }

  /** Erases the blocks the blob needs (the header's first), programs the data, then the header. */
  async writeBlob(region: FlashRegion, data: Uint8Array): Promise<void> {
    const geometry = this.flash.geometry;
    checkRegionFits(region, geometry);
    if (data.length > this.capacity(region)) {
      throw new FlashError('blob-too-large', `blob of ${data.length} bytes does not fit region ${region.name} (${this.capacity(region)} bytes)`, {
        region: region.name,
        length: data.length,
        capacity: this.capacity(region),
      });
    }
    const start = regionOffset(region, geometry);
    const blocksNeeded = Math.ceil((this.headerSpan + data.length) / geometry.eraseBlockSize);
    for (let i = 0; i < blocksNeeded; i++) await this.flash.erase(region.firstBlock + i);
    await programInUnits(this.flash, start + this.headerSpan, data);
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header, 0);
    header.writeUInt32LE(data.length, 4);
    header.writeUInt32LE(crc32(data), 8);
    await programFirstUnitLast(this.flash, start, header);
    const back = this.readBlob(region);
    if (!back.data || !back.data.equals(data)) {
      throw new FlashError('verify-failed', `region ${region.name} did not read back as written (${back.reason ?? 'different bytes'})`, {
        region: region.name,
      });
    }
  }

  /**
   * `trustContent`: return the bytes even when their CRC fails, for callers that
   * verify the content themselves (signed images), so the fault is reported by
   * the check that would find it on a real device.
   */
  readBlob(region: FlashRegion, options: { trustContent?: boolean } = {}): BlobRead {
    const geometry = this.flash.geometry;
    checkRegionFits(region, geometry);
    const start = regionOffset(region, geometry);
    const header = this.flash.read(start, HEADER_BYTES);
    if (header.every((byte) => byte === 0xff)) {
      return { data: undefined, reason: 'no-header', detail: `region ${region.name} has no header: empty, or its last write did not finish` };
    }
    if (!header.subarray(0, MAGIC.length).equals(MAGIC)) {
      return { data: undefined, reason: 'bad-magic', detail: `region ${region.name} header has no blob magic` };
    }
    const length = header.readUInt32LE(4);
    if (length > this.capacity(region)) {
      return { data: undefined, reason: 'bad-length', detail: `region ${region.name} header claims ${length} bytes, more than it holds` };
    }
    const data = this.flash.read(start + this.headerSpan, length);
    if (!options.trustContent && crc32(data) !== header.readUInt32LE(8)) {
      return { data: undefined, reason: 'bad-crc', detail: `region ${region.name} blob of ${length} bytes fails its CRC-32` };
    }
    return { data };
  }
}
