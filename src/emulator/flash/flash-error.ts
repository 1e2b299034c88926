import { RigError } from '../../util/failure.js';

/** Stable names of the ways a flash operation or a flash store can fail. */
export type FlashErrorCode =
  | 'program-not-erased'
  | 'program-crosses-unit'
  | 'empty-program'
  | 'out-of-range'
  | 'flash-closed'
  | 'record-too-large'
  | 'record-not-serialisable'
  | 'sequence-exhausted'
  | 'blob-too-large'
  | 'region-out-of-range'
  | 'verify-failed';

/**
 * A fault of the emulated flash or of what the emulated firmware asked of it: a
 * device-side fault, never a test failure of the host code under test.
 */
export class FlashError extends RigError {
  declare readonly code: FlashErrorCode;

  constructor(code: FlashErrorCode, message: string, details: Record<string, unknown> = {}) {
    super('device-fault', code, message, details);
  }
}
