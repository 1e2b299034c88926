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
  return { osVersion: v.osVersion, images: v.images as BootManifestEntry[] };
}

/** The OS version an image set carries in its BootManifest, or undefined without one. Each package is parsed once. */
export function osVersionOfSet(images: readonly Buffer[]): string | undefined {
  for (const bytes of images) {
    const pkg = parseImagePackage(bytes);
    if (readImageFacts(pkg).identity?.imageType === ImageType.BootManifest) return parseBootManifestBody(pkg.body).osVersion;
  }
  return undefined;
}
