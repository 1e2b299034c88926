import type { ByteReader, ReadUntilOptions } from './byte-channel.js';
import { waitFor, type WaitOptions } from './deadline.js';
import { LinkClosedError, LinkOverflowError, LinkUsageError } from './link-errors.js';

export interface ByteQueueOptions {
  /**
   * Most bytes held at once. When a producer outruns its readers the oldest bytes are
   * dropped (and counted in droppedBytes) rather than growing memory without limit.
   */
  maxBufferedBytes?: number;
  /** Prefix for error messages, e.g. the port path. */
  name?: string;
}

export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
/** An empty buffer larger than this is released rather than kept for reuse. */
const KEEP_EMPTY_CAPACITY = 64 * 1024;

/**
 * Collects incoming chunks and serves pull reads from them: the receiving half of a
 * ByteChannel. Bytes are kept in one contiguous buffer (head..tail) so a read of N
 * bytes or a delimiter search never walks a chunk list. Producers call push() and
 * end(); one reader at a time awaits bytes with a timeout and an AbortSignal.
 */
export class ByteQueue implements ByteReader {
  readonly maxBufferedBytes: number;
  readonly name: string;
  private buffer = Buffer.alloc(0);
  private head = 0;
  private tail = 0;
  /** Bytes at the front already searched for readUntil's delimiter without a hit. */
  private scanned = 0;
  /** The pending reader's attempt to complete from the buffer; true once it has settled. */
  private waiter: (() => boolean) | undefined;
  private ended = false;
  private endReason: unknown;
  private dropped = 0;

  constructor(options: ByteQueueOptions = {}) {
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.name = options.name ?? 'byte queue';
    if (!Number.isInteger(this.maxBufferedBytes) || this.maxBufferedBytes < 1) {
      throw new LinkUsageError('link-bad-limit', `maxBufferedBytes ${this.maxBufferedBytes} must be a positive integer`);
    }
  }

  get available(): number {
    return this.tail - this.head;
  }

  /** Bytes lost because the buffer was full. */
  get droppedBytes(): number {
    return this.dropped;
  }

  /** True once the producer said no more bytes will come. */
  get isEnded(): boolean {
    return this.ended;
  }

  /** Adds received bytes (copied: the caller may reuse its buffer). Ignored after end(). */
  push(chunk: Uint8Array): void {
    if (this.ended || chunk.length === 0) return;
    let bytes = chunk;
    if (bytes.length > this.maxBufferedBytes) {
      this.dropped += bytes.length - this.maxBufferedBytes;
      bytes = bytes.subarray(bytes.length - this.maxBufferedBytes);
    }
    const excess = this.available + bytes.length - this.maxBufferedBytes;
    if (excess > 0) {
      this.head += excess;
      this.dropped += excess;
      this.scanned = 0;
    }
    this.makeRoom(bytes.length);
    this.buffer.set(bytes, this.tail);
    this.tail += bytes.length;
    this.waiter?.();
  }

  /**
   * No more bytes will come. Buffered bytes stay readable; a read that cannot be
   * completed from them fails with LinkClosedError whose cause is `reason`.
   */
  end(reason?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.endReason = reason;
    this.waiter?.();
  }

  readByte(options: WaitOptions): Promise<number> {
    return this.read('reading a byte', options, () => (this.available > 0 ? this.takeBytes(1)[0] : undefined));
  }

  readExact(length: number, options: WaitOptions): Promise<Buffer> {
    if (!Number.isInteger(length) || length < 0 || length > this.maxBufferedBytes) {
      return Promise.reject(
        new LinkUsageError('link-bad-length', `cannot read ${length} bytes through a ${this.maxBufferedBytes}-byte queue`),
      );
    }
    return this.read(`reading ${length} bytes`, options, () =>
      this.available >= length ? this.takeBytes(length) : undefined,
    );
  }

