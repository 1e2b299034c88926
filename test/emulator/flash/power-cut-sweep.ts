import { expect } from 'chai';
import type { FlashDevice } from '../../../src/emulator/flash/flash-device.js';
import { PowerCutError } from '../../../src/emulator/flash/power-cut-error.js';

/**
 * Runs `act` once without a cut to count its flash operations (N), then, for every
 * i in 1..N, on a fresh flash: mark, cut before operation i, expect PowerCutError,
 * power on and hand the flash to `check`. Returns N.
 */
export async function sweepPowerCuts<S>(options: {
  setup: () => Promise<{ flash: FlashDevice; state: S }>;
  act: (flash: FlashDevice, state: S) => Promise<unknown>;
  checkCut: (flash: FlashDevice, state: S, cutBefore: number, operations: number) => void | Promise<void>;
  checkClean: (flash: FlashDevice, state: S) => void | Promise<void>;
}): Promise<number> {
  const clean = await options.setup();
  clean.flash.mark();
  await options.act(clean.flash, clean.state);
  const operations = clean.flash.operationsSinceMark;
  await options.checkClean(clean.flash, clean.state);
  clean.flash.close();

  for (let cutBefore = 1; cutBefore <= operations; cutBefore++) {
    const { flash, state } = await options.setup();
    flash.mark();
    flash.armPowerCut(cutBefore);
    let thrown: unknown;
    try {
      await options.act(flash, state);
    } catch (error) {
      thrown = error;
    }
    expect(thrown, `cut before operation ${cutBefore} of ${operations}`).to.be.instanceOf(PowerCutError);
    expect(flash.operationsSinceMark, 'operations done before the cut').to.equal(cutBefore - 1);
    flash.powerOn();
    await options.checkCut(flash, state, cutBefore, operations);
    flash.close();
  }
  return operations;
}
