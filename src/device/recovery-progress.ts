import type { RecoveryStep } from './recovery-failure.js';

/**
 * What the recovery client reports while it works, one object per report. The
 * device's own view of progress comes from its ProgressUpdate messages (images
 * and bytes remaining, per image); XMODEM reports fill in between, per block.
 * Shaped so a `Board.recover` progress callback can take it as is.
 */
export type RecoveryProgressKind =
  | 'step' // a new step started
  | 'transfer' // XMODEM blocks of a file were acknowledged
  | 'device-progress' // a ProgressUpdate arrived
  | 'device-event' // a RecoveryEvent arrived
  | 'device-log'; // a LogEntry arrived (only when device logs were asked for)

export interface RecoveryProgress {
  kind: RecoveryProgressKind;
  /** The step under way. */
  stage: RecoveryStep;
  /** Payload bytes of every file sent by XMODEM so far in this recovery (retransmissions not counted). */
  xmodemBytes: number;
  /** 'transfer': the file, the chunk the device asked for, and how much of the chunk has gone. */
  file?: string;
  fileBytes?: number;
  chunkOffset?: number;
  chunkBytes?: number;
  chunkSentBytes?: number;
  /** From the device's latest ProgressUpdate. */
  imagesRemaining?: number;
  imageCount?: number;
  bytesRemaining?: number;
  totalBytes?: number;
  /** 'device-event': the RecoveryEvent code and its name. */
  event?: number;
  eventName?: string;
  /** 'device-log': the LogEntry text. */
  text?: string;
}
