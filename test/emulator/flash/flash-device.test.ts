import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { crc32, crc32ByTable } from '../../../src/emulator/flash/crc32.js';
import { FlashDevice } from '../../../src/emulator/flash/flash-device.js';
import { FlashError } from '../../../src/emulator/flash/flash-error.js';
import { PowerCutError } from '../../../src/emulator/flash/power-cut-error.js';
import { InputError, RigError } from '../../../src/util/failure.js';
import { useTempDir } from './temp-dir.js';

const MIB = 1024 * 1024;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

function expectFlashError(error: unknown, code: string): void {
  expect(error).to.be.instanceOf(FlashError);
  expect((error as FlashError).code).to.equal(code);
  expect((error as RigError).failureClass).to.equal('device-fault');
}

describe('flash device: erase and program rules', () => {
  const small = { size: 64 * 1024, eraseBlockSize: 4096, programUnit: 256 };

  it('reads a fresh flash as erased (0xFF) everywhere', () => {
    const flash = FlashDevice.inMemory(small);
    expect(flash.read(0, small.size).every((b) => b === 0xff)).to.equal(true);
    expect(flash.blockCount).to.equal(16);
  });

  it('programs only into erased bytes', async () => {
    const flash = FlashDevice.inMemory(small);
    await flash.program(256, Buffer.from([1, 2, 3]));
    expect([...flash.read(255, 5)]).to.deep.equal([0xff, 1, 2, 3, 0xff]);
    expectFlashError(await rejection(flash.program(258, Buffer.from([9]))), 'program-not-erased');
    expect(flash.read(258, 1)[0]).to.equal(3);
    // the untouched bytes of the same unit are still erased and may be programmed
    await flash.program(259, Buffer.from([4]));
    expect(flash.read(259, 1)[0]).to.equal(4);
  });

  it('restores 0xFF over the whole block on erase, and nowhere else', async () => {
    const flash = FlashDevice.inMemory(small);
    await flash.program(4096 - 4, Buffer.from([1, 1, 1, 1]));
    await flash.program(4096, Buffer.alloc(256, 7));
    await flash.erase(1);
    expect(flash.read(4096, 4096).every((b) => b === 0xff)).to.equal(true);
    expect([...flash.read(4092, 4)]).to.deep.equal([1, 1, 1, 1]);
    await flash.program(4096, Buffer.alloc(256, 8));
    expect(flash.read(4096, 256).every((b) => b === 8)).to.equal(true);
  });

  it('refuses a program that crosses a program unit or writes nothing', async () => {
    const flash = FlashDevice.inMemory(small);
    expectFlashError(await rejection(flash.program(200, Buffer.alloc(100))), 'program-crosses-unit');
    expectFlashError(await rejection(flash.program(0, Buffer.alloc(257))), 'program-crosses-unit');
    expectFlashError(await rejection(flash.program(0, Buffer.alloc(0))), 'empty-program');
    await flash.program(0, Buffer.alloc(256, 0));
    expect(flash.operationCount).to.equal(1);
  });

  it('reports out-of-range reads, erases and programs as typed errors', async () => {
    const flash = FlashDevice.inMemory(small);
    expectFlashError(thrown(() => flash.read(small.size - 1, 2)), 'out-of-range');
    expectFlashError(thrown(() => flash.read(-1, 1)), 'out-of-range');
    expectFlashError(await rejection(flash.erase(16)), 'out-of-range');
    expectFlashError(await rejection(flash.erase(-1)), 'out-of-range');
    expectFlashError(await rejection(flash.erase(1.5)), 'out-of-range');
    expectFlashError(await rejection(flash.program(small.size, Buffer.alloc(1))), 'out-of-range');
    expectFlashError(thrown(() => flash.corrupt(small.size, 1)), 'out-of-range');
    expect(flash.operationCount).to.equal(0);
  });

  it('rejects a geometry that is not whole blocks of whole program units', () => {
    for (const geometry of [{ size: 10_000 }, { eraseBlockSize: 4096, programUnit: 3000 }, { size: 0 }, { timing: { eraseBlockMs: -1 } }]) {
      const error = thrown(() => FlashDevice.inMemory(geometry));
      expect(error).to.be.instanceOf(InputError);
      expect((error as InputError).code).to.equal('flash-bad-geometry');
    }
  });

  it('is unusable after close, and close may be called twice', () => {
    const flash = FlashDevice.inMemory(small);
    flash.close();
    flash.close();
    expectFlashError(thrown(() => flash.read(0, 1)), 'flash-closed');
  });
});

