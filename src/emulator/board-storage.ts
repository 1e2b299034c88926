import { BootControlStore } from './flash/boot-control-store.js';
import type { FlashDevice } from './flash/flash-device.js';
import { computeFlashLayout, type FlashLayout } from './flash/flash-layout.js';
import { regionSize } from './flash/flash-region.js';
import { RegionStore } from './flash/region-store.js';
import { decodeImageSet, encodeImageSet } from './image-set-container.js';

/**
 * A board's view of its flash: the boot-control record, the two OS slots and the
 * application slots. Everything that changes flash goes through here, so every
 * change is a sequence of counted flash operations.
 */
export type OsSlot = 'a' | 'b';

export interface AppRecord {
  /** Application slot holding the active image. */
  slot: number;
  /** Slot of the image it replaced, kept until the new one is confirmed. */
  previousSlot: number | null;
  trial: boolean;
  trialFailed: boolean;
}

export interface BootRecord {
  active: OsSlot;
  /** The slot to roll back to while `active` is on trial. */
  previous: OsSlot | null;
  trial: boolean;
  triesLeft: number;
  trialFailed: boolean;
  apps: Record<string, AppRecord>;
  rollbacks: number;
}

export const OTHER_SLOT: Readonly<Record<OsSlot, OsSlot>> = { a: 'b', b: 'a' };

/** Emulated flash: 16 MiB like the MT3620's; two 6 MiB OS slots, six 512 KiB app slots. */
export const EMULATOR_LAYOUT_OPTIONS = { osSlotBytes: 6 * 1024 * 1024, appSlotBytes: 512 * 1024, appSlotCount: 6 } as const;

function isBootRecord(value: unknown): value is BootRecord {
  const v = value as Partial<BootRecord>;
  return (
    typeof v === 'object' &&
    v !== null &&
    (v.active === 'a' || v.active === 'b') &&
    typeof v.trial === 'boolean' &&
    typeof v.triesLeft === 'number' &&
    typeof v.apps === 'object' &&
    v.apps !== null
  );
}

export class BoardStorage {
  readonly layout: FlashLayout;
  readonly bootControl: BootControlStore<BootRecord>;
  readonly regions: RegionStore;

  constructor(readonly flash: FlashDevice) {
    this.layout = computeFlashLayout(flash.geometry, EMULATOR_LAYOUT_OPTIONS);
    this.bootControl = new BootControlStore<BootRecord>(flash, {
      blocks: [this.layout.bootControl[0].firstBlock, this.layout.bootControl[1].firstBlock],
      isRecord: isBootRecord,
    });
    this.regions = new RegionStore(flash);
  }

  readRecord(): BootRecord | undefined {
    return this.bootControl.read().record;
  }

  async writeRecord(record: BootRecord): Promise<void> {
    await this.bootControl.write(record);
  }

  /** The images of an OS slot, or a reason why there are none. */
  readOsSlot(slot: OsSlot): { images: Buffer[] } | { images: undefined; reason: string } {
    // Signed images: a rotten byte must be found by the signature check, as on a device.
    const read = this.regions.readBlob(this.layout.osSlots[slot], { trustContent: true });
    if (!read.data) return { images: undefined, reason: `slot ${slot} ${read.reason}` };
    try {
      return { images: decodeImageSet(read.data) };
    } catch (error) {
      return { images: undefined, reason: `slot ${slot}: ${(error as Error).message}` };
    }
  }

  async writeOsSlot(slot: OsSlot, images: readonly Buffer[]): Promise<void> {
    await this.regions.writeBlob(this.layout.osSlots[slot], encodeImageSet(images));
  }

  osSlotCapacity(): number {
    return this.regions.capacity(this.layout.osSlots.a);
  }

  readAppSlot(slot: number): Buffer | undefined {
    const region = this.layout.appSlots[slot];
    return region ? this.regions.readBlob(region, { trustContent: true }).data : undefined;
  }

  async writeAppSlot(slot: number, image: Buffer): Promise<void> {
    await this.regions.writeBlob(this.layout.appSlots[slot]!, image);
  }

  appSlotCapacity(): number {
    return this.regions.capacity(this.layout.appSlots[0]!);
  }

  /** An application slot no record refers to, or undefined when all are taken. */
  freeAppSlot(record: BootRecord): number | undefined {
    const used = new Set<number>();
    for (const app of Object.values(record.apps)) {
      used.add(app.slot);
      if (app.previousSlot !== null) used.add(app.previousSlot);
    }
    const free = this.layout.appSlots.findIndex((_, i) => !used.has(i));
    return free >= 0 ? free : undefined;
  }

  /** Byte offset of a slot, for fault injection that corrupts it. */
  osSlotOffset(slot: OsSlot): { offset: number; size: number } {
    const region = this.layout.osSlots[slot];
    return { offset: region.firstBlock * this.flash.geometry.eraseBlockSize, size: regionSize(region, this.flash.geometry) };
  }
}

export function initialBootRecord(): BootRecord {
  return { active: 'a', previous: null, trial: false, triesLeft: 0, trialFailed: false, apps: {}, rollbacks: 0 };
}
