import { RigError } from '../../util/failure.js';

/**
 * The flash lost power before an operation (an armed power cut, or the board's
 * power switch): the operation did not happen, and the flash answers nothing more
 * until it is powered on again.
 */
export class PowerCutError extends RigError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('device-fault', 'power-cut', message, details);
  }
}
