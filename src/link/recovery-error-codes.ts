/**
 * The `code` of a RecoveryError message (see recovery-messages.ts), shared by the
 * device (emulator) that sends it and the host that reports it. No table is
 * published: the project uses a device error number from device-error-codes.json
 * where one fits the refusal, and for faults specific to the recovery link its
 * own numbers in "facility" 60 (60 << 20 = 62914560), a facility no published
 * device code uses.
 */
export const RecoveryErrorCode = {
  /** A file whose signer the chip does not trust, or whose signature does not verify. */
  ImageNotTrusted: 7340047,
  /** A file that is malformed, of the wrong image type, or does not match its manifest entry. */
  ImageInvalid: 7340050,
  /** Writing failed, or an image's security version is below the chip's fuse counter. */
  InstallFailed: 7340056,
  /** The image set does not fit the flash. */
  InsufficientSpace: 14680082,
  /** The host sent a message that does not fit the sequence. */
  ProtocolViolation: 62914561,
  /** An XMODEM transfer failed (retries exhausted, cancelled, wrong length). */
  TransferFailed: 62914562,
  /** The host did not answer in time. */
  HostTimeout: 62914563,
  /** After the baud-rate switch the host's line settings do not match what was agreed. */
  LineSettingsMismatch: 62914564,
  /** The host answered a request for a file the recovery needs with ImageRequestError. */
  FileUnavailable: 62914565,
  /** The manifest does not describe an image set this device can boot. */
  ImageSetIncomplete: 62914566,
} as const;

export type RecoveryErrorName = keyof typeof RecoveryErrorCode;

/** The name of a recovery error code, or `error <n>` for one this project does not define. */
export function recoveryErrorName(code: number): string {
  const entry = Object.entries(RecoveryErrorCode).find(([, value]) => value === code);
  return entry ? entry[0] : `error ${code}`;
}
