import { expect } from 'chai';
import { computeFlashLayout, validateFlashLayout } from '../../../src/emulator/flash/flash-layout.js';
import { resolveFlashGeometry } from '../../../src/emulator/flash/flash-geometry.js';
import { InputError } from '../../../src/util/failure.js';

const MIB = 1024 * 1024;

function layoutError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(InputError);
    expect((error as InputError).code).to.equal('flash-bad-layout');
    return error as InputError;
  }
  throw new Error('expected a layout error');
}

describe('flash layout', () => {
  const geometry = resolveFlashGeometry();

  it('puts the boot-control copies in blocks 0 and 1, then two 2 MiB OS slots, eight 1 MiB app slots and the spare rest', () => {
    const layout = computeFlashLayout(geometry);
    expect(layout.bootControl).to.deep.equal([
      { name: 'boot-control-0', firstBlock: 0, blockCount: 1 },
      { name: 'boot-control-1', firstBlock: 1, blockCount: 1 },
    ]);
    expect(layout.osSlots.a).to.deep.equal({ name: 'os-a', firstBlock: 2, blockCount: (2 * MIB) / 4096 });
    expect(layout.osSlots.b).to.deep.equal({ name: 'os-b', firstBlock: 2 + 512, blockCount: 512 });
    expect(layout.appSlots).to.have.length(8);
    expect(layout.appSlots.map((s) => s.blockCount)).to.deep.equal(Array(8).fill(256));
    expect(layout.appSlots[7]).to.deep.include({ name: 'app-7', firstBlock: 2 + 1024 + 7 * 256 });
    const used = 2 + 1024 + 2048;
    expect(layout.spare).to.deep.equal({ name: 'spare', firstBlock: used, blockCount: 4096 - used });
    expect(layout.regions).to.have.length(13);
    expect(layout.regions.reduce((sum, r) => sum + r.blockCount, 0)).to.equal(4096);
  });

  it('scales with the geometry and options', () => {
    const layout = computeFlashLayout(resolveFlashGeometry({ size: 32 * MIB, eraseBlockSize: 64 * 1024, programUnit: 256 }), {
      appSlotCount: 2,
    });
    expect(layout.osSlots.a.blockCount).to.equal(32);
    expect(layout.appSlots.map((s) => s.name)).to.deep.equal(['app-0', 'app-1']);
  });

  it('refuses a flash too small for the partitions, and slot sizes that are not whole blocks', () => {
    expect(layoutError(() => computeFlashLayout(resolveFlashGeometry({ size: 8 * MIB }))).message).to.match(/need/);
    layoutError(() => computeFlashLayout(resolveFlashGeometry({ size: 12 * MIB + 8192 })));
    layoutError(() => computeFlashLayout(geometry, { osSlotBytes: 5000 }));
  });

  it('finds overlapping, out-of-flash, empty and duplicate regions', () => {
    const ok = { name: 'x', firstBlock: 0, blockCount: 2 };
    expect(() => validateFlashLayout([ok, { name: 'y', firstBlock: 2, blockCount: 1 }], geometry)).to.not.throw();
    expect(layoutError(() => validateFlashLayout([ok, { name: 'y', firstBlock: 1, blockCount: 1 }], geometry)).message).to.match(/overlap/);
    expect(layoutError(() => validateFlashLayout([{ name: 'z', firstBlock: 4095, blockCount: 2 }], geometry)).message).to.match(/fit/);
    layoutError(() => validateFlashLayout([{ name: 'z', firstBlock: 3, blockCount: 0 }], geometry));
    layoutError(() => validateFlashLayout([ok, { ...ok, firstBlock: 5 }], geometry));
  });
});
