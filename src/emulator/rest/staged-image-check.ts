import { FormatError } from '../../image/format-error.js';
import { parseImagePackage, readImageFacts } from '../../image/image-package.js';
import { verifyImagePackage } from '../../image/image-signing.js';
import { ImageType, imageTypeName } from '../../image/image-types.js';
import { DeviceErrorCode } from '../../util/device-error-codes.js';
import { capabilitiesGranted, checkApplicationImage } from '../app-trust.js';
import type { BootRecord } from '../board-storage.js';
import { DeviceRefusal } from '../device-error.js';
import type { EmulatedBoard } from '../emulated-board.js';
import { KeystoreRole } from '../../firmware/keystore-image.js';
import { BOOT_ORDER } from '../../firmware/os-image-set.js';
import { RestErrorCode } from './rest-error-codes.js';
import { belowFuseCounter } from '../anti-rollback.js';

/**
 * What a device checks when an image is staged, before anything is written:
 * the package parses (7340050), its signer is trusted for its kind of image
 * (7340047; a development-signed app also needs AppDevelopment), an app's
 * manifest and component ID are valid (2097xxx, 7340079), its security version
 * is not below the fuse (7340056), and it fits in the flash left (14680082).
 * The same checks run again at install (the board's own), so a package that
 * passes here is one the board accepts unless the device changed in between.
 */
export type StagedKind = 'app' | 'capability' | 'os';

export interface StagedImage {
  kind: StagedKind;
  imageType: number;
  componentId: string;
  imageId: string;
  name: string;
  bytes: Buffer;
}

export interface StagingContext {
  /** Capabilities installed plus those the staging request brought. */
  capabilities: readonly number[];
  /** Images staged already (a new image of the same component replaces its entry). */
  staged: readonly StagedImage[];
}

const BOOT_CRITICAL: ReadonlySet<number> = new Set(BOOT_ORDER);

export function checkStagedImage(board: EmulatedBoard, bytes: Buffer, context: StagingContext): StagedImage {
  const keystore = board.keystore;
  if (!keystore) throw new DeviceRefusal(RestErrorCode.DeviceBusy, 409, 'the OS is not running');
  let facts;
  let pkg;
  try {
    pkg = parseImagePackage(bytes);
    facts = readImageFacts(pkg);
  } catch (error) {
    throw new DeviceRefusal(DeviceErrorCode.ImageInvalid, 400, error instanceof FormatError ? error.message : 'unreadable image package');
  }
  const identity = facts.identity;
  if (!identity) throw new DeviceRefusal(DeviceErrorCode.ImageInvalid, 400, 'the image has no identity (ID) section');
  const name = facts.debug?.name || imageTypeName(identity.imageType);
  const base = { imageType: identity.imageType, componentId: identity.componentId, imageId: identity.imageId, name, bytes };

  if (identity.imageType === ImageType.Applications) {
    const app = checkApplicationImage(bytes, keystore, context.capabilities, board.chip.fuses);
    checkAppSpace(board, app.componentId, bytes.length, context.staged);
    return { ...base, kind: 'app', name: app.manifest.Name };
  }
  if (identity.imageType === ImageType.FirmwareConfig) {
    capabilitiesGranted(bytes, keystore, board.deviceId);
    return { ...base, kind: 'capability' };
  }
  if (BOOT_CRITICAL.has(identity.imageType)) {
    const check = verifyImagePackage(pkg, keystore);
    const role = check.thumbprint ? keystore.findByThumbprint(check.thumbprint)?.role : undefined;
    if (!check.verified || role !== KeystoreRole.Os) {
      throw new DeviceRefusal(DeviceErrorCode.ImageNotTrusted, 403, `${imageTypeName(identity.imageType)}: signature ${check.reason}, signer role ${role ?? 'untrusted'}`);
    }
    const rolledBack = belowFuseCounter(identity.componentId, facts.securityVersion, board.chip.fuses);
    if (rolledBack) throw new DeviceRefusal(DeviceErrorCode.InstallationFailed, 409, `${imageTypeName(identity.imageType)}: ${rolledBack}`);
    const others = context.staged.filter((s) => s.kind === 'os' && s.componentId !== identity.componentId);
    const total = others.reduce((sum, s) => sum + s.bytes.length, 0) + bytes.length;
    // The image-set container adds a small header per image (see image-set-container.ts).
    if (total + 8 + (others.length + 1) * 4 > board.storage.osSlotCapacity()) {
      throw new DeviceRefusal(DeviceErrorCode.InsufficientSpace, 400, `staged OS images total ${total} bytes; an OS slot holds ${board.storage.osSlotCapacity()}`);
    }
    return { ...base, kind: 'os' };
  }
  throw new DeviceRefusal(DeviceErrorCode.ImageInvalid, 400, `image type ${identity.imageType} (${imageTypeName(identity.imageType)}) cannot be sideloaded`);
}

/** The board keeps one application slot per app, plus the previous image while a new one is on trial. */
function checkAppSpace(board: EmulatedBoard, componentId: string, length: number, staged: readonly StagedImage[]): void {
  const capacity = board.storage.appSlotCapacity();
  if (length > capacity) {
    throw new DeviceRefusal(DeviceErrorCode.InsufficientSpace, 400, `image is ${length} bytes; an application slot holds ${capacity}`);
  }
  const record = board.storage.readRecord();
  if (!record) throw new DeviceRefusal(DeviceErrorCode.InstallationFailed, 500, 'boot control record unreadable');
  const base: BootRecord = structuredClone(record);
  const existing = base.apps[componentId];
  if (existing?.trial && existing.previousSlot !== null) base.apps[componentId] = { ...existing, slot: existing.previousSlot, previousSlot: null, trial: false };
  // Other apps staged beside this one will each take a slot too.
  let placeholder = 0;
  for (const other of staged) {
    if (other.kind !== 'app' || other.componentId === componentId) continue;
    const slot = board.storage.freeAppSlot(base);
    if (slot === undefined) break;
    base.apps[`staged-${placeholder++}`] = { slot, previousSlot: null, trial: false, trialFailed: false };
  }
  if (board.storage.freeAppSlot(base) === undefined) {
    throw new DeviceRefusal(DeviceErrorCode.InsufficientSpace, 400, 'every application slot is in use');
  }
}
