import type { FailureClass } from '../util/failure.js';

/**
 * Exit codes every sphere-rig command uses, so CI can tell a failed test from a
 * broken rig without parsing output. Documented in README ("Exit codes").
 */
export const ExitCode = {
  ok: 0,
  testFailed: 1,
  usage: 2,
  infraError: 3,
  deviceFault: 4,
  timeout: 5,
  cancelled: 6,
  notApplicable: 7,
  /** No USB bus or no permission to use it (real boards). */
  noUsb: 8,
} as const;

export function exitCodeFor(failureClass: FailureClass): number {
  switch (failureClass) {
    case 'test-failed':
      return ExitCode.testFailed;
    case 'infra-error':
      return ExitCode.infraError;
    case 'device-fault':
      return ExitCode.deviceFault;
    case 'timeout':
      return ExitCode.timeout;
    case 'cancelled':
      return ExitCode.cancelled;
    case 'not-applicable':
      return ExitCode.notApplicable;
  }
}
