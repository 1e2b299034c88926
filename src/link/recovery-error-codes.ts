import { catalogCode, describeDeviceError } from '../util/device-error-catalog.js';

/**
 * The `code` of a RecoveryError message (see recovery-messages.ts), shared by the
 * device (emulator) that sends it and the host that reports it: Microsoft's
 * catalog category 39, RecoveryError (full code 40894464 + id; recovery-protocol.md,
 * error-catalog.md §3). Each value is looked up by its catalog name, so a name the
 * catalog lacks fails when this module loads.
 */
const recovery = (name: string) => catalogCode('RecoveryError', name);

export const RecoveryErrorCode = {
  /** The manifest is unreadable, or does not describe an image set this device can hold. */
  BadImageManifestFormat: recovery('BadImageManifestFormat'),
  /** A file that is not a signed image (or an image set that would not boot). */
  BadImage: recovery('BadImage'),
  /** An image's security version is below the chip's fuse counter (anti-rollback). */
  UnsupportedVersion: recovery('UnsupportedVersion'),
  /** Signed by a key the chip (or the new set's keystore) does not trust. */
  UntrustedCertificate: recovery('UntrustedCertificate'),
  /** A trusted signer, but the signature does not verify over the file (a tampered file). */
  BadSignature: recovery('BadSignature'),
  /** A file whose component ID is not the one expected (the manifest's, or the runtime's). */
  BadComponentUid: recovery('BadComponentUid'),
  /** An image whose image ID is not its manifest entry's. */
  BadImageUid: recovery('BadImageUid'),
  /** A file whose length is not its manifest entry's. */
  BadImageFileSize: recovery('BadImageFileSize'),
  /** A file of the wrong image type. */
  BadImageType: recovery('BadImageType'),
  /** A file (or the whole set) larger than the device has room for. */
  ReceiveBufferTooSmall: recovery('ReceiveBufferTooSmall'),
  /** After the baud-rate switch the host's line does not match what was agreed. */
  StreamSyncFailed: recovery('StreamSyncFailed'),
  /** The host did not answer a query in time. */
  GetServerResponseTimedOut: recovery('GetServerResponseTimedOut'),
  /** The host sent a message that does not fit the sequence. */
  InvalidServerResponse: recovery('InvalidServerResponse'),
  /** Writing the flash failed (power lost, reset meanwhile). */
  FlashWriteFailed: recovery('FlashWriteFailed'),
  /** Erasing the flash failed. */
  FlashEraseFailed: recovery('FlashEraseFailed'),
  /** An XMODEM transfer failed (retries exhausted, cancelled, wrong length). */
  FileTransferFailed: recovery('FileTransferFailed'),
  /** The host answered a request for a file the recovery needs with ImageRequestError. */
  ImageNotFound: recovery('ImageNotFound'),
} as const;

export type RecoveryErrorName = keyof typeof RecoveryErrorCode;

/**
 * Codes sphere-rig emulators sent before they used the catalog (facility 60, a
 * category no catalog has), so that a host still names them when it meets an
 * older emulator. Nothing sends them any more.
 */
const PRE_CATALOG_CODES: Readonly<Record<number, string>> = {
  62914561: 'ProtocolViolation',
  62914562: 'TransferFailed',
  62914563: 'HostTimeout',
  62914564: 'LineSettingsMismatch',
  62914565: 'FileUnavailable',
  62914566: 'ImageSetIncomplete',
};

/** A RecoveryError code as the catalog names it (`RecoveryError::BadSignature`), with its message. */
export function explainRecoveryError(code: number): { name: string; message: string } {
  const legacy = PRE_CATALOG_CODES[code];
  if (legacy) return { name: `sphere-rig::${legacy}`, message: 'a code of sphere-rig emulators before they used the catalog' };
  const { name, message } = describeDeviceError(code);
  return { name, message };
}

/** The name of a recovery error code: `RecoveryError::BadSignature`, or the catalog's generic name. */
export function recoveryErrorName(code: number): string {
  return explainRecoveryError(code).name;
}
