import { FormatError } from './format-error.js';
import { parseImagePackage, readImageFacts } from './image-package.js';
import { ImageType } from './image-types.js';

/**
 * The BootManifest image's body: which images make up an OS image set, and the
 * set's OS version. The real encoding is not public; this project's is UTF-8
 * JSON `{"osVersion": "...", "images": [{imageType, componentId, imageId}]}`,
 * which the emulator's OS sets carry (emulator/os-image-set.ts) and its secure
 * boot reads. A format, so it lives here: the rig reads it too.
 */
export interface BootManifestEntry {
  imageType: number;
  componentId: string;
  imageId: string;
}

export interface BootManifestBody {
  osVersion: string;
  images: BootManifestEntry[];
}

export function parseBootManifestBody(body: Buffer): BootManifestBody {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new FormatError('boot-manifest-invalid', 'boot manifest body is not JSON');
  }
  const v = value as Partial<BootManifestBody>;
  if (typeof v?.osVersion !== 'string' || !Array.isArray(v.images)) {
    throw new FormatError('boot-manifest-invalid', 'boot manifest body needs osVersion (string) and images (array)');
  }
  return { osVersion: v.osVersion, images: v.images.map((entry: unknown, i) => checkEntry(entry, `$.images[${i}]`)) };
}

/** One entry as secure boot uses it (imageType and imageId matched against each image, componentId kept). */
function checkEntry(entry: unknown, path: string): BootManifestEntry {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new FormatError('boot-manifest-invalid', `boot manifest entry ${path.slice(2)} is not an object`, { jsonPath: path });
  }
  const e = entry as Record<string, unknown>;
  if (!Number.isInteger(e.imageType)) {
    throw new FormatError('boot-manifest-invalid', `boot manifest entry ${path.slice(2)} needs imageType (an integer)`, { jsonPath: `${path}.imageType` });
  }
  for (const field of ['componentId', 'imageId'] as const) {
    if (typeof e[field] !== 'string') {
      throw new FormatError('boot-manifest-invalid', `boot manifest entry ${path.slice(2)} needs ${field} (a string)`, { jsonPath: `${path}.${field}` });
    }
  }
  return { imageType: e.imageType as number, componentId: e.componentId as string, imageId: e.imageId as string };
}

/** The OS version an image set carries in its BootManifest, or undefined without one. Each package is parsed once. */
export function osVersionOfSet(images: readonly Buffer[]): string | undefined {
  for (const bytes of images) {
    const pkg = parseImagePackage(bytes);
    if (readImageFacts(pkg).identity?.imageType === ImageType.BootManifest) return parseBootManifestBody(pkg.body).osVersion;
  }
  return undefined;
}
