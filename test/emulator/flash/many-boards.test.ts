import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FlashDevice } from '../../../src/emulator/flash/flash-device.js';
import { useTempDir } from './temp-dir.js';

const MIB = 1024 * 1024;

describe('many file-backed flashes in one process', () => {
  const tmp = useTempDir();

  it('opens 100 boards of 16 MiB, each read and written, for little memory and disk', async () => {
    const before = process.memoryUsage().rss;
    const flashes: FlashDevice[] = [];
    for (let i = 0; i < 100; i++) {
      const flash = FlashDevice.openFile(path.join(tmp.path, `board-${i}.flash`));
      flashes.push(flash);
      expect(flash.read(0, 8192).every((b) => b === 0xff)).to.equal(true);
      await flash.erase(1);
      await flash.program(4096, Buffer.from(`board ${i}`));
      expect(flash.read(16 * MIB - 4096, 4096).every((b) => b === 0xff)).to.equal(true);
    }
    const grown = process.memoryUsage().rss - before;
    const diskBlocks = flashes.reduce((sum, _f, i) => sum + fs.statSync(path.join(tmp.path, `board-${i}.flash`)).blocks, 0);
    console.log(`      100 x 16 MiB flashes: RSS grew ${(grown / MIB).toFixed(1)} MiB, disk ${((diskBlocks * 512) / 1024).toFixed(0)} KiB`);
    expect(flashes[42]!.read(4096, 8).toString()).to.equal('board 42');
    for (const flash of flashes) flash.close();
    expect(grown).to.be.below(50 * MIB);
    expect(diskBlocks * 512).to.be.below(100 * 64 * 1024);
  });
});
