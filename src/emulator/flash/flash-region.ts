import { FlashError } from './flash-error.js';
import type { FlashGeometry } from './flash-geometry.js';

/** A named run of whole erase blocks. */
export interface FlashRegion {
  readonly name: string;
  readonly firstBlock: number;
  readonly blockCount: number;
}

export function regionOffset(region: FlashRegion, geometry: FlashGeometry): number {
  return region.firstBlock * geometry.eraseBlockSize;
}

export function regionSize(region: FlashRegion, geometry: FlashGeometry): number {
  return region.blockCount * geometry.eraseBlockSize;
}

/** Throws unless the region is a non-empty run of blocks inside the flash. */
export function checkRegionFits(region: FlashRegion, geometry: FlashGeometry): void {
  const blocks = geometry.size / geometry.eraseBlockSize;
  const { firstBlock, blockCount } = region;
  if (!Number.isSafeInteger(firstBlock) || !Number.isSafeInteger(blockCount) || firstBlock < 0 || blockCount < 1 || firstBlock + blockCount > blocks) {
    throw new FlashError('region-out-of-range', `region ${region.name} (blocks ${firstBlock}+${blockCount}) is not inside the ${blocks}-block flash`, {
      region: region.name,
      firstBlock,
      blockCount,
      flashBlocks: blocks,
    });
  }
}
