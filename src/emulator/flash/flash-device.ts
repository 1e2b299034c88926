import type { FlashBacking } from './flash-backing.js';
import { FileBacking } from './file-backing.js';
import { FlashError } from './flash-error.js';
import { type FlashGeometry, type FlashGeometryOptions, eraseBlockCount, resolveFlashGeometry } from './flash-geometry.js';
import { MemoryBacking } from './memory-backing.js';
import { PowerCutError } from './power-cut-error.js';

/** Waits out the time an operation takes on a real board (real-board timing mode). */
export type FlashPacer = (ms: number) => Promise<void>;

export interface FlashDeviceOptions {
  pacer?: FlashPacer;
}

/**
 * A NOR-like flash: bytes read anywhere; an erase sets one whole block to 0xFF; a
 * program writes bytes inside one program unit, and only onto erased bytes. Every
 * erase and every program is one counted operation, and a power cut can be armed
 * to fall just before any one of them, so no operation is ever torn.
 */
export class FlashDevice {
  readonly geometry: FlashGeometry;
  readonly blockCount: number;
  private readonly backing: FlashBacking;
  private readonly pacer: FlashPacer | undefined;
  private closed = false;
  private poweredOn = true;
  private operations = 0;
  private markAt = 0;
  /** operationCount at which the next operation is refused by a power cut. */
  private cutAtCount: number | undefined;

  private constructor(backing: FlashBacking, geometry: FlashGeometry, options: FlashDeviceOptions) {
    this.backing = backing;
    this.geometry = geometry;
    this.blockCount = eraseBlockCount(geometry);
    this.pacer = options.pacer;
  }

  /** Flash kept in a file (created erased when missing); reopening finds the bytes again. */
  static openFile(path: string, geometry: FlashGeometryOptions = {}, options: FlashDeviceOptions = {}): FlashDevice {
    const resolved = resolveFlashGeometry(geometry);
    return new FlashDevice(FileBacking.open(path, resolved.size, resolved.eraseBlockSize), resolved, options);
  }

  static inMemory(geometry: FlashGeometryOptions = {}, options: FlashDeviceOptions = {}): FlashDevice {
    const resolved = resolveFlashGeometry(geometry);
    return new FlashDevice(new MemoryBacking(resolved.eraseBlockSize), resolved, options);
  }

  get size(): number {
    return this.geometry.size;
  }

  /** Erases and programs done since the flash was opened. */
  get operationCount(): number {
    return this.operations;
  }

  get operationsSinceMark(): number {
    return this.operations - this.markAt;
  }

