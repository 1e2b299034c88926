import { RigError } from '../util/failure.js';

/**
 * The host cannot use USB at all, or not the boards' devices: no USB bus (a
 * container without /dev/bus/usb, a host without USB), libusb unusable, or no
 * permission. An infrastructure error; the CLI maps it to exit code 8 (no USB
 * access) so a nightly job can tell a bench that is not wired from a failed test.
 */
export type UsbAccessProblem = 'no-usb-bus' | 'usb-permission-denied' | 'libusb-unavailable';

export class UsbAccessError extends RigError {
  constructor(
    readonly problem: UsbAccessProblem,
    message: string,
    details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super('infra-error', problem, message, details, options);
  }
}

export function isUsbAccessError(error: unknown): error is UsbAccessError {
  return error instanceof UsbAccessError;
}
