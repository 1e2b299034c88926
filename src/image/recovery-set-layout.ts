import { FormatError } from './format-error.js';
import { isGuid } from './guid.js';
import { ImageType } from './image-types.js';

/**
 * The files of a recovery image set (recovery-protocol.md) and the facts about
 * them that the host, the device and the set builder must agree on.
 *
 * Project choices (none is published):
 * - recovery-runtime.bin (the recovery agent) is image type 2, PlutonRuntime: the
 *   recovery 1BL ("1bl-rtm": first-stage loader and runtime manager) loads it as the
 *   runtime it runs next, as a normal 1BL loads the Pluton runtime. Because an OS
 *   set holds a PlutonRuntime image too, the device also requires the runtime's
 *   own component ID, so an OS image can never stand in for the recovery agent.
 * - The recovery 1BL carries its own component ID, distinct from the OS's OneBL,
 *   so its anti-rollback fuse is counted separately.
 * - `<imageId as 32 hex digits>.bin` is the image ID's canonical text form
 *   without the hyphens, lower case (the device asks for that exact name; hosts
 *   may match it case-insensitively).
 */
export const RECOVERY_1BL_FILE = 'recovery-1bl-rtm.bin';
export const RECOVERY_RUNTIME_FILE = 'recovery-runtime.bin';
export const RECOVERY_MANIFEST_FILE = 'recovery.imagemanifest';

/** Size of the recovery 1BL on real sets: a whole number of XMODEM blocks (128 of them). */
export const RECOVERY_1BL_SIZE = 16_384;
export const RECOVERY_1BL_IMAGE_TYPE = ImageType.OneBL;
export const RECOVERY_RUNTIME_IMAGE_TYPE = ImageType.PlutonRuntime;
export const RECOVERY_MANIFEST_IMAGE_TYPE = ImageType.RecoveryManifest;

export const RECOVERY_1BL_COMPONENT_ID = '5e8c0c1e-0101-4a61-9d4b-000000000101';
export const RECOVERY_RUNTIME_COMPONENT_ID = '5e8c0c1e-0102-4a61-9d4b-000000000102';
export const RECOVERY_MANIFEST_COMPONENT_ID = '5e8c0c1e-0103-4a61-9d4b-000000000103';

const IMAGE_FILE_PATTERN = /^([0-9a-f]{32})\.bin$/i;

/** `<imageId as 32 hex digits>.bin` for one image of the manifest. */
export function recoveryImageFileName(imageId: string): string {
  if (!isGuid(imageId)) throw new FormatError('guid-invalid', `image ID ${JSON.stringify(imageId)} is not a GUID`);
  return `${imageId.replace(/-/g, '').toLowerCase()}.bin`;
}

/** The image ID a `<32 hex>.bin` file name stands for, or undefined for any other name. */
export function imageIdFromRecoveryFileName(name: string): string | undefined {
  const hex = IMAGE_FILE_PATTERN.exec(name)?.[1]?.toLowerCase();
  if (!hex) return undefined;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
