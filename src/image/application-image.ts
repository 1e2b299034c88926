import { buildAsxipfs, readAsxipfs } from './asxipfs.js';
import { type AppManifest, parseAppManifest, validateManifestAgainstFiles } from './app-manifest.js';
import { FormatError } from './format-error.js';
import { buildSignedImage } from './image-builder.js';
import type { ImageSigner } from './image-signing.js';
import { ImageType } from './image-types.js';
import { parseImagePackage, readImageFacts } from './image-package.js';
import type { AbiEntry } from './metadata-sections.js';

/** ApplicationRuntime ABI version the SDK's apps depend on (the real fixture says 5). */
export const APPLICATION_RUNTIME_ABI: AbiEntry = { version: 5, identityType: 3 };
const MANIFEST_PATH = 'app_manifest.json';

export interface ApplicationPackSpec {
  /** Files of the app, paths relative to the image root; app_manifest.json is added from `manifest`. */
  files: Array<{ path: string; data: Buffer; mode?: number }>;
  /** The manifest's JSON text, exactly as it will be stored. */
  manifestJson: Buffer;
  securityVersion?: number;
  /** Defaults to 10 (Applications). */
  imageType?: number;
  /** Marks the image "under development" (TP = 2), as sideloaded dev apps are. */
  development?: boolean;
  buildDate?: Date;
  imageId?: string;
}

/**
 * Packs an application image the way the SDK does: an ASXipFS body with the
 * manifest at its root, ID/SG/DB/TP/ND sections, signed. The manifest is checked
 * first, with the device's own error codes, so a bad app never gets signed.
 */
export function packApplication(spec: ApplicationPackSpec, signer: ImageSigner): { bytes: Buffer; manifest: AppManifest } {
  const manifest = parseAppManifest(spec.manifestJson);
  const files = spec.files.filter((f) => f.path.replace(/^\/+/, '') !== MANIFEST_PATH);
  files.push({ path: MANIFEST_PATH, data: spec.manifestJson, mode: 0o100644 });
  const body = buildAsxipfs(files);
  validateManifestAgainstFiles(manifest, readAsxipfs(body).entries);
  const bytes = buildSignedImage(
    body,
    {
      imageType: spec.imageType ?? ImageType.Applications,
      componentId: manifest.ComponentId,
      name: manifest.Name,
      temporaryImage: spec.development ? 2 : undefined,
      abiDepends: [APPLICATION_RUNTIME_ABI],
      securityVersion: spec.securityVersion,
      buildDate: spec.buildDate,
      imageId: spec.imageId,
    },
    signer,
  );
  return { bytes, manifest };
}

export interface ApplicationContents {
  manifest: AppManifest;
  readFile(path: string): Buffer;
  paths: string[];
}

/**
 * What a device checks before it accepts an app image: an ASXipFS body, a manifest
 * that parses, a ComponentId equal to the ID section's. Errors carry device codes.
 */
export function openApplication(bytes: Buffer): ApplicationContents {
  const pkg = parseImagePackage(bytes);
  const identity = readImageFacts(pkg).identity;
  const fs = readAsxipfs(pkg.body);
  if (!fs.entries.some((e) => e.path === MANIFEST_PATH && e.type === 'file')) {
    throw new FormatError('manifest-missing', 'application image has no app_manifest.json', { deviceErrorCode: 2097177 });
  }
  const manifest = parseAppManifest(fs.readFile(MANIFEST_PATH));
  validateManifestAgainstFiles(manifest, fs.entries);
  if (identity && identity.componentId !== manifest.ComponentId.toLowerCase()) {
    throw new FormatError(
      'component-id-mismatch',
      `manifest ComponentId ${manifest.ComponentId} differs from the image's ID section ${identity.componentId}`,
      { jsonPath: '$.ComponentId', deviceErrorCode: 7340079 },
    );
  }
  return { manifest, readFile: (p) => fs.readFile(p), paths: fs.entries.map((e) => e.path) };
}
