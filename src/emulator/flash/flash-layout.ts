import { InputError } from '../../util/failure.js';
import type { FlashGeometry } from './flash-geometry.js';
import type { FlashRegion } from './flash-region.js';

const MIB = 1024 * 1024;

/** The partitions the emulator keeps in its flash. Pure data; no image knowledge. */
export interface FlashLayout {
  /** The two copies of the boot-control record: blocks 0 and 1. */
  readonly bootControl: readonly [FlashRegion, FlashRegion];
  readonly osSlots: { readonly a: FlashRegion; readonly b: FlashRegion };
  readonly appSlots: readonly FlashRegion[];
  /** Everything left over: logs, telemetry, spare. */
  readonly spare: FlashRegion;
  /** Every region above, in flash order. */
  readonly regions: readonly FlashRegion[];
}

export interface FlashLayoutOptions {
  osSlotBytes?: number;
  appSlotBytes?: number;
  appSlotCount?: number;
}

export const DEFAULT_OS_SLOT_BYTES = 2 * MIB;
export const DEFAULT_APP_SLOT_BYTES = 1 * MIB;
export const DEFAULT_APP_SLOT_COUNT = 8;

/**
 * Lays the partitions out from block 0 in this order: boot-control copies, OS
 * slot A, OS slot B, the app slots, then the spare area (the rest of the flash).
 */
export function computeFlashLayout(geometry: FlashGeometry, options: FlashLayoutOptions = {}): FlashLayout {
  const osBlocks = blocksFor(options.osSlotBytes ?? DEFAULT_OS_SLOT_BYTES, geometry, 'osSlotBytes');
  const appBlocks = blocksFor(options.appSlotBytes ?? DEFAULT_APP_SLOT_BYTES, geometry, 'appSlotBytes');
  const appSlotCount = options.appSlotCount ?? DEFAULT_APP_SLOT_COUNT;
  if (!Number.isSafeInteger(appSlotCount) || appSlotCount < 0) {
    throw new InputError('flash-bad-layout', `appSlotCount must be a non-negative integer, got ${appSlotCount}`, { appSlotCount });
  }
  let next = 0;
  const take = (name: string, blockCount: number): FlashRegion => {
    const region = { name, firstBlock: next, blockCount };
    next += blockCount;
    return region;
  };
  const bootControl = [take('boot-control-0', 1), take('boot-control-1', 1)] as const;
  const osSlots = { a: take('os-a', osBlocks), b: take('os-b', osBlocks) };
  const appSlots = Array.from({ length: appSlotCount }, (_, i) => take(`app-${i}`, appBlocks));
  const flashBlocks = geometry.size / geometry.eraseBlockSize;
  if (next >= flashBlocks) {
    throw new InputError('flash-bad-layout', `the partitions need ${next} blocks and a spare one; the flash has ${flashBlocks}`, {
      neededBlocks: next + 1,
      flashBlocks,
    });
  }
  const spare = take('spare', flashBlocks - next);
  const regions = [...bootControl, osSlots.a, osSlots.b, ...appSlots, spare];
  validateFlashLayout(regions, geometry);
  return { bootControl, osSlots, appSlots, spare, regions };
}

/** Throws unless every region is non-empty, inside the flash and apart from the others. */
export function validateFlashLayout(regions: readonly FlashRegion[], geometry: FlashGeometry): void {
  const flashBlocks = geometry.size / geometry.eraseBlockSize;
  const names = new Set<string>();
  for (const region of regions) {
    if (names.has(region.name)) throw new InputError('flash-bad-layout', `two regions are named ${region.name}`, { region: region.name });
    names.add(region.name);
    if (!Number.isSafeInteger(region.firstBlock) || !Number.isSafeInteger(region.blockCount) || region.firstBlock < 0 || region.blockCount < 1) {
      throw new InputError('flash-bad-layout', `region ${region.name} must be one or more whole blocks`, { ...region });
    }
    if (region.firstBlock + region.blockCount > flashBlocks) {
      throw new InputError(
        'flash-bad-layout',
        `region ${region.name} (blocks ${region.firstBlock}..${region.firstBlock + region.blockCount - 1}) does not fit in the ${flashBlocks}-block flash`,
        { ...region, flashBlocks },
      );
    }
  }
  const sorted = [...regions].sort((x, y) => x.firstBlock - y.firstBlock);
  for (let i = 1; i < sorted.length; i++) {
    const before = sorted[i - 1]!;
    const here = sorted[i]!;
    if (before.firstBlock + before.blockCount > here.firstBlock) {
      throw new InputError('flash-bad-layout', `regions ${before.name} and ${here.name} overlap`, { first: before, second: here });
    }
  }
}

/** Byte sizes become whole erase blocks; a size that is not is a layout mistake. */
function blocksFor(bytes: number, geometry: FlashGeometry, name: string): number {
  if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes % geometry.eraseBlockSize !== 0) {
    throw new InputError('flash-bad-layout', `${name} ${bytes} is not a positive whole number of ${geometry.eraseBlockSize}-byte blocks`, {
      [name]: bytes,
      eraseBlockSize: geometry.eraseBlockSize,
    });
  }
  return bytes / geometry.eraseBlockSize;
}
