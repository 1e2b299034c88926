import { deviceErrorMessage } from '../../util/device-error-codes.js';
import { RigError, type FailureClass } from '../../util/failure.js';

/**
 * Every error the device REST client raises. The failure class says whose
 * fault it is: the device refused (test-failed), the link or TLS failed
 * (infra-error), no answer in time (timeout), the caller gave up (cancelled).
 */
export class DeviceRestError extends RigError {
  constructor(failureClass: FailureClass, code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(failureClass, code, message, details, options);
  }
}

/**
 * The device answered `{"error": code}`: its refusal, with the message
 * device-error-codes.json gives for the code. `code` is `device-error-<n>`.
 */
export class DeviceRefusedError extends DeviceRestError {
  readonly deviceErrorCode: number;
  readonly httpStatus: number;
  /** The device's message for the code, without the request that got it. */
  readonly deviceMessage: string;

  constructor(deviceErrorCode: number, httpStatus: number, request: string) {
    const deviceMessage = deviceErrorMessage(deviceErrorCode);
    super('test-failed', `device-error-${deviceErrorCode}`, `${deviceMessage} (error ${deviceErrorCode}, HTTP ${httpStatus} on ${request})`, {
      deviceErrorCode,
      httpStatus,
      request,
    });
    this.deviceErrorCode = deviceErrorCode;
    this.httpStatus = httpStatus;
    this.deviceMessage = deviceMessage;
  }
}
