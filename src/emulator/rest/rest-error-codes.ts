import { DeviceRefusal } from '../device-error.js';

/**
 * The `{"error": code}` values the REST server answers for faults of the
 * request itself. Codes from device-error-codes.json are used wherever one
 * fits. Where Microsoft publishes none (malformed JSON, a field of the wrong
 * type, a wrong media type), the server answers 22, the errno EINVAL: a
 * project choice in the style of the device's own 13 (EACCES) for "permission
 * denied". HTTP statuses stay within those the device uses (400 403 404 409
 * 412 415 500).
 */
export const RestErrorCode = {
  /** EACCES: the request needs AppDevelopment (11) or FieldServicing (13). */
  PermissionDenied: 13,
  /** EINVAL (project choice): malformed JSON, wrong field types, bad path parameters. */
  InvalidRequest: 22,
  /** EIO (project choice): the emulator itself failed; never the answer to bad input. */
  InternalError: 5,
  InvalidRequestUri: 15728642,
  ContentTooLarge: 15728644,
  DeviceBusy: 10485765,
} as const;

export const refuse = {
  invalid: (detail: string) => new DeviceRefusal(RestErrorCode.InvalidRequest, 400, detail),
  unsupportedMediaType: (detail: string) => new DeviceRefusal(RestErrorCode.InvalidRequest, 415, detail),
  tooLarge: (limit: number) => new DeviceRefusal(RestErrorCode.ContentTooLarge, 400, `the body is larger than ${limit} bytes`),
  unknownPath: (method: string, path: string) => new DeviceRefusal(RestErrorCode.InvalidRequestUri, 404, `${method} ${path}`),
  permission: (detail: string) => new DeviceRefusal(RestErrorCode.PermissionDenied, 403, detail),
};
