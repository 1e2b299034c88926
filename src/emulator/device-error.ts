import { RigError } from '../util/failure.js';
import { describeDeviceError } from '../util/device-error-catalog.js';
import { deviceErrorMessage } from '../util/device-error-codes.js';

/**
 * A refusal by the emulated device, carrying the numeric code a real device
 * answers (`{"error": code}`) and the HTTP status its REST API uses for it. The
 * message is the text Microsoft's client shows for the code; the details name
 * the code as the OS catalog does (e.g. ImageUpdateError::VerificationFailed).
 */
export class DeviceRefusal extends RigError {
  constructor(
    readonly deviceErrorCode: number,
    readonly httpStatus: number,
    detail?: string,
  ) {
    super('test-failed', `device-error-${deviceErrorCode}`, `${deviceErrorMessage(deviceErrorCode)}${detail ? ` (${detail})` : ''}`, {
      deviceErrorCode,
      deviceErrorName: describeDeviceError(deviceErrorCode).name,
      httpStatus,
    });
  }
}
