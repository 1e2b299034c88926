import { readAsxipfs } from './asxipfs.js';
import { parseAppManifest, type AppManifest } from './app-manifest.js';
import { FormatError } from './format-error.js';
import { parseImagePackage, readImageFacts } from './image-package.js';
import { type TrustAnchors, verifyImagePackage } from './image-signing.js';
import { ImageType, imageTypeName, ABI_IDENTITY_NAMES, TEMPORARY_IMAGE_NAMES } from './image-types.js';
import type { AbiEntry } from './metadata-sections.js';

/**
 * Everything `sphere-rig image inspect` reports about a package, as one plain
 * JSON-ready object. Field names are a public contract (README, CI scripts).
 */
export interface ImageReport {
  imageType: number | null;
  imageTypeName: string | null;
  componentId: string | null;
  imageId: string | null;
  name: string | null;
  buildDate: string | null;
  temporaryImage: number | null;
  temporaryImageName: string | null;
  securityVersion: number | null;
  abiDepends: Array<AbiEntry & { identityName: string }>;
  abiProvides: Array<AbiEntry & { identityName: string }>;
  sections: Array<{ id: string; offset: number; length: number }>;
  metadataLength: number;
  bodyLength: number;
  length: number;
  signature: {
    thumbprint: string | null;
    type: number | null;
    /** null when no trusted certificate was given to check against. */
    verified: boolean | null;
    reason: string | null;
    signer: string | null;
  };
  manifest?: AppManifest;
  files?: Array<{ path: string; type: string; size: number; mode: string }>;
  /** Problems found in the body (an app image whose file system or manifest is bad). */
  bodyErrors?: Array<{ code: string; message: string }>;
}

export function inspectImage(bytes: Buffer, trust?: TrustAnchors): ImageReport {
  const pkg = parseImagePackage(bytes);
  const facts = readImageFacts(pkg);
  const abi = (list: AbiEntry[]) => list.map((e) => ({ ...e, identityName: ABI_IDENTITY_NAMES[e.identityType] ?? `Unknown(${e.identityType})` }));
  const verification = trust ? verifyImagePackage(pkg, trust) : undefined;
  const buildDate = facts.debug?.buildDate;
  const report: ImageReport = {
    imageType: facts.identity?.imageType ?? null,
    imageTypeName: facts.identity ? imageTypeName(facts.identity.imageType) : null,
    componentId: facts.identity?.componentId ?? null,
    imageId: facts.identity?.imageId ?? null,
    name: facts.debug?.name ?? null,
    buildDate: buildDate && Number.isFinite(buildDate.getTime()) ? buildDate.toISOString().replace('.000Z', 'Z') : null,
    temporaryImage: facts.temporaryImage ?? null,
    temporaryImageName: facts.temporaryImage === undefined ? null : (TEMPORARY_IMAGE_NAMES[facts.temporaryImage] ?? 'Unknown'),
    securityVersion: facts.securityVersion ?? null,
    abiDepends: abi(facts.abiDepends),
    abiProvides: abi(facts.abiProvides),
    sections: pkg.sections.map((s) => ({ id: s.id, offset: s.offset, length: s.data.length })),
    metadataLength: pkg.metadataLength,
    bodyLength: pkg.body.length,
    length: pkg.length,
    signature: {
      thumbprint: facts.signatureInfo?.thumbprint.toString('hex') ?? null,
      type: facts.signatureInfo?.signingType ?? null,
      verified: verification ? verification.verified : null,
      reason: verification ? verification.reason : null,
      signer: verification?.signer ?? null,
    },
  };
  if (facts.identity?.imageType === ImageType.Applications) {
    const errors: Array<{ code: string; message: string }> = [];
    try {
      const fs = readAsxipfs(pkg.body);
      report.files = fs.entries.map((e) => ({ path: e.path, type: e.type, size: e.size, mode: `0${e.mode.toString(8)}` }));
      try {
        report.manifest = parseAppManifest(fs.readFile('app_manifest.json'));
      } catch (error) {
        errors.push(describe(error));
      }
    } catch (error) {
      errors.push(describe(error));
    }
    if (errors.length) report.bodyErrors = errors;
  }
  return report;
}

function describe(error: unknown): { code: string; message: string } {
  if (error instanceof FormatError) return { code: error.code, message: error.message };
  return { code: 'unexpected', message: error instanceof Error ? error.message : String(error) };
}
