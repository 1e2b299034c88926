import { FormatError } from '../image/format-error.js';
import { buildSignedImage } from '../image/image-builder.js';
import { parseImagePackage, readImageFacts } from '../image/image-package.js';
import type { ImageSigner } from '../image/image-signing.js';
import { ImageType, imageTypeName } from '../image/image-types.js';
import type { BootManifestBody } from '../image/boot-manifest.js';
import { buildStamp, derivedImageId, fillerBody } from './synthetic-image-content.js';

/**
 * The emulator's OS image set: one signed image per boot-critical type, in boot
 * order, plus the TrustedKeystore (the certificates the chip trusts, as a PEM
 * bundle) and the BootManifest naming every image of the set and the OS version.
 *
 * The BootManifest body is this project's own documented encoding (the real one
 * is not public): UTF-8 JSON `{"osVersion": "...", "images": [{imageType,
 * componentId, imageId}]}`.
 */

/** Boot order of the boot-critical images; each stage verifies the next. */
export const BOOT_ORDER = [
  ImageType.OneBL,
  ImageType.BootManifest,
  ImageType.TrustedKeystore,
  ImageType.PlutonRuntime,
  ImageType.SecurityMonitor,
  ImageType.NormalWorldLoader,
  ImageType.NormalWorldDTB,
  ImageType.NormalWorldKernel,
  ImageType.RootFs,
  ImageType.Services,
] as const;

/** Fixed component IDs of the emulator's system components (chosen by this project). */
export const SYSTEM_COMPONENT_IDS: Readonly<Record<number, string>> = Object.freeze({
  [ImageType.OneBL]: '5e8c0c1e-0001-4a61-9d4b-000000000001',
  [ImageType.PlutonRuntime]: '5e8c0c1e-0002-4a61-9d4b-000000000002',
  [ImageType.SecurityMonitor]: '5e8c0c1e-0004-4a61-9d4b-000000000004',
  [ImageType.NormalWorldLoader]: '5e8c0c1e-0005-4a61-9d4b-000000000005',
  [ImageType.NormalWorldDTB]: '5e8c0c1e-0006-4a61-9d4b-000000000006',
  [ImageType.NormalWorldKernel]: '5e8c0c1e-0007-4a61-9d4b-000000000007',
  [ImageType.RootFs]: '5e8c0c1e-0008-4a61-9d4b-000000000008',
  [ImageType.Services]: '5e8c0c1e-0009-4a61-9d4b-000000000009',
  [ImageType.BootManifest]: '5e8c0c1e-0010-4a61-9d4b-000000000010',
  [ImageType.TrustedKeystore]: '5e8c0c1e-0013-4a61-9d4b-000000000013',
});

/** Default body sizes: small, so a full update is a few dozen flash operations. */
const DEFAULT_BODY_BYTES: Readonly<Record<number, number>> = Object.freeze({
  [ImageType.OneBL]: 4096,
  [ImageType.PlutonRuntime]: 4096,
  [ImageType.SecurityMonitor]: 4096,
  [ImageType.NormalWorldLoader]: 2048,
  [ImageType.NormalWorldDTB]: 1024,
  [ImageType.NormalWorldKernel]: 12288,
  [ImageType.RootFs]: 16384,
  [ImageType.Services]: 8192,
});

export interface OsImageSetSpec {
  osVersion: string;
  /** RV of every image; anti-rollback counters follow it. */
  securityVersion: number;
  /** PEM bundle of the certificates the OS trusts. */
  keystorePem: string;
  /** Scale every body by this factor (the recovery benchmark wants megabytes). */
  bodyScale?: number;
  buildDate?: Date;
}

export interface OsImage {
  imageType: number;
  componentId: string;
  imageId: string;
  bytes: Buffer;
}

export function buildOsImageSet(spec: OsImageSetSpec, signer: ImageSigner): OsImage[] {
  const scale = spec.bodyScale ?? 1;
  const buildDate = spec.buildDate ?? new Date();
  const stamp = buildStamp(spec.osVersion, spec.securityVersion, buildDate);
  const make = (imageType: number, body: Buffer): OsImage => {
    const componentId = SYSTEM_COMPONENT_IDS[imageType]!;
    const imageId = derivedImageId(`${stamp}/${imageType}`);
    const bytes = buildSignedImage(
      body,
      { imageType, componentId, imageId, name: imageTypeName(imageType), buildDate, securityVersion: spec.securityVersion },
      signer,
    );
    return { imageType, componentId, imageId, bytes };
  };
  const code = BOOT_ORDER.filter((t) => t !== ImageType.BootManifest && t !== ImageType.TrustedKeystore).map((t) =>
    make(t, fillerBody(`${imageTypeName(t)}:${spec.osVersion}`, Math.max(64, Math.round((DEFAULT_BODY_BYTES[t] ?? 4096) * scale)))),
  );
  const keystore = make(ImageType.TrustedKeystore, Buffer.from(spec.keystorePem, 'utf8'));
  const manifestBody: BootManifestBody = {
    osVersion: spec.osVersion,
    images: [...code, keystore].map(({ imageType, componentId, imageId }) => ({ imageType, componentId, imageId })),
  };
  const manifest = make(ImageType.BootManifest, Buffer.from(JSON.stringify(manifestBody), 'utf8'));
  const byType = new Map([...code, keystore, manifest].map((i) => [i.imageType, i]));
  return BOOT_ORDER.map((t) => byType.get(t)!);
}

/** Describe raw image bytes for the set (type, component, image ID), for sets read back from flash. */
export function describeOsImage(bytes: Buffer): OsImage {
  const identity = readImageFacts(parseImagePackage(bytes)).identity;
  if (!identity) throw new FormatError('identity-missing', 'OS image has no ID section');
  return { imageType: identity.imageType, componentId: identity.componentId, imageId: identity.imageId, bytes };
}
