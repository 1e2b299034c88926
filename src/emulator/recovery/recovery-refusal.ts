import { RecoveryErrorCode, recoveryErrorName } from '../../link/recovery-error-codes.js';
import { RigError } from '../../util/failure.js';

/**
 * The recovery ROM refusing to go on: what it sends to the host as a
 * RecoveryError message (a catalog code of category 39, and a text) before it
 * returns to waiting for a new recovery. The failure class is the host's view:
 * the device refused.
 */
export class RecoveryRefusal extends RigError {
  constructor(
    readonly recoveryCode: number,
    readonly text: string,
  ) {
    super('device-fault', `recovery-${recoveryErrorName(recoveryCode).replace(/^.*::/, '')}`, text, { recoveryCode });
  }

  static protocol(text: string): RecoveryRefusal {
    return new RecoveryRefusal(RecoveryErrorCode.InvalidServerResponse, text);
  }
}

/** The host sent AbortRecovery: the session ends without an error message. */
export class HostAbortedRecovery extends RigError {
  constructor(step: string) {
    super('cancelled', 'recovery-aborted-by-host', `the host aborted the recovery (${step})`);
  }
}
