import type { WaitOptions } from './deadline.js';

/**
 * The transport every byte protocol of the rig runs over (XMODEM, recovery frames,
 * console lines): a serial port on the host, a pseudo-terminal master in the
 * emulator, an in-memory pair in tests.
 *
 * Reads are pulls that take exactly the bytes they ask for and leave everything
 * after them buffered. That is what lets one protocol hand the line to the next on
 * the same stream (ROM banner lines, then XMODEM, then frames, then XMODEM again)
 * without losing or stealing a byte. Only one read may be pending at a time.
 */

export interface ReadUntilOptions extends WaitOptions {
  /**
   * Give up with LinkOverflowError once this many bytes are buffered without the
   * delimiter. The bytes stay buffered: the caller decides whether to take or discard them.
   */
  maxBytes?: number | undefined;
}

/** Options of one write; the channel's default timeout applies when none is given. */
export interface WriteOptions {
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** The incoming half: a buffer of received bytes that readers pull from. */
export interface ByteReader {
  /** Bytes received and not yet read. */
  readonly available: number;
  /** Next byte. */
  readByte(options: WaitOptions): Promise<number>;
  /** Exactly `length` bytes. */
  readExact(length: number, options: WaitOptions): Promise<Buffer>;
  /** Bytes up to and including the first occurrence of `delimiter` (a byte or a byte sequence). */
  readUntil(delimiter: number | Uint8Array, options: ReadUntilOptions): Promise<Buffer>;
  /** Whatever is buffered now, up to `maxBytes`, without waiting. */
  take(maxBytes?: number): Buffer;
  /** Puts bytes back in front of the buffer, for a handler that read one byte too many. */
  unshift(data: Uint8Array): void;
  /** Throws away everything buffered now (XMODEM purges before a NAK); returns how many bytes. */
  discard(): number;
}

/** A two-way byte transport. */
export interface ByteChannel extends ByteReader {
  /** Resolves once the transport has accepted the bytes. */
  write(data: Uint8Array, options?: WriteOptions): Promise<void>;
  /** Fails pending reads with LinkClosedError and releases the transport; safe to call twice. */
  close(): Promise<void>;
  readonly closed: boolean;
}
