import type { FailureClass } from '../util/failure.js';

/** One taxonomy for every outcome: passed, or the failure class that explains why not. */
export type Verdict = 'passed' | FailureClass;

export const VERDICTS: readonly Verdict[] = ['passed', 'test-failed', 'device-fault', 'infra-error', 'timeout', 'cancelled', 'not-applicable'];

/**
 * The verdict of a whole from its parts: the most telling failure wins. A rig
 * problem outranks a test failure seen after it (the test could not be judged),
 * except that cancellation, once asked for, is what the run was.
 */
const PRECEDENCE: readonly Verdict[] = ['cancelled', 'infra-error', 'device-fault', 'timeout', 'test-failed', 'not-applicable', 'passed'];

export function combineVerdicts(verdicts: readonly Verdict[]): Verdict {
  if (verdicts.length === 0) return 'passed';
  let best: Verdict = 'passed';
  for (const v of verdicts) if (PRECEDENCE.indexOf(v) < PRECEDENCE.indexOf(best)) best = v;
  // A run whose steps were all not applicable is not applicable; a mix with passes passed.
  if (best === 'not-applicable' && verdicts.some((v) => v === 'passed')) return 'passed';
  return best;
}
