import { InputError } from '../../util/failure.js';

const KIB = 1024;
const MIB = 1024 * KIB;

/** How long operations take on a real board; used only when a pacer is given. */
export interface FlashTiming {
  /** Cost of erasing one erase block. */
  eraseBlockMs: number;
  /** Cost of programming one full program unit; a partial unit costs its share. */
  programUnitMs: number;
}

export interface FlashGeometry {
  size: number;
  eraseBlockSize: number;
  programUnit: number;
  timing: FlashTiming;
}

/** What a caller may give: anything left out takes the default. */
export interface FlashGeometryOptions {
  size?: number;
  eraseBlockSize?: number;
  programUnit?: number;
  timing?: Partial<FlashTiming>;
}

// Typical serial NOR figures, per 4 KiB: sector erase ~45 ms, page programs ~12 ms.
const ERASE_MS_PER_4KIB = 45;
const PROGRAM_MS_PER_4KIB = 12;

export const DEFAULT_FLASH_SIZE = 16 * MIB;
export const DEFAULT_ERASE_BLOCK_SIZE = 4 * KIB;
export const DEFAULT_PROGRAM_UNIT = 4 * KIB;

/** Fills in the defaults and checks the numbers describe a real flash. */
export function resolveFlashGeometry(options: FlashGeometryOptions = {}): FlashGeometry {
  const size = options.size ?? DEFAULT_FLASH_SIZE;
  const eraseBlockSize = options.eraseBlockSize ?? DEFAULT_ERASE_BLOCK_SIZE;
  const programUnit = options.programUnit ?? DEFAULT_PROGRAM_UNIT;
  for (const [name, value] of Object.entries({ size, eraseBlockSize, programUnit })) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new InputError('flash-bad-geometry', `flash ${name} must be a positive integer, got ${value}`, { [name]: value });
    }
  }
  if (size % eraseBlockSize !== 0) {
    throw new InputError('flash-bad-geometry', `flash size ${size} is not a whole number of ${eraseBlockSize}-byte erase blocks`, {
      size,
      eraseBlockSize,
    });
  }
  if (eraseBlockSize % programUnit !== 0) {
    throw new InputError(
      'flash-bad-geometry',
      `erase block size ${eraseBlockSize} is not a whole number of ${programUnit}-byte program units`,
      { eraseBlockSize, programUnit },
    );
  }
  const timing: FlashTiming = {
    eraseBlockMs: options.timing?.eraseBlockMs ?? (ERASE_MS_PER_4KIB * eraseBlockSize) / (4 * KIB),
    programUnitMs: options.timing?.programUnitMs ?? (PROGRAM_MS_PER_4KIB * programUnit) / (4 * KIB),
  };
  for (const [name, value] of Object.entries(timing)) {
    if (!Number.isFinite(value) || value < 0) {
      throw new InputError('flash-bad-geometry', `flash timing ${name} must be a non-negative number, got ${value}`, { [name]: value });
    }
  }
  return { size, eraseBlockSize, programUnit, timing };
}

export function eraseBlockCount(geometry: FlashGeometry): number {
  return geometry.size / geometry.eraseBlockSize;
}
