import type { FlashBacking } from './flash-backing.js';

/**
 * Flash kept in memory, one buffer per erase block that has ever been written;
 * a block never written costs nothing, so a mostly blank 16 MiB flash stays small.
 */
export class MemoryBacking implements FlashBacking {
  private readonly blocks = new Map<number, Buffer>();

  constructor(private readonly blockSize: number) {}

  read(offset: number, length: number): Buffer {
    const out = Buffer.alloc(length, 0xff);
    this.forEachBlockPart(offset, length, (block, inBlock, inRange, partLength) => {
      this.blocks.get(block)?.copy(out, inRange, inBlock, inBlock + partLength);
    });
    return out;
  }

  write(offset: number, data: Uint8Array): void {
    this.forEachBlockPart(offset, data.length, (block, inBlock, inRange, partLength) => {
      let bytes = this.blocks.get(block);
      if (!bytes) {
        bytes = Buffer.alloc(this.blockSize, 0xff);
        this.blocks.set(block, bytes);
      }
      bytes.set(data.subarray(inRange, inRange + partLength), inBlock);
    });
  }

  erase(offset: number, length: number): void {
    this.forEachBlockPart(offset, length, (block, inBlock, _inRange, partLength) => {
      if (partLength === this.blockSize) this.blocks.delete(block);
      else this.blocks.get(block)?.fill(0xff, inBlock, inBlock + partLength);
    });
  }

  flush(): void {}

  close(): void {
    this.blocks.clear();
  }

  private forEachBlockPart(
    offset: number,
    length: number,
    visit: (block: number, inBlock: number, inRange: number, partLength: number) => void,
  ): void {
    let done = 0;
    while (done < length) {
      const at = offset + done;
      const block = Math.floor(at / this.blockSize);
      const inBlock = at - block * this.blockSize;
      const partLength = Math.min(this.blockSize - inBlock, length - done);
      visit(block, inBlock, done, partLength);
      done += partLength;
    }
  }
}
