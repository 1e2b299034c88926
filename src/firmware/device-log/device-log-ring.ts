import { InputError } from '../../util/failure.js';
import { BANK_SIZE, COUNTER_OFFSET, ENTRY, ENTRY_HEADER_SIZE, ERASED_U16, MAX_COUNTER, STATUS_OFFSET, entryFitsAt } from './device-log-layout.js';

/**
 * The writer's side of the device log: a ring of banks kept the way
 * device-log-format.md section 2 says keeps Microsoft's parser reading it in
 * order. Banks fill in index order and wrap to bank 0; a bank is erased (0xFF)
 * before it is reused and takes counter = highest counter + 1, so the smallest
 * counter is always the oldest bank; counters stay below 0xFFFF (the live banks
 * are renumbered from 0, oldest first, before they would reach it). An entry
 * never crosses into the footer: it starts a new bank instead. The status field
 * is left erased (0xFFFF; the parser ignores it).
 */
export class DeviceLogRing {
  readonly bytes: Buffer;
  readonly bankCount: number;
  /** The bank being written, or undefined while every bank is erased. */
  #current: number | undefined;
  #offset = 0;

  private constructor(bytes: Buffer) {
    this.bytes = bytes;
    this.bankCount = bytes.length / BANK_SIZE;
    this.#current = this.#newestBank();
    if (this.#current !== undefined) this.#offset = this.#freeOffset(this.#current);
  }

  /** A log with every bank erased: the first entry starts bank 0. */
  static erased(bankCount: number): DeviceLogRing {
    if (!Number.isInteger(bankCount) || bankCount < 1 || bankCount > 0xfffe) throw new InputError('log-banks', `a device log has 1..65534 banks, got ${bankCount}`);
    return new DeviceLogRing(Buffer.alloc(bankCount * BANK_SIZE, 0xff));
  }

  /** Continues a log kept earlier (its bytes are taken over, not copied). */
  static resume(bytes: Buffer): DeviceLogRing {
    if (bytes.length === 0 || bytes.length % BANK_SIZE !== 0) {
      throw new InputError('device-log-malformed', `byte offset ${bytes.length - (bytes.length % BANK_SIZE)}: a device log is a whole number of ${BANK_SIZE}-byte banks; this one is ${bytes.length} bytes`, { offset: bytes.length - (bytes.length % BANK_SIZE) });
    }
    return new DeviceLogRing(bytes);
  }

  counter(bank: number): number {
    return this.bytes.readUInt16LE(bank * BANK_SIZE + COUNTER_OFFSET);
  }

  /**
   * Appends one encoded entry; returns the banks whose bytes changed (the one
   * written, and any erased or renumbered for it), for a caller that keeps
   * them on storage.
   */
  append(entry: Buffer): number[] {
    const length = entry.length >= 2 ? entry.readUInt16LE(ENTRY.length) : 0;
    if (length !== entry.length || !entryFitsAt(0, length) || length < ENTRY_HEADER_SIZE) {
      throw new InputError('log-entry', `an entry is ${ENTRY_HEADER_SIZE}..4092 bytes and starts with its own length; got ${entry.length} bytes saying ${length}`);
    }
    const changed: number[] = [];
    if (this.#current === undefined || !entryFitsAt(this.#offset, length)) changed.push(...this.#startBank());
    const bank = this.#current!;
    entry.copy(this.bytes, bank * BANK_SIZE + this.#offset);
    this.#offset += length;
    if (!changed.includes(bank)) changed.push(bank);
    return changed;
  }

  /** The bytes of one bank (a view). */
  bank(index: number): Buffer {
    return this.bytes.subarray(index * BANK_SIZE, (index + 1) * BANK_SIZE);
  }

  #startBank(): number[] {
    const next = this.#current === undefined ? 0 : (this.#current + 1) % this.bankCount;
    const changed = [next];
    const all = this.#liveBanksOldestFirst();
    const live = all.filter((b) => b !== next);
    let counter = all.length ? Math.max(...all.map((b) => this.counter(b))) + 1 : 0;
    if (counter > MAX_COUNTER) {
      live.forEach((b, index) => this.#writeCounter(b, index));
      changed.push(...live);
      counter = live.length;
    }
    this.bank(next).fill(0xff);
    this.#writeCounter(next, counter);
    this.#current = next;
    this.#offset = 0;
    return changed;
  }

  #writeCounter(bank: number, counter: number): void {
    this.bytes.writeUInt16LE(counter, bank * BANK_SIZE + COUNTER_OFFSET);
    this.bytes.writeUInt16LE(ERASED_U16, bank * BANK_SIZE + STATUS_OFFSET);
  }

  /** Banks with a counter, in the parser's reading order (smallest counter first, the first bank winning a tie). */
  #liveBanksOldestFirst(): number[] {
    const live = [...Array(this.bankCount).keys()].filter((b) => this.counter(b) !== ERASED_U16);
    if (!live.length) return [];
    const start = live.reduce((oldest, b) => (this.counter(b) < this.counter(oldest) ? b : oldest));
    return [...live.filter((b) => b >= start), ...live.filter((b) => b < start)];
  }

  /** The bank written last: the one with the highest counter (the last of equals in ring order). */
  #newestBank(): number | undefined {
    return this.#liveBanksOldestFirst().reduce<number | undefined>((newest, b) => (newest === undefined || this.counter(b) >= this.counter(newest) ? b : newest), undefined);
  }

  /** Where the next entry of a resumed bank goes: after its last well-formed entry (a damaged bank counts as full). */
  #freeOffset(bank: number): number {
    const base = bank * BANK_SIZE;
    let offset = 0;
    while (offset + 2 <= BANK_SIZE - 4) {
      const length = this.bytes.readUInt16LE(base + offset);
      if (length === ERASED_U16) return offset;
      if (length < ENTRY_HEADER_SIZE || !entryFitsAt(offset, length)) return BANK_SIZE;
      offset += length;
    }
    return offset;
  }
}
