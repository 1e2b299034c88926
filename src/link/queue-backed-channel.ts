import type { ByteChannel, ReadUntilOptions, WriteOptions } from './byte-channel.js';
import { ByteQueue } from './byte-queue.js';
import { waitFor, type WaitOptions } from './deadline.js';
import { LinkClosedError } from './link-errors.js';

export interface QueueBackedChannelOptions {
  /** Name used in error messages (a port path, "emulator recovery UART"). */
  name?: string;
  /** Bound on received-but-unread bytes; see ByteQueue. */
  maxBufferedBytes?: number;
  /** Timeout of a write when the caller gives none. */
  writeTimeoutMs?: number;
}

export const DEFAULT_WRITE_TIMEOUT_MS = 10_000;

/**
 * A ByteChannel whose reads are served by a ByteQueue: subclasses only say how bytes
 * leave (writeBytes) and how the transport is released (closeTransport), and feed
 * what arrives to `received` / `transportEnded`.
 */
export abstract class QueueBackedChannel implements ByteChannel {
  readonly name: string;
  readonly writeTimeoutMs: number;
  protected readonly input: ByteQueue;
  private isClosed = false;
  private closing: Promise<void> | undefined;

  protected constructor(defaultName: string, options: QueueBackedChannelOptions = {}) {
    this.name = options.name ?? defaultName;
    this.writeTimeoutMs = options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS;
    this.input = new ByteQueue({ name: this.name, maxBufferedBytes: options.maxBufferedBytes });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get available(): number {
    return this.input.available;
  }

  /** Received bytes lost because nobody read them in time; see ByteQueue. */
  get droppedBytes(): number {
    return this.input.droppedBytes;
  }

  readByte(options: WaitOptions): Promise<number> {
    return this.input.readByte(options);
  }

  readExact(length: number, options: WaitOptions): Promise<Buffer> {
    return this.input.readExact(length, options);
  }

  readUntil(delimiter: number | Uint8Array, options: ReadUntilOptions): Promise<Buffer> {
    return this.input.readUntil(delimiter, options);
  }

  take(maxBytes?: number): Buffer {
    return this.input.take(maxBytes);
  }

  unshift(data: Uint8Array): void {
    this.input.unshift(data);
  }

  discard(): number {
    return this.input.discard();
  }

  async write(data: Uint8Array, options: WriteOptions = {}): Promise<void> {
    const what = `${this.name}: writing ${data.length} bytes`;
    if (this.isClosed) throw new LinkClosedError(what);
    if (data.length === 0) return;
    // Copy: the transport may hold the buffer after write() returns.
    const bytes = Buffer.from(data);
    await waitFor<void>(
      what,
      { timeoutMs: options.timeoutMs ?? this.writeTimeoutMs, signal: options.signal },
      (settle) => {
        this.writeBytes(bytes, (error) => (error ? settle.reject(error) : settle.resolve()));
      },
    );
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.isClosed = true;
      this.input.end();
      this.closing = this.closeTransport();
    }
    return this.closing;
  }

  /** Hands bytes to the transport; calls `done` once it accepted them (or failed). */
  protected abstract writeBytes(data: Buffer, done: (error?: unknown) => void): void;

  /** Releases the transport; called once, by close(). */
  protected abstract closeTransport(): Promise<void>;

  /** Bytes arrived from the transport. */
  protected received(chunk: Uint8Array): void {
    this.input.push(chunk);
  }

  /** The transport will deliver nothing more; `reason` becomes the cause of later read errors. */
  protected transportEnded(reason?: unknown): void {
    this.input.end(reason);
  }
}