describe('flash device: file backing', () => {
  const tmp = useTempDir();

  it('keeps its bytes across close and reopen', async () => {
    const file = path.join(tmp.path, 'flash.bin');
    const geometry = { size: 1 * MIB };
    const first = FlashDevice.openFile(file, geometry);
    await first.program(8192, Buffer.from('hello flash'));
    await first.program(4096 * 10 + 100, Buffer.from([0x00, 0xff, 0x5a]));
    first.flush();
    first.close();
    const again = FlashDevice.openFile(file, geometry);
    expect(again.read(8192, 11).toString()).to.equal('hello flash');
    expect([...again.read(4096 * 10 + 99, 5)]).to.deep.equal([0xff, 0x00, 0xff, 0x5a, 0xff]);
    expect(again.operationCount, 'counting starts at open').to.equal(0);
    await again.erase(2);
    again.close();
    const third = FlashDevice.openFile(file, geometry);
    expect(third.read(8192, 4096).every((b) => b === 0xff)).to.equal(true);
    third.close();
  });

  it('stores bytes inverted so a fresh sparse 16 MiB file is erased flash and takes almost no disk', async () => {
    const file = path.join(tmp.path, 'board.flash');
    const flash = FlashDevice.openFile(file);
    expect(fs.statSync(file).size).to.equal(16 * MIB);
    expect(flash.read(0, 16 * MIB).every((b) => b === 0xff)).to.equal(true);
    await flash.program(4096, Buffer.from([0x12, 0xff, 0x00]));
    flash.close();
    const raw = fs.readFileSync(file);
    expect([...raw.subarray(4096, 4099)]).to.deep.equal([0x12 ^ 0xff, 0x00, 0xff]);
    expect(raw.subarray(0, 4096).every((b) => b === 0)).to.equal(true);
    // st_blocks counts 512-byte units; one touched 4 KiB page is 8, allow for filesystem overhead
    const blocks = fs.statSync(file).blocks;
    expect(blocks, `disk blocks used: ${blocks}`).to.be.below(64);
  });

  it('refuses to open a file whose size does not match the geometry', () => {
    const file = path.join(tmp.path, 'flash.bin');
    FlashDevice.openFile(file, { size: 1 * MIB }).close();
    const error = thrown(() => FlashDevice.openFile(file, { size: 2 * MIB }));
    expect(error).to.be.instanceOf(InputError);
    expect((error as InputError).code).to.equal('flash-geometry-mismatch');
  });

  it('reports a missing state folder as a typed infrastructure error', () => {
    const error = thrown(() => FlashDevice.openFile(path.join(tmp.path, 'no', 'such', 'flash.bin')));
    expect(error).to.be.instanceOf(InputError);
    expect((error as InputError).code).to.equal('flash-file-unavailable');
  });
});

describe('flash device: timing', () => {
  it('awaits the pacer after each operation with the default real-board costs', async () => {
    const costs: number[] = [];
    const flash = FlashDevice.inMemory({}, { pacer: async (ms) => void costs.push(ms) });
    await flash.erase(0);
    await flash.program(0, Buffer.alloc(4096, 1));
    await flash.program(8192, Buffer.alloc(2048, 1)); // half a unit costs half
    expect(costs).to.deep.equal([45, 12, 6]);
  });

  it('takes configured timings, and completes without delay when there is no pacer', async () => {
    const costs: number[] = [];
    const paced = FlashDevice.inMemory({ timing: { eraseBlockMs: 1, programUnitMs: 2 } }, { pacer: async (ms) => void costs.push(ms) });
    await paced.erase(3);
    await paced.program(0, Buffer.alloc(4096));
    expect(costs).to.deep.equal([1, 2]);
    const unpaced = FlashDevice.inMemory();
    const started = Date.now();
    for (let i = 0; i < 200; i++) await unpaced.erase(i);
    expect(Date.now() - started).to.be.below(1000);
  });
});

