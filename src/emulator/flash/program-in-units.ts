import type { FlashDevice } from './flash-device.js';

/** Programs `data` at `offset` as one operation per program unit it touches, in address order. */
export async function programInUnits(flash: FlashDevice, offset: number, data: Uint8Array): Promise<void> {
  const unit = flash.geometry.programUnit;
  let done = 0;
  while (done < data.length) {
    const at = offset + done;
    const length = Math.min(unit - (at % unit), data.length - done);
    await flash.program(at, data.subarray(done, done + length));
    done += length;
  }
}

/**
 * Like programInUnits, but the unit holding the first byte goes last. Records
 * start with their magic, so until the very last operation a torn write shows no
 * valid magic: a reader sees the record whole or not at all.
 */
export async function programFirstUnitLast(flash: FlashDevice, offset: number, data: Uint8Array): Promise<void> {
  const unit = flash.geometry.programUnit;
  const headLength = Math.min(unit - (offset % unit), data.length);
  await programInUnits(flash, offset + headLength, data.subarray(headLength));
  if (headLength > 0) await flash.program(offset, data.subarray(0, headLength));
}
