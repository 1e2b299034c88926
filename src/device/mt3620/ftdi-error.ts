import { RigError, type FailureClass } from '../../util/failure.js';

/** A failed FTDI pin operation (USB open, claim, control or bulk transfer), naming the interface and step. */
export class FtdiError extends RigError {
  constructor(failureClass: FailureClass, code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(failureClass, code, message, details, options);
  }
}
