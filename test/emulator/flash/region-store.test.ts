import { expect } from 'chai';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { FlashDevice } from '../../../src/emulator/flash/flash-device.js';
import { FlashError } from '../../../src/emulator/flash/flash-error.js';
import type { FlashRegion } from '../../../src/emulator/flash/flash-region.js';
import { RegionStore } from '../../../src/emulator/flash/region-store.js';
import { sweepPowerCuts } from './power-cut-sweep.js';
import { useTempDir } from './temp-dir.js';

const geometry = { size: 256 * 1024, eraseBlockSize: 4096, programUnit: 1024 };
const slotA: FlashRegion = { name: 'slot-a', firstBlock: 2, blockCount: 8 };
const slotB: FlashRegion = { name: 'slot-b', firstBlock: 10, blockCount: 8 };

describe('region store', () => {
  const tmp = useTempDir();

  it('reads an erased region as no blob, saying why', () => {
    const read = new RegionStore(FlashDevice.inMemory(geometry)).readBlob(slotA);
    expect(read.data).to.equal(undefined);
    expect(read.reason).to.equal('no-header');
  });

  it('reads back what it wrote, including an empty blob and one that fills the region', async () => {
    const flash = FlashDevice.inMemory(geometry);
    const store = new RegionStore(flash);
    const blob = randomBytes(10_000);
    await store.writeBlob(slotA, blob);
    expect(store.readBlob(slotA).data?.equals(blob)).to.equal(true);
    await store.writeBlob(slotB, Buffer.alloc(0));
    expect(store.readBlob(slotB).data?.length).to.equal(0);
    const full = randomBytes(store.capacity(slotB));
    expect(full.length).to.equal(8 * 4096 - 1024);
    await store.writeBlob(slotB, full);
    expect(store.readBlob(slotB).data?.equals(full)).to.equal(true);
    expect(store.readBlob(slotA).data?.equals(blob), 'the neighbour is untouched').to.equal(true);
  });

  it('erases the blocks needed, programs one unit at a time, then the header: a counted number of operations', async () => {
    const flash = FlashDevice.inMemory(geometry);
    await new RegionStore(flash).writeBlob(slotA, randomBytes(10_000));
    // erase ceil((1024 + 10000) / 4096) = 3 blocks, program ceil(10000 / 1024) = 10 data units, then 1 header unit
    expect(flash.operationCount).to.equal(3 + 10 + 1);
  });

  it('replaces a longer blob with a shorter one', async () => {
    const store = new RegionStore(FlashDevice.inMemory(geometry));
    await store.writeBlob(slotA, randomBytes(20_000));
    const short = randomBytes(100);
    await store.writeBlob(slotA, short);
    expect(store.readBlob(slotA).data?.equals(short)).to.equal(true);
  });

  it('keeps a blob across a file-backed close and reopen', async () => {
    const file = path.join(tmp.path, 'flash.bin');
    const blob = randomBytes(30_000);
    const flash = FlashDevice.openFile(file, geometry);
    await new RegionStore(flash).writeBlob(slotB, blob);
    flash.close();
    const again = FlashDevice.openFile(file, geometry);
    expect(new RegionStore(again).readBlob(slotB).data?.equals(blob)).to.equal(true);
    again.close();
  });

  it('refuses a blob larger than the region, and a region outside the flash', async () => {
    const flash = FlashDevice.inMemory(geometry);
    const store = new RegionStore(flash);
    const tooBig = await store.writeBlob(slotA, Buffer.alloc(store.capacity(slotA) + 1)).catch((e: unknown) => e);
    expect((tooBig as FlashError).code).to.equal('blob-too-large');
    expect(flash.operationCount).to.equal(0);
    const outside = await store.writeBlob({ name: 'past-end', firstBlock: 60, blockCount: 8 }, Buffer.alloc(1)).catch((e: unknown) => e);
    expect((outside as FlashError).code).to.equal('region-out-of-range');
  });

  it('detects a flipped data byte, a damaged magic and an impossible length', async () => {
    const flash = FlashDevice.inMemory(geometry);
    const store = new RegionStore(flash);
    const start = slotA.firstBlock * 4096;
    await store.writeBlob(slotA, randomBytes(5000));
    flash.corrupt(start + 1024 + 4321, 1);
    expect(store.readBlob(slotA)).to.deep.include({ data: undefined, reason: 'bad-crc' });
    flash.corrupt(start + 1024 + 4321, 1);
    expect(store.readBlob(slotA).data?.length).to.equal(5000);
    flash.corrupt(start + 7, Buffer.from([0x40])); // length's top byte
    expect(store.readBlob(slotA)).to.deep.include({ data: undefined, reason: 'bad-length' });
    flash.corrupt(start, 1);
    expect(store.readBlob(slotA)).to.deep.include({ data: undefined, reason: 'bad-magic' });
  });

  it('never shows part of a blob: written beside the old one, a cut leaves the old one whole and the new one absent', async () => {
    const old = randomBytes(10_000);
    const stale = randomBytes(7_000);
    const next = randomBytes(10_000);
    const cutPoints = await sweepPowerCuts({
      setup: async () => {
        const flash = FlashDevice.inMemory(geometry);
        const store = new RegionStore(flash);
        await store.writeBlob(slotA, old);
        await store.writeBlob(slotB, stale);
        return { flash, state: store };
      },
      act: (_flash, store) => store.writeBlob(slotB, next),
      checkClean: (_flash, store) => {
        expect(store.readBlob(slotB).data?.equals(next)).to.equal(true);
      },
      checkCut: (_flash, store, cutBefore) => {
        expect(store.readBlob(slotA).data?.equals(old), `slot A after cut ${cutBefore}`).to.equal(true);
        const b = store.readBlob(slotB);
        if (cutBefore === 1) expect(b.data?.equals(stale), 'nothing erased yet').to.equal(true);
        else expect(b, `slot B after cut ${cutBefore}`).to.deep.include({ data: undefined, reason: 'no-header' });
      },
    });
    console.log(`      region blob write: ${cutPoints} operations, ${cutPoints} cut points checked`);
    expect(cutPoints).to.equal(14);
  });

  it('rewriting in place shows the old blob (cut before the first erase), or none, never a mix', async () => {
    const old = randomBytes(6_000);
    const next = randomBytes(9_000);
    const cutPoints = await sweepPowerCuts({
      setup: async () => {
        const flash = FlashDevice.inMemory(geometry);
        const store = new RegionStore(flash);
        await store.writeBlob(slotA, old);
        return { flash, state: store };
      },
      act: (_flash, store) => store.writeBlob(slotA, next),
      checkClean: (_flash, store) => {
        expect(store.readBlob(slotA).data?.equals(next)).to.equal(true);
      },
      checkCut: (_flash, store, cutBefore) => {
        const a = store.readBlob(slotA);
        if (cutBefore === 1) expect(a.data?.equals(old)).to.equal(true);
        else expect(a.data, `cut before operation ${cutBefore}`).to.equal(undefined);
      },
    });
    console.log(`      region blob rewrite in place: ${cutPoints} operations, ${cutPoints} cut points checked`);
  });
});