  get powered(): boolean {
    return this.poweredOn;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  read(offset: number, length: number): Buffer {
    this.checkUsable('read');
    this.checkRange(offset, length, 'read');
    return this.backing.read(offset, length);
  }

  /** Sets every byte of erase block `blockIndex` to 0xFF: one operation. */
  async erase(blockIndex: number): Promise<void> {
    this.checkUsable('erase');
    if (!Number.isSafeInteger(blockIndex) || blockIndex < 0 || blockIndex >= this.blockCount) {
      throw new FlashError('out-of-range', `erase block ${blockIndex} is outside the flash (0..${this.blockCount - 1})`, {
        blockIndex,
        blockCount: this.blockCount,
      });
    }
    this.beginOperation('erase', { blockIndex });
    this.backing.erase(blockIndex * this.geometry.eraseBlockSize, this.geometry.eraseBlockSize);
    await this.pacer?.(this.geometry.timing.eraseBlockMs);
  }

  /**
   * Writes `data` at `offset`: one operation. The bytes must lie inside one program
   * unit (they need not fill it) and every target byte must be erased.
   */
  async program(offset: number, data: Uint8Array): Promise<void> {
    this.checkUsable('program');
    if (data.length === 0) throw new FlashError('empty-program', `program of no bytes at ${offset}`, { offset });
    this.checkRange(offset, data.length, 'program');
    const unit = this.geometry.programUnit;
    const unitStart = offset - (offset % unit);
    if (offset + data.length > unitStart + unit) {
      throw new FlashError(
        'program-crosses-unit',
        `program of ${data.length} bytes at 0x${offset.toString(16)} crosses the ${unit}-byte program unit at 0x${unitStart.toString(16)}`,
        { offset, length: data.length, programUnit: unit },
      );
    }
    const current = this.backing.read(offset, data.length);
    const dirty = current.findIndex((byte) => byte !== 0xff);
    if (dirty >= 0) {
      throw new FlashError('program-not-erased', `program at 0x${(offset + dirty).toString(16)}: byte is not erased`, {
        offset,
        length: data.length,
        firstDirtyOffset: offset + dirty,
      });
    }
    this.beginOperation('program', { offset, length: data.length });
    this.backing.write(offset, data);
    await this.pacer?.((this.geometry.timing.programUnitMs * data.length) / unit);
  }

  /** Starts counting `operationsSinceMark` (and power-cut positions) from here. */
  mark(): void {
    this.markAt = this.operations;
  }

  /**
   * The operation that would be number `beforeOperation` (1-based) since the mark
   * does not happen: the flash throws PowerCutError and stays off until powerOn().
   * The position is fixed now; a later mark() does not move it.
   */
  armPowerCut(beforeOperation: number): void {
    const next = this.operationsSinceMark + 1;
    if (!Number.isSafeInteger(beforeOperation) || beforeOperation < next) {
      throw new FlashError('out-of-range', `power cut before operation ${beforeOperation}: operation ${next} since the mark is the next`, {
        beforeOperation,
        operationsSinceMark: this.operationsSinceMark,
      });
    }
    this.cutAtCount = this.markAt + beforeOperation - 1;
  }

  disarmPowerCut(): void {
    this.cutAtCount = undefined;
  }

  /** Cuts the power now (the board's power switch), without an operation. */
  powerOff(): void {
    this.poweredOn = false;
    this.cutAtCount = undefined;
  }

  powerOn(): void {
    this.poweredOn = true;
  }

  /**
   * Test hook for bit rot or a tampered image: XORs bytes at `offset`, either with
   * the given mask bytes or, given a count, with 0xFF over that many bytes. Not an
   * operation; works with the power off.
   */
  corrupt(offset: number, bytes: number | Uint8Array = 1): void {
    if (this.closed) throw new FlashError('flash-closed', 'corrupt on a closed flash');
    const mask = typeof bytes === 'number' ? Buffer.alloc(bytes, 0xff) : bytes;
    this.checkRange(offset, mask.length, 'corrupt');
    const current = this.backing.read(offset, mask.length);
    for (let i = 0; i < mask.length; i++) current[i] = current[i]! ^ mask[i]!;
    this.backing.write(offset, current);
  }

  flush(): void {
    if (!this.closed) this.backing.flush();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.backing.close();
  }

  private checkUsable(what: string): void {
    if (this.closed) throw new FlashError('flash-closed', `${what} on a closed flash`);
    if (!this.poweredOn) throw new PowerCutError(`${what} refused: the flash has no power`, { operation: what });
  }

  private checkRange(offset: number, length: number, what: string): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new FlashError('out-of-range', `${what} of ${length} bytes at ${offset} is outside the ${this.size}-byte flash`, {
        offset,
        length,
        size: this.size,
      });
    }
  }

  /** Counts the operation about to happen, unless the armed power cut falls here. */
  private beginOperation(what: string, details: Record<string, unknown>): void {
    if (this.cutAtCount === this.operations) {
      this.cutAtCount = undefined;
      this.poweredOn = false;
      throw new PowerCutError(`power cut before ${what} (operation ${this.operationsSinceMark + 1} since the mark)`, {
        operation: what,
        operationSinceMark: this.operationsSinceMark + 1,
        ...details,
      });
    }
    this.operations++;
  }
}
