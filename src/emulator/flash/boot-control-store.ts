import { crc32 } from './crc32.js';
import type { FlashDevice } from './flash-device.js';
import { FlashError } from './flash-error.js';
import { programFirstUnitLast } from './program-in-units.js';

const MAGIC = Buffer.from('BCTL', 'latin1');
/** magic | u32 sequence | u32 payloadLength */
const HEADER_BYTES = 12;
const CRC_BYTES = 4;
const MAX_SEQUENCE = 0xffffffff;

export type BootControlCopy = 0 | 1;

/** What one copy holds: a valid record, nothing (fully erased), or something unusable. */
export type BootControlCopyState =
  | { copy: BootControlCopy; status: 'valid'; sequence: number }
  | { copy: BootControlCopy; status: 'erased' }
  | { copy: BootControlCopy; status: 'invalid'; reason: 'bad-magic' | 'bad-length' | 'bad-crc' | 'bad-json' | 'rejected-record' };

export interface BootControlRead<T> {
  /** The newest valid record, or undefined when neither copy holds one. */
  record: T | undefined;
  /** Its sequence number; 0 when there is no record. */
  sequence: number;
  copyUsed: BootControlCopy | undefined;
  /** Copies holding something that is not a valid record (torn or corrupt); erased copies are not listed. */
  invalidCopies: BootControlCopy[];
  copies: [BootControlCopyState, BootControlCopyState];
}

export interface BootControlStoreOptions<T> {
  /** The two erase blocks, one per copy (the layout puts them at 0 and 1). */
  blocks: readonly [number, number];
  /** Optional shape check: a copy whose record fails it counts as invalid. */
  isRecord?: (value: unknown) => value is T;
}

/**
 * A small record kept in two copies, each in its own erase block, as
 * `magic 'BCTL' | u32 sequence | u32 payloadLength | JSON payload | u32 CRC-32`
 * (little-endian, CRC over everything before it). A write goes to the copy that
 * does not hold the newest valid record, so a power cut before any of its
 * operations leaves the old record readable; the new one is readable only once
 * its last operation is done.
 */
export class BootControlStore<T> {
  private readonly flash: FlashDevice;
  private readonly blocks: readonly [number, number];
  private readonly isRecord: ((value: unknown) => value is T) | undefined;

  constructor(flash: FlashDevice, options: BootControlStoreOptions<T>) {
    const [a, b] = options.blocks;
    for (const block of options.blocks) {
      if (!Number.isSafeInteger(block) || block < 0 || block >= flash.blockCount) {
        throw new FlashError('region-out-of-range', `boot-control block ${block} is outside the flash`, { block, blockCount: flash.blockCount });
      }
    }
    if (a === b) throw new FlashError('region-out-of-range', `the two boot-control copies need two blocks, both are ${a}`, { block: a });
    this.flash = flash;
    this.blocks = options.blocks;
    this.isRecord = options.isRecord;
  }

  /** The largest JSON payload, in UTF-8 bytes, a copy can hold. */
  get maxPayloadBytes(): number {
    return this.flash.geometry.eraseBlockSize - HEADER_BYTES - CRC_BYTES;
  }

  read(): BootControlRead<T> {
    const parsed = ([0, 1] as const).map((copy) => this.readCopy(copy));
    let best: { copy: BootControlCopy; sequence: number; record: T } | undefined;
    for (const entry of parsed) {
      if (entry.record !== undefined && entry.state.status === 'valid' && (!best || entry.state.sequence > best.sequence)) {
        best = { copy: entry.state.copy, sequence: entry.state.sequence, record: entry.record.value };
      }
    }
    const copies: [BootControlCopyState, BootControlCopyState] = [parsed[0]!.state, parsed[1]!.state];
    return {
      record: best?.record,
      sequence: best?.sequence ?? 0,
      copyUsed: best?.copy,
      invalidCopies: copies.filter((state) => state.status === 'invalid').map((state) => state.copy),
      copies,
    };
  }

  /**
   * Stores `record` with the next sequence number in the other copy: one erase,
   * then one program per program unit, the unit with the magic last.
   */
  async write(record: T): Promise<{ sequence: number; copy: BootControlCopy }> {
    const payload = this.serialise(record);
    const current = this.read();
    const sequence = current.sequence + 1;
    if (sequence > MAX_SEQUENCE) throw new FlashError('sequence-exhausted', 'boot-control sequence number would pass 2^32-1');
    const copy: BootControlCopy = current.copyUsed === 0 ? 1 : 0;
    const bytes = encodeCopy(sequence, payload);
    const block = this.blocks[copy];
    const offset = block * this.flash.geometry.eraseBlockSize;
    await this.flash.erase(block);
    await programFirstUnitLast(this.flash, offset, bytes);
    if (!this.flash.read(offset, bytes.length).equals(bytes)) {
      throw new FlashError('verify-failed', `boot-control copy ${copy} did not read back as written`, { copy, block, sequence });
    }
    return { sequence, copy };
  }

  private serialise(record: T): Buffer {
    let json: string | undefined;
    try {
      json = JSON.stringify(record);
    } catch (error) {
      throw new FlashError('record-not-serialisable', `boot-control record cannot be JSON: ${(error as Error).message}`);
    }
    if (json === undefined) throw new FlashError('record-not-serialisable', 'boot-control record has no JSON form');
    const payload = Buffer.from(json, 'utf8');
    if (payload.length > this.maxPayloadBytes) {
      throw new FlashError('record-too-large', `boot-control record is ${payload.length} bytes; a copy holds at most ${this.maxPayloadBytes}`, {
        payloadBytes: payload.length,
        maxPayloadBytes: this.maxPayloadBytes,
      });
    }
    return payload;
  }

  private readCopy(copy: BootControlCopy): { state: BootControlCopyState; record?: { value: T } } {
    const bytes = this.flash.read(this.blocks[copy] * this.flash.geometry.eraseBlockSize, this.flash.geometry.eraseBlockSize);
    const invalid = (reason: Extract<BootControlCopyState, { status: 'invalid' }>['reason']) => ({
      state: { copy, status: 'invalid', reason } as const,
    });
    if (bytes.every((byte) => byte === 0xff)) return { state: { copy, status: 'erased' } };
    if (!bytes.subarray(0, MAGIC.length).equals(MAGIC)) return invalid('bad-magic');
    const sequence = bytes.readUInt32LE(4);
    const payloadLength = bytes.readUInt32LE(8);
    if (payloadLength > this.maxPayloadBytes) return invalid('bad-length');
    const end = HEADER_BYTES + payloadLength;
    if (crc32(bytes.subarray(0, end)) !== bytes.readUInt32LE(end)) return invalid('bad-crc');
    let value: unknown;
    try {
      value = JSON.parse(bytes.subarray(HEADER_BYTES, end).toString('utf8'));
    } catch {
      return invalid('bad-json');
    }
    if (this.isRecord && !this.isRecord(value)) return invalid('rejected-record');
    return { state: { copy, status: 'valid', sequence }, record: { value: value as T } };
  }
}

function encodeCopy(sequence: number, payload: Buffer): Buffer {
  const bytes = Buffer.alloc(HEADER_BYTES + payload.length + CRC_BYTES);
  MAGIC.copy(bytes, 0);
  bytes.writeUInt32LE(sequence, 4);
  bytes.writeUInt32LE(payload.length, 8);
  payload.copy(bytes, HEADER_BYTES);
  bytes.writeUInt32LE(crc32(bytes.subarray(0, HEADER_BYTES + payload.length)), HEADER_BYTES + payload.length);
  return bytes;
}
