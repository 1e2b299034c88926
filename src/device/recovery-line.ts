import type { ByteChannel } from '../link/byte-channel.js';

/**
 * The host's recovery UART as the recovery client uses it: a byte channel whose
 * line settings change once during a recovery (115200 8N1 without flow control
 * for the ROM, then 3,000,000 or 115200 with RTS/CTS for imaging). Changing them
 * may reopen the port, so `channel` is read afresh after `reconfigure`.
 */
export interface RecoveryLineSettings {
  baudRate: number;
  rtsCts: boolean;
}

export interface LineCallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface RecoveryLine {
  readonly channel: ByteChannel;
  readonly settings: RecoveryLineSettings;
  /** Why the line went away under us (device unplugged, emulator gone), once it has. */
  readonly lostReason: string | undefined;
  /** Throws away everything received and not yet read, in the OS and in the channel. */
  flush(options?: LineCallOptions): Promise<void>;
  /** Lets written bytes leave, then applies new settings; a no-op when they are already in force. */
  reconfigure(settings: RecoveryLineSettings, options?: LineCallOptions): Promise<void>;
  /** Releases the port; idempotent. */
  close(): Promise<void>;
}

/** Stage 1 (ROM and recovery 1BL): 115200 8N1, no flow control. */
export const ROM_LINE: Readonly<RecoveryLineSettings> = Object.freeze({ baudRate: 115_200, rtsCts: false });
/** Imaging after the host answered the baud query with 1. */
export const FAST_IMAGING_LINE: Readonly<RecoveryLineSettings> = Object.freeze({ baudRate: 3_000_000, rtsCts: true });
/** Imaging in "low speed" mode (the host answered 0). */
export const LOW_SPEED_IMAGING_LINE: Readonly<RecoveryLineSettings> = Object.freeze({ baudRate: 115_200, rtsCts: true });
