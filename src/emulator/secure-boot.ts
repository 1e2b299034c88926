import { FormatError } from '../image/format-error.js';
import { parseImagePackage, readImageFacts } from '../image/image-package.js';
import { type TrustAnchors, verifyImagePackage } from '../image/image-signing.js';
import { ImageType, imageTypeName } from '../image/image-types.js';
import { parseBootManifestBody, type BootManifestBody } from '../image/boot-manifest.js';
import { BOOT_ORDER } from '../firmware/os-image-set.js';
import { belowFuseCounter } from './anti-rollback.js';

/**
 * The secure boot chain as a pure function: given the images of one slot, the
 * ROM's e-fused trust and the anti-rollback fuses, decide what each stage prints
 * and whether the set boots. Every stage checks the next image's signature, type
 * and security version before "running" it, and the boot manifest must name
 * exactly the images present, so a mixed set never boots.
 */

/** Which stage verifies which image, and the console prefix it prints with. */
const VERIFIER: Readonly<Record<number, string>> = Object.freeze({
  [ImageType.OneBL]: 'ROM',
  [ImageType.BootManifest]: '1BL',
  [ImageType.TrustedKeystore]: '1BL',
  [ImageType.PlutonRuntime]: '1BL',
  [ImageType.SecurityMonitor]: 'PLUTON',
  [ImageType.NormalWorldLoader]: 'SM',
  [ImageType.NormalWorldDTB]: 'NWL',
  [ImageType.NormalWorldKernel]: 'NWL',
  [ImageType.RootFs]: 'KERNEL',
  [ImageType.Services]: 'OS',
});

/** Lines a stage prints once it runs (after its image verified). */
const STARTED: Readonly<Record<number, string[]>> = Object.freeze({
  [ImageType.OneBL]: ['[1BL] BOOT: 380a0300/00000001/02000000'],
  [ImageType.PlutonRuntime]: ['[PLUTON] runtime ok'],
  [ImageType.SecurityMonitor]: ['[SM] secure world up'],
  [ImageType.NormalWorldKernel]: ['[KERNEL] Linux booting'],
});

export interface VerifiedImage {
  imageType: number;
  componentId: string;
  imageId: string;
  securityVersion: number;
  bytes: Buffer;
}

export interface BootFailure {
  stage: string;
  imageType: number | null;
  imageId: string | null;
  reason: string;
  /** The image's security version is below its fuse counter (anti-rollback), not malformed or untrusted. */
  rollback: boolean;
}

export type SecureBootResult =
  | { ok: true; lines: string[]; osVersion: string; images: VerifiedImage[]; keystorePem: string; manifest: BootManifestBody }
  | { ok: false; lines: string[]; failure: BootFailure };

export interface SecureBootInput {
  images: readonly Buffer[];
  /** The e-fused trust of the ROM: the OS signing certificate(s). */
  romTrust: TrustAnchors;
  /** Makes the keystore image's PEM bundle usable as trust for later stages. */
  trustFromPem: (pem: string) => TrustAnchors;
  /** Anti-rollback counters per component ID. */
  fuses: Readonly<Record<string, number>>;
}

export function runSecureBoot(input: SecureBootInput): SecureBootResult {
  const lines: string[] = [];
  const fail = (stage: string, imageType: number | null, imageId: string | null, reason: string, rollback = false): SecureBootResult => {
    lines.push(`[${stage}] verification failed: ${imageType === null ? 'image' : imageTypeName(imageType)} ${imageId ?? '?'}: ${reason}`);
    return { ok: false, lines, failure: { stage, imageType, imageId, reason, rollback } };
  };
  if (input.images.length !== BOOT_ORDER.length) {
    return fail('ROM', null, null, `slot holds ${input.images.length} images, a set has ${BOOT_ORDER.length}`);
  }
  let trust = input.romTrust;
  let manifest: BootManifestBody | undefined;
  let keystorePem = '';
  const verified: VerifiedImage[] = [];
  for (let index = 0; index < BOOT_ORDER.length; index++) {
    const expectedType = BOOT_ORDER[index]!;
    const stage = VERIFIER[expectedType]!;
    let pkg;
    let facts;
    try {
      pkg = parseImagePackage(input.images[index]!);
      facts = readImageFacts(pkg);
    } catch (error) {
      return fail(stage, expectedType, null, `malformed image (${error instanceof FormatError ? error.code : 'unreadable'})`);
    }
    const identity = facts.identity;
    if (!identity) return fail(stage, expectedType, null, 'no identity section');
    if (identity.imageType !== expectedType) {
      return fail(stage, expectedType, identity.imageId, `wrong image type ${identity.imageType} (${imageTypeName(identity.imageType)})`);
    }
    const check = verifyImagePackage(pkg, trust);
    if (!check.verified) return fail(stage, expectedType, identity.imageId, check.reason);
    const rolledBack = belowFuseCounter(identity.componentId, facts.securityVersion, input.fuses);
    if (rolledBack) return fail(stage, expectedType, identity.imageId, rolledBack, true);
    if (manifest && !manifest.images.some((e) => e.imageId === identity.imageId && e.imageType === identity.imageType)) {
      return fail(stage, expectedType, identity.imageId, 'image is not in the boot manifest (mixed image set)');
    }
    lines.push(`[${stage}] verified ${imageTypeName(expectedType)} ${identity.imageId}`);
    verified.push({ ...identity, securityVersion: facts.securityVersion ?? 0, bytes: input.images[index]! });
    if (expectedType === ImageType.BootManifest) {
      try {
        manifest = parseBootManifestBody(pkg.body);
      } catch {
        return fail(stage, expectedType, identity.imageId, 'boot manifest body unreadable');
      }
      // The manifest must name every other image of the set, and only those.
      const present = input.images.length - 1;
      if (manifest.images.length !== present) {
        return fail(stage, expectedType, identity.imageId, `boot manifest names ${manifest.images.length} images, slot has ${present}`);
      }
      lines.push(`[1BL] image set for OS ${manifest.osVersion}`);
    }
    if (expectedType === ImageType.TrustedKeystore) {
      keystorePem = pkg.body.toString('utf8');
      try {
        trust = input.trustFromPem(keystorePem);
      } catch {
        return fail(stage, expectedType, identity.imageId, 'trusted keystore unreadable');
      }
    }
    lines.push(...(STARTED[expectedType] ?? []));
  }
  // OneBL is verified before the manifest: check it against the manifest now.
  const oneBl = verified[0]!;
  if (!manifest!.images.some((e) => e.imageId === oneBl.imageId)) {
    return fail('1BL', ImageType.OneBL, oneBl.imageId, 'image is not in the boot manifest (mixed image set)');
  }
  lines.push(`[OS] Azure Sphere OS ${manifest!.osVersion}`);
  return { ok: true, lines, osVersion: manifest!.osVersion, images: verified, keystorePem, manifest: manifest! };
}
