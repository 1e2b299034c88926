import { RigError } from '../../util/failure.js';

/** The device's numeric error code carried by a refusal, however it reached the rig. */
export function deviceErrorCodeOf(error: unknown): number | undefined {
  if (!(error instanceof RigError)) return undefined;
  const fromDetails = error.details.deviceErrorCode;
  if (typeof fromDetails === 'number') return fromDetails;
  const fromCode = /^device-error-(\d+)$/.exec(error.code)?.[1];
  return fromCode === undefined ? undefined : Number(fromCode);
}

/**
 * Run an action that a negative scenario expects the device to refuse with a
 * given code: the refusal passes the step, acceptance or another error fails it.
 */
export async function expectRefusal(action: () => Promise<unknown>, expected: number, what: string): Promise<void> {
  try {
    await action();
  } catch (error) {
    const code = deviceErrorCodeOf(error);
    if (code === expected) return;
    if (code !== undefined) {
      throw new RigError('test-failed', 'wrong-refusal', `${what} was refused with ${code}, expected ${expected}: ${(error as Error).message}`);
    }
    throw error;
  }
  throw new RigError('test-failed', 'not-refused', `${what} was accepted; the device should have refused it with ${expected}`);
}