  readUntil(delimiter: number | Uint8Array, options: ReadUntilOptions): Promise<Buffer> {
    const needle = typeof delimiter === 'number' ? Buffer.of(delimiter) : Buffer.from(delimiter);
    if (needle.length === 0) {
      return Promise.reject(new LinkUsageError('link-bad-delimiter', 'readUntil needs a non-empty delimiter'));
    }
    const limit = Math.min(options.maxBytes ?? this.maxBufferedBytes, this.maxBufferedBytes);
    const what = `reading up to ${needle.toString('hex')}`;
    let firstAttempt = true;
    return this.read(what, options, () => {
      if (firstAttempt) {
        // A new search: nothing is known about the buffered bytes yet.
        this.scanned = 0;
        firstAttempt = false;
      }
      const live = this.buffer.subarray(this.head, this.tail);
      // Resume where the last search stopped, backing up so a delimiter split across pushes is found.
      const at = live.indexOf(needle, Math.max(0, this.scanned - needle.length + 1));
      if (at !== -1 && at + needle.length <= limit) return this.takeBytes(at + needle.length);
      if (live.length >= limit) throw new LinkOverflowError(`${this.name}: ${what}`, limit);
      this.scanned = live.length;
      return undefined;
    });
  }

  take(maxBytes: number = Number.POSITIVE_INFINITY): Buffer {
    return this.takeBytes(Math.max(0, Math.min(maxBytes, this.available)));
  }

  unshift(data: Uint8Array): void {
    if (data.length === 0) return;
    if (this.head >= data.length) {
      this.head -= data.length;
      this.buffer.set(data, this.head);
    } else {
      const live = this.available;
      const next = Buffer.allocUnsafe(Math.max(2 * (live + data.length), 256));
      next.set(data, 0);
      this.buffer.copy(next, data.length, this.head, this.tail);
      this.buffer = next;
      this.head = 0;
      this.tail = live + data.length;
    }
    this.scanned = 0;
    this.waiter?.();
  }

  discard(): number {
    const count = this.available;
    this.takeBytes(count);
    return count;
  }

  /** One pending read: completes from the buffer now or on a later push, else times out or aborts. */
  private read<T>(what: string, options: WaitOptions, attemptRead: () => T | undefined): Promise<T> {
    const label = `${this.name}: ${what}`;
    if (this.waiter) {
      return Promise.reject(new LinkUsageError('link-read-busy', `${label}: another read is already pending`));
    }
    return waitFor<T>(label, options, (settle) => {
      const attempt = (): boolean => {
        let value: T | undefined;
        try {
          value = attemptRead();
        } catch (error) {
          settle.reject(error);
          return true;
        }
        if (value !== undefined) {
          settle.resolve(value);
          return true;
        }
        if (this.ended) {
          settle.reject(new LinkClosedError(label, this.endReason));
          return true;
        }
        return false;
      };
      if (attempt()) return undefined;
      this.waiter = attempt;
      return () => {
        if (this.waiter === attempt) this.waiter = undefined;
      };
    });
  }

  private takeBytes(count: number): Buffer {
    const out = Buffer.allocUnsafe(count);
    this.buffer.copy(out, 0, this.head, this.head + count);
    this.head += count;
    this.scanned = 0;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
      if (this.buffer.length > KEEP_EMPTY_CAPACITY) this.buffer = Buffer.alloc(0);
    }
    return out;
  }

  private makeRoom(incoming: number): void {
    if (this.buffer.length - this.tail >= incoming) return;
    const live = this.available;
    if (live + incoming <= this.buffer.length && this.head >= live) {
      // At least half the buffer is consumed space: slide the live bytes down.
      this.buffer.copy(this.buffer, 0, this.head, this.tail);
    } else {
      const next = Buffer.allocUnsafe(Math.max(live + incoming, 2 * this.buffer.length, 256));
      this.buffer.copy(next, 0, this.head, this.tail);
      this.buffer = next;
    }
    this.head = 0;
    this.tail = live;
  }
}
