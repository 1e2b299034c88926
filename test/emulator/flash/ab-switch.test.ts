import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { BootControlStore } from '../../../src/emulator/flash/boot-control-store.js';
import { FlashDevice } from '../../../src/emulator/flash/flash-device.js';
import { computeFlashLayout } from '../../../src/emulator/flash/flash-layout.js';
import { RegionStore } from '../../../src/emulator/flash/region-store.js';
import { sweepPowerCuts } from './power-cut-sweep.js';

/**
 * The flash half of the spec's "no brick" rule: write the inactive slot, then
 * switch with one boot-control write. Whatever operation a power cut falls
 * before, the active slot holds a complete blob: the old one until the switch's
 * last operation is done, the new one after.
 */
describe('A/B switch on the flash layout', () => {
  it('always finds a whole image in the active slot, the new one only once the switch completes', async () => {
    const oldImage = randomBytes(40_000);
    const newImage = randomBytes(50_000);
    const cutPoints = await sweepPowerCuts({
      setup: async () => {
        const flash = FlashDevice.inMemory(); // default 16 MiB geometry; memory grows only with written blocks
        const layout = computeFlashLayout(flash.geometry);
        const control = new BootControlStore<{ active: 'a' | 'b' }>(flash, {
          blocks: [layout.bootControl[0].firstBlock, layout.bootControl[1].firstBlock],
        });
        const slots = new RegionStore(flash);
        await slots.writeBlob(layout.osSlots.a, oldImage);
        await control.write({ active: 'a' });
        return { flash, state: { layout, control, slots } };
      },
      act: async (_flash, { layout, control, slots }) => {
        await slots.writeBlob(layout.osSlots.b, newImage);
        await control.write({ active: 'b' });
      },
      checkClean: (_flash, { layout, control, slots }) => {
        expect(control.read().record).to.deep.equal({ active: 'b' });
        expect(slots.readBlob(layout.osSlots.b).data?.equals(newImage)).to.equal(true);
      },
      checkCut: (_flash, { layout, control, slots }, cutBefore) => {
        const active = control.read().record?.active;
        expect(active, `cut before operation ${cutBefore}`).to.equal('a');
        expect(slots.readBlob(layout.osSlots[active!]).data?.equals(oldImage)).to.equal(true);
      },
    });
    console.log(`      A/B switch: ${cutPoints} operations, ${cutPoints} cut points checked`);
    // slot B: ceil((4096 + 50000) / 4096) = 14 block erases, 13 data units, 1 header; boot control: 1 erase, 1 program
    expect(cutPoints).to.equal(14 + 13 + 1 + 2);
  });
});
