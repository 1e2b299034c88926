import { expect } from 'chai';
import { RecoveryFailedError } from '../../src/device/recovery-failure.js';

/** The RecoveryFailedError a recovery ends with; the test fails if it succeeds or fails any other way. */
export async function expectRecoveryFailure(promise: Promise<unknown>): Promise<RecoveryFailedError> {
  try {
    await promise;
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(RecoveryFailedError);
    return error as RecoveryFailedError;
  }
  throw new Error('the recovery succeeded');
}
