import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildSignedImage, type ImageSpec } from '../image/image-builder.js';
import { parseImagePackage, readImageFacts } from '../image/image-package.js';
import type { ImageSigner } from '../image/image-signing.js';
import { ImageType } from '../image/image-types.js';
import { buildRecoveryManifest, PartitionType, type RecoveryManifest, type RecoveryManifestEntry } from '../image/recovery-manifest.js';
import {
  RECOVERY_1BL_COMPONENT_ID,
  RECOVERY_1BL_FILE,
  RECOVERY_1BL_IMAGE_TYPE,
  RECOVERY_1BL_SIZE,
  RECOVERY_MANIFEST_COMPONENT_ID,
  RECOVERY_MANIFEST_FILE,
  RECOVERY_MANIFEST_IMAGE_TYPE,
  RECOVERY_RUNTIME_COMPONENT_ID,
  RECOVERY_RUNTIME_FILE,
  RECOVERY_RUNTIME_IMAGE_TYPE,
  recoveryImageFileName,
} from '../image/recovery-set-layout.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { buildOsImageSet, type OsImage, type OsImageSetSpec } from './os-image-set.js';
import { buildStamp, derivedImageId, fillerBody } from './synthetic-image-content.js';

/**
 * A recovery image set for emulated boards: the recovery 1BL, the recovery agent
 * (recovery-runtime.bin), the recovery manifest and one file per image of an
 * emulator OS image set, all signed with the OS key (the key the chip's ROM
 * trusts). What `sphere-rig recovery build` writes and the recovery ROM accepts.
 */

/** recovery-runtime.bin on real sets is about 60 KB; ours is exactly 60 KiB. */
export const RECOVERY_RUNTIME_SIZE = 60 * 1024;

export interface RecoveryFile {
  name: string;
  bytes: Buffer;
}

export interface RecoveryImageSet {
  osVersion: string;
  /** 1BL, runtime, manifest, then the images in manifest order. */
  files: RecoveryFile[];
  osImages: OsImage[];
  manifest: RecoveryManifest;
}

/** Where each image type lives in flash (the manifest's partition type). */
function partitionTypeFor(imageType: number): number {
  if (imageType === ImageType.OneBL) return PartitionType.BootloaderOne;
  if (imageType === ImageType.BootManifest) return PartitionType.BootManifest;
  return PartitionType.Firmware;
}

/** A signed image of exactly `size` bytes: the body takes whatever the metadata and signature leave. */
function imageOfSize(size: number, seed: string, spec: ImageSpec, signer: ImageSigner): Buffer {
  const overhead = buildSignedImage(Buffer.alloc(0), spec, signer).length;
  return buildSignedImage(fillerBody(seed, Math.max(0, size - overhead)), spec, signer);
}

export function buildRecoveryImageSet(spec: OsImageSetSpec, signer: ImageSigner): RecoveryImageSet {
  const buildDate = spec.buildDate ?? new Date();
  const osImages = buildOsImageSet({ ...spec, buildDate }, signer);
  const stamp = buildStamp(spec.osVersion, spec.securityVersion, buildDate);
  const common = { buildDate, securityVersion: spec.securityVersion };
  const oneBl = imageOfSize(
    RECOVERY_1BL_SIZE,
    `recovery-1bl/${spec.osVersion}`,
    { ...common, imageType: RECOVERY_1BL_IMAGE_TYPE, componentId: RECOVERY_1BL_COMPONENT_ID, imageId: derivedImageId(`${stamp}/recovery-1bl`), name: 'recovery-1bl-rtm' },
    signer,
  );
  const runtime = imageOfSize(
    RECOVERY_RUNTIME_SIZE,
    `recovery-runtime/${spec.osVersion}`,
    { ...common, imageType: RECOVERY_RUNTIME_IMAGE_TYPE, componentId: RECOVERY_RUNTIME_COMPONENT_ID, imageId: derivedImageId(`${stamp}/recovery-runtime`), name: 'recovery-runtime' },
    signer,
  );
  const entries: RecoveryManifestEntry[] = osImages.map((image) => {
    const facts = readImageFacts(parseImagePackage(image.bytes));
    return {
      imageId: image.imageId,
      componentId: image.componentId,
      imageType: image.imageType,
      partitionType: partitionTypeFor(image.imageType),
      fileSize: image.bytes.length,
      uncompressedSize: image.bytes.length,
      provides: facts.abiProvides.slice(0, 2),
      dependsOn: facts.abiDepends.slice(0, 2),
    };
  });
  const manifest: RecoveryManifest = { version: 3, buildDate, entries };
  const manifestImage = buildSignedImage(
    buildRecoveryManifest({ buildDate, entries }),
    { ...common, imageType: RECOVERY_MANIFEST_IMAGE_TYPE, componentId: RECOVERY_MANIFEST_COMPONENT_ID, imageId: derivedImageId(`${stamp}/recovery-manifest`), name: 'recovery manifest' },
    signer,
  );
  return {
    osVersion: spec.osVersion,
    files: [
      { name: RECOVERY_1BL_FILE, bytes: oneBl },
      { name: RECOVERY_RUNTIME_FILE, bytes: runtime },
      { name: RECOVERY_MANIFEST_FILE, bytes: manifestImage },
      ...osImages.map((image) => ({ name: recoveryImageFileName(image.imageId), bytes: image.bytes })),
    ],
    osImages,
    manifest,
  };
}

/** Writes every file of the set into `dir` (created if missing), each one whole or not at all. */
export function saveRecoveryImageSet(dir: string, set: RecoveryImageSet): string[] {
  mkdirSync(dir, { recursive: true });
  return set.files.map((file) => {
    const path = join(dir, file.name);
    writeFileAtomic(path, file.bytes);
    return path;
  });
}
