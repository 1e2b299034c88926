import { expect } from 'chai';
import * as path from 'node:path';
import { BootControlStore } from '../../../src/emulator/flash/boot-control-store.js';
import { FlashDevice } from '../../../src/emulator/flash/flash-device.js';
import { FlashError } from '../../../src/emulator/flash/flash-error.js';
import type { FlashGeometryOptions } from '../../../src/emulator/flash/flash-geometry.js';
import { sweepPowerCuts } from './power-cut-sweep.js';
import { useTempDir } from './temp-dir.js';

interface BootRecord {
  activeSlot: 'a' | 'b';
  trial: boolean;
  triesLeft: number;
  confirmed: boolean;
  note?: string;
}

const isBootRecord = (value: unknown): value is BootRecord =>
  typeof value === 'object' && value !== null && ((value as BootRecord).activeSlot === 'a' || (value as BootRecord).activeSlot === 'b');

const record = (activeSlot: 'a' | 'b', note = ''): BootRecord => ({ activeSlot, trial: false, triesLeft: 3, confirmed: true, note });

function storeOn(flash: FlashDevice): BootControlStore<BootRecord> {
  return new BootControlStore<BootRecord>(flash, { blocks: [0, 1], isRecord: isBootRecord });
}

describe('boot-control store', () => {
  const tmp = useTempDir();

  it('reads nothing, and no invalid copy, from blank flash', () => {
    const result = storeOn(FlashDevice.inMemory()).read();
    expect(result).to.deep.include({ record: undefined, sequence: 0, copyUsed: undefined, invalidCopies: [] });
    expect(result.copies.map((c) => c.status)).to.deep.equal(['erased', 'erased']);
  });

  it('alternates copies with rising sequence numbers and reads the newest', async () => {
    const store = storeOn(FlashDevice.inMemory());
    expect(await store.write(record('a', 'first'))).to.deep.equal({ sequence: 1, copy: 0 });
    expect(await store.write(record('b', 'second'))).to.deep.equal({ sequence: 2, copy: 1 });
    expect(await store.write(record('a', 'third'))).to.deep.equal({ sequence: 3, copy: 0 });
    const result = store.read();
    expect(result).to.deep.include({ record: record('a', 'third'), sequence: 3, copyUsed: 0, invalidCopies: [] });
  });

  it('takes one erase and one program per program unit for a write', async () => {
    const flash = FlashDevice.inMemory();
    await storeOn(flash).write(record('a'));
    expect(flash.operationCount).to.equal(2);
    const fine = FlashDevice.inMemory({ programUnit: 256 });
    await storeOn(fine).write(record('a', 'x'.repeat(1000)));
    // 12-byte header + ~1080-byte payload + 4-byte CRC spans 5 units of 256
    expect(fine.operationCount).to.equal(1 + 5);
  });

  it('keeps the record across a file-backed close and reopen', async () => {
    const file = path.join(tmp.path, 'flash.bin');
    const flash = FlashDevice.openFile(file);
    await storeOn(flash).write(record('a'));
    await storeOn(flash).write(record('b', 'ünïcödé ✓'));
    flash.close();
    const again = FlashDevice.openFile(file);
    expect(storeOn(again).read()).to.deep.include({ record: record('b', 'ünïcödé ✓'), sequence: 2, copyUsed: 1 });
    again.close();
  });

  it('falls back to the other copy when one is corrupt, reports it, and overwrites it next', async () => {
    const flash = FlashDevice.inMemory();
    const store = storeOn(flash);
    await store.write(record('a', 'older'));
    await store.write(record('b', 'newer'));
    flash.corrupt(4096 + 20, 1); // a payload byte of copy 1
    const result = store.read();
    expect(result).to.deep.include({ record: record('a', 'older'), sequence: 1, copyUsed: 0, invalidCopies: [1] });
    expect(result.copies[1]).to.deep.equal({ copy: 1, status: 'invalid', reason: 'bad-crc' });
    expect(await store.write(record('b', 'again'))).to.deep.equal({ sequence: 2, copy: 1 });
    expect(store.read()).to.deep.include({ record: record('b', 'again'), invalidCopies: [] });
  });

  it('names a damaged magic, length or a record that fails the shape check', async () => {
    const flash = FlashDevice.inMemory();
    const store = storeOn(flash);
    await store.write(record('a'));
    await store.write(record('b'));
    flash.corrupt(0, 1);
    expect(store.read().copies[0]).to.deep.include({ status: 'invalid', reason: 'bad-magic' });
    flash.corrupt(4096 + 9, Buffer.from([0x10])); // payload length of copy 1 far too big
    expect(store.read()).to.deep.include({ record: undefined, copyUsed: undefined, invalidCopies: [0, 1] });
    expect(store.read().copies[1]).to.deep.include({ status: 'invalid', reason: 'bad-length' });

    const other = FlashDevice.inMemory();
    await new BootControlStore<unknown>(other, { blocks: [0, 1] }).write({ activeSlot: 'c' });
    expect(storeOn(other).read().copies[0]).to.deep.include({ status: 'invalid', reason: 'rejected-record' });
  });

  it('refuses a record larger than a block, writing nothing', async () => {
    const flash = FlashDevice.inMemory();
    const store = storeOn(flash);
    const error = await store.write(record('a', 'x'.repeat(5000))).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(FlashError);
    expect((error as FlashError).code).to.equal('record-too-large');
    expect(flash.operationCount).to.equal(0);
    const fits = 'x'.repeat(store.maxPayloadBytes - JSON.stringify(record('a', '')).length);
    await store.write(record('a', fits));
    expect(store.read().record?.note).to.equal(fits);
  });

  it('refuses blocks outside the flash or one block for both copies', () => {
    const flash = FlashDevice.inMemory({ size: 64 * 1024 });
    expect(() => new BootControlStore(flash, { blocks: [0, 16] })).to.throw(FlashError);
    expect(() => new BootControlStore(flash, { blocks: [3, 3] })).to.throw(FlashError);
  });

  for (const [label, geometry, note] of [
    ['one program unit per copy', {}, 'small'],
    ['a copy spanning several program units', { size: 64 * 1024, programUnit: 256 }, 'y'.repeat(1500)],
  ] as const satisfies readonly (readonly [string, FlashGeometryOptions, string])[]) {
    it(`shows the old record or the new, never neither nor a mix, for a power cut before any operation (${label})`, async () => {
      const older = record('a', `older ${note}`);
      const old = record('b', `old ${note}`);
      const next = record('a', `new ${note}`);
      const setup = async () => {
        const flash = FlashDevice.inMemory(geometry);
        const store = storeOn(flash);
        await store.write(older); // copy 0, sequence 1: the write below goes over it
        await store.write(old); // copy 1, sequence 2
        return { flash, state: store };
      };
      const cutPoints = await sweepPowerCuts({
        setup,
        act: (_flash, store) => store.write(next),
        checkClean: (_flash, store) => {
          expect(store.read()).to.deep.include({ record: next, sequence: 3, copyUsed: 0 });
        },
        checkCut: async (_flash, store, cutBefore) => {
          const seen = store.read();
          expect(seen, `cut before operation ${cutBefore}`).to.deep.include({ record: old, sequence: 2, copyUsed: 1 });
          // the copy being written holds the older record until its erase, then never a record
          if (cutBefore === 1) expect(seen.copies[0]).to.deep.equal({ copy: 0, status: 'valid', sequence: 1 });
          else expect(seen.copies[0].status).to.not.equal('valid');
          // and the next write, with the power back, repairs it

          await store.write(next);
          expect(store.read()).to.deep.include({ record: next, sequence: 3, copyUsed: 0 });
        },
      });
      console.log(`      boot-control write (${label}): ${cutPoints} operations, ${cutPoints} cut points checked`);
      expect(cutPoints).to.be.at.least(2);
    });
  }
});