describe('flash device: operation counting and power cuts', () => {
  const geometry = { size: 64 * 1024, eraseBlockSize: 4096, programUnit: 1024 };

  it('counts every erase and program, and only those, since open and since the mark', async () => {
    const flash = FlashDevice.inMemory(geometry);
    await flash.erase(0);
    await flash.program(0, Buffer.alloc(10));
    flash.read(0, 100);
    flash.corrupt(0, 1);
    await flash.program(1, Buffer.alloc(1)).catch(() => undefined); // refused: not erased
    expect(flash.operationCount).to.equal(2);
    flash.mark();
    expect(flash.operationsSinceMark).to.equal(0);
    await flash.erase(1);
    expect(flash.operationsSinceMark).to.equal(1);
    expect(flash.operationCount).to.equal(3);
  });

  it('cuts power before the armed operation: it does not happen, and the flash stays off until powerOn', async () => {
    const flash = FlashDevice.inMemory(geometry);
    await flash.program(0, Buffer.from([1]));
    flash.mark();
    flash.armPowerCut(2);
    await flash.program(1, Buffer.from([2])); // operation 1 since the mark: happens
    const cut = await rejection(flash.program(2, Buffer.from([3]))); // operation 2: cut
    expect(cut).to.be.instanceOf(PowerCutError);
    expect((cut as PowerCutError).failureClass).to.equal('device-fault');
    expect(flash.powered).to.equal(false);
    expect(thrown(() => flash.read(0, 1))).to.be.instanceOf(PowerCutError);
    expect(await rejection(flash.erase(0))).to.be.instanceOf(PowerCutError);
    expect(await rejection(flash.program(5, Buffer.from([5])))).to.be.instanceOf(PowerCutError);
    flash.powerOn();
    expect([...flash.read(0, 4)]).to.deep.equal([1, 2, 0xff, 0xff]);
    expect(flash.operationsSinceMark).to.equal(1);
    // the cut is spent: the same operation now happens
    await flash.program(2, Buffer.from([3]));
    expect(flash.read(2, 1)[0]).to.equal(3);
  });

  it('can cut before the very first operation after the mark, or be disarmed', async () => {
    const flash = FlashDevice.inMemory(geometry);
    flash.mark();
    flash.armPowerCut(1);
    expect(await rejection(flash.erase(0))).to.be.instanceOf(PowerCutError);
    flash.powerOn();
    flash.mark();
    flash.armPowerCut(1);
    flash.disarmPowerCut();
    await flash.erase(0);
    expect(flash.operationsSinceMark).to.equal(1);
  });

  it('refuses to arm a cut before an operation already done', async () => {
    const flash = FlashDevice.inMemory(geometry);
    flash.mark();
    await flash.erase(0);
    expectFlashError(thrown(() => flash.armPowerCut(1)), 'out-of-range');
    expectFlashError(thrown(() => flash.armPowerCut(0)), 'out-of-range');
  });

  it('goes dark on powerOff without an operation', async () => {
    const flash = FlashDevice.inMemory(geometry);
    flash.powerOff();
    expect(await rejection(flash.erase(0))).to.be.instanceOf(PowerCutError);
    flash.powerOn();
    await flash.erase(0);
  });
});

describe('flash device: corruption hook', () => {
  it('flips bytes in place without counting an operation, even with the power off', async () => {
    const flash = FlashDevice.inMemory({ size: 64 * 1024 });
    await flash.program(0, Buffer.from([0x0f, 0xf0, 0xaa]));
    flash.powerOff();
    flash.corrupt(0, 2);
    flash.corrupt(2, Buffer.from([0x01]));
    flash.powerOn();
    expect([...flash.read(0, 3)]).to.deep.equal([0xf0, 0x0f, 0xab]);
    expect(flash.operationCount).to.equal(1);
  });
});

describe('crc32', () => {
  it('matches the IEEE check value and the table fallback matches zlib', () => {
    expect(crc32(Buffer.from('123456789'))).to.equal(0xcbf43926);
    expect(crc32ByTable(Buffer.from('123456789'))).to.equal(0xcbf43926);
    const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 31) & 0xff));
    expect(crc32ByTable(data)).to.equal(zlib.crc32(data) >>> 0);
    expect(crc32(Buffer.alloc(0))).to.equal(0);
  });
});

describe('flash device: file and memory backings agree', () => {
  const tmp = useTempDir();

  it('gives the same bytes for the same random erases, programs and corruptions', async () => {
    const geometry = { size: 128 * 1024, eraseBlockSize: 4096, programUnit: 512 };
    const file = FlashDevice.openFile(path.join(tmp.path, 'flash.bin'), geometry);
    const memory = FlashDevice.inMemory(geometry);
    let seed = 12345;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let step = 0; step < 2000; step++) {
      const kind = random(10);
      if (kind === 0) {
        const block = random(32);
        await Promise.all([file.erase(block), memory.erase(block)]);
      } else if (kind === 1) {
        const at = random(geometry.size - 16);
        const mask = Buffer.from(Array.from({ length: 1 + random(15) }, () => random(256)));
        file.corrupt(at, mask);
        memory.corrupt(at, mask);
      } else {
        const at = random(geometry.size);
        const room = 512 - (at % 512);
        const data = Buffer.from(Array.from({ length: 1 + random(room) }, () => random(256)));
        const outcomes = await Promise.all([file.program(at, data), memory.program(at, data)].map((p) => p.then(() => 'ok', (e: FlashError) => e.code)));
        expect(outcomes[0]).to.equal(outcomes[1]);
      }
      if (step % 100 === 0) {
        const at = random(geometry.size - 5000);
        const length = 1 + random(5000);
        expect(file.read(at, length).equals(memory.read(at, length)), `read ${length} at ${at}`).to.equal(true);
      }
    }
    expect(file.read(0, geometry.size).equals(memory.read(0, geometry.size))).to.equal(true);
    expect(file.operationCount).to.equal(memory.operationCount);
    file.close();
  });
});
