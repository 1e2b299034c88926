import { FormatError } from './format-error.js';
import { parseImagePackage, readImageFacts, type ImagePackage } from './image-package.js';
import { type TrustAnchors, verifyImagePackage } from './image-signing.js';
import { ImageType, imageTypeName } from './image-types.js';
import { parseRecoveryManifest, type RecoveryManifestEntry } from './recovery-manifest.js';
import {
  imageIdFromRecoveryFileName,
  RECOVERY_1BL_FILE,
  RECOVERY_1BL_IMAGE_TYPE,
  RECOVERY_MANIFEST_FILE,
  RECOVERY_MANIFEST_IMAGE_TYPE,
  RECOVERY_RUNTIME_COMPONENT_ID,
  RECOVERY_RUNTIME_FILE,
  RECOVERY_RUNTIME_IMAGE_TYPE,
  recoveryImageFileName,
} from './recovery-set-layout.js';

/**
 * What `sphere-rig recovery inspect` reports about a recovery image set: every
 * file with its type, size and signer, and whether the set is consistent with its
 * manifest (each entry has its file, each file matches its entry by image ID,
 * type, component and size), the checks a device would make. Field names are a
 * public contract (--json).
 */
export type RecoverySetRole = 'recovery-1bl' | 'recovery-runtime' | 'recovery-manifest' | 'image' | 'capability' | 'other';

export interface RecoverySetFileReport {
  name: string;
  size: number;
  role: RecoverySetRole;
  imageType: number | null;
  imageTypeName: string | null;
  componentId: string | null;
  imageId: string | null;
  securityVersion: number | null;
  signer: {
    thumbprint: string | null;
    /** null when no trust was given to check against. */
    verified: boolean | null;
    subject: string | null;
    reason: string | null;
  };
  problems: string[];
}

export interface RecoverySetManifestReport {
  buildDate: string | null;
  imageCount: number;
  totalBytes: number;
  entries: Array<RecoveryManifestEntry & { imageTypeName: string; file: string; present: boolean }>;
}

export interface RecoverySetReport {
  consistent: boolean;
  files: RecoverySetFileReport[];
  manifest: RecoverySetManifestReport | null;
  /** Distinct signer thumbprints of the set's files (a capability image aside). */
  signers: string[];
  /** Problems of the set as a whole; each file's own are in its entry. */
  problems: string[];
}

export interface RecoverySetInput {
  name: string;
  bytes: Buffer;
}

export interface RecoverySetTrust {
  /** Checks the set's own files (and anything else) when given. */
  trust?: TrustAnchors;
  /** Checks a capability image found in the folder, when given; else `trust` does. */
  capabilityTrust?: TrustAnchors;
}

export function inspectRecoverySet(inputs: readonly RecoverySetInput[], options: RecoverySetTrust = {}): RecoverySetReport {
  const problems: string[] = [];
  const parsed = new Map<string, ImagePackage>();
  const files = [...inputs]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((input) => {
      const report = describeFile(input, options);
      try {
        parsed.set(input.name, parseImagePackage(input.bytes));
      } catch {
        // describeFile has reported why.
      }
      return report;
    });
  const byName = new Map(files.map((file) => [file.name.toLowerCase(), file]));

  for (const required of [RECOVERY_1BL_FILE, RECOVERY_RUNTIME_FILE, RECOVERY_MANIFEST_FILE]) {
    if (!byName.has(required)) problems.push(`${required} is missing`);
  }
  expectType(byName.get(RECOVERY_1BL_FILE), RECOVERY_1BL_IMAGE_TYPE);
  const runtime = byName.get(RECOVERY_RUNTIME_FILE);
  expectType(runtime, RECOVERY_RUNTIME_IMAGE_TYPE);
  if (runtime?.componentId && runtime.componentId !== RECOVERY_RUNTIME_COMPONENT_ID) {
    runtime.problems.push(`component ID ${runtime.componentId} is not the recovery runtime's (${RECOVERY_RUNTIME_COMPONENT_ID})`);
  }
  const manifestFile = byName.get(RECOVERY_MANIFEST_FILE);
  expectType(manifestFile, RECOVERY_MANIFEST_IMAGE_TYPE);

  let manifest: RecoverySetManifestReport | null = null;
  const manifestPackage = manifestFile ? parsed.get(manifestFile.name) : undefined;
  if (manifestFile && manifestPackage && manifestFile.imageType === RECOVERY_MANIFEST_IMAGE_TYPE) {
    try {
      const body = parseRecoveryManifest(manifestPackage.body);
      const entries = body.entries.map((entry) => {
        const file = recoveryImageFileName(entry.imageId);
        return { ...entry, imageTypeName: imageTypeName(entry.imageType), file, present: byName.has(file) };
      });
      manifest = {
        buildDate: Number.isFinite(body.buildDate.getTime()) ? body.buildDate.toISOString() : null,
        imageCount: entries.length,
        totalBytes: entries.reduce((sum, entry) => sum + entry.fileSize, 0),
        entries,
      };
      const seen = new Set<string>();
      for (const entry of entries) {
        if (seen.has(entry.imageId)) problems.push(`the manifest lists image ${entry.imageId} twice`);
        seen.add(entry.imageId);
        const file = byName.get(entry.file);
        if (!file) {
          problems.push(`${entry.file} (${entry.imageTypeName}) is in the manifest but missing`);
          continue;
        }
        file.role = 'image';
        compareWithEntry(file, entry);
      }
    } catch (error) {
      manifestFile.problems.push(`manifest body unreadable: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  for (const file of files) {
    if (file.role === 'other' && imageIdFromRecoveryFileName(file.name) && file.imageType !== ImageType.FirmwareConfig) {
      file.problems.push('an image file the manifest does not list');
    }
  }

  const signers = [...new Set(files.filter((f) => f.role !== 'capability' && f.role !== 'other').map((f) => f.signer.thumbprint ?? 'none'))];
  if (signers.length > 1) problems.push(`the set is signed by ${signers.length} different signers (${signers.join(', ')}); a device trusts one OS key`);
  const consistent = problems.length === 0 && files.every((file) => file.problems.length === 0);
  return { consistent, files, manifest, signers, problems };
}

function describeFile(input: RecoverySetInput, options: RecoverySetTrust): RecoverySetFileReport {
  const report: RecoverySetFileReport = {
    name: input.name,
    size: input.bytes.length,
    role: roleByName(input.name),
    imageType: null,
    imageTypeName: null,
    componentId: null,
    imageId: null,
    securityVersion: null,
    signer: { thumbprint: null, verified: null, subject: null, reason: null },
    problems: [],
  };
  let pkg: ImagePackage;
  try {
    pkg = parseImagePackage(input.bytes);
  } catch (error) {
    if (report.role !== 'other' || input.name.endsWith('.bin')) {
      report.problems.push(`not a signed image: ${error instanceof FormatError ? error.message : String(error)}`);
    }
    return report;
  }
  try {
    const facts = readImageFacts(pkg);
    report.imageType = facts.identity?.imageType ?? null;
    report.imageTypeName = facts.identity ? imageTypeName(facts.identity.imageType) : null;
    report.componentId = facts.identity?.componentId ?? null;
    report.imageId = facts.identity?.imageId ?? null;
    report.securityVersion = facts.securityVersion ?? null;
    report.signer.thumbprint = facts.signatureInfo?.thumbprint.toString('hex') ?? null;
    if (!facts.identity) report.problems.push('no ID (identity) section');
    if (report.role === 'other' && facts.identity?.imageType === ImageType.FirmwareConfig) report.role = 'capability';
  } catch (error) {
    report.problems.push(`metadata unreadable: ${error instanceof Error ? error.message : String(error)}`);
  }
  const trust = report.role === 'capability' ? (options.capabilityTrust ?? options.trust) : options.trust;
  if (trust) {
    const verification = verifyImagePackage(pkg, trust);
    report.signer.verified = verification.verified;
    report.signer.subject = verification.signer;
    report.signer.reason = verification.reason;
    if (!verification.verified) report.problems.push(`signature not verified (${verification.reason})`);
  }
  return report;
}

function roleByName(name: string): RecoverySetRole {
  switch (name.toLowerCase()) {
    case RECOVERY_1BL_FILE:
      return 'recovery-1bl';
    case RECOVERY_RUNTIME_FILE:
      return 'recovery-runtime';
    case RECOVERY_MANIFEST_FILE:
      return 'recovery-manifest';
    default:
      return 'other';
  }
}

function expectType(file: RecoverySetFileReport | undefined, imageType: number): void {
  if (!file || file.imageType === null || file.imageType === imageType) return;
  file.problems.push(`image type ${file.imageType} (${file.imageTypeName}); ${file.name} must be ${imageType} (${imageTypeName(imageType)})`);
}

function compareWithEntry(file: RecoverySetFileReport, entry: RecoveryManifestEntry): void {
  if (file.imageId !== null && file.imageId !== entry.imageId) file.problems.push(`image ID ${file.imageId}, the manifest says ${entry.imageId}`);
  if (file.imageType !== null && file.imageType !== entry.imageType) {
    file.problems.push(`image type ${file.imageType} (${file.imageTypeName}), the manifest says ${entry.imageType} (${imageTypeName(entry.imageType)})`);
  }
  if (file.componentId !== null && file.componentId !== entry.componentId) {
    file.problems.push(`component ID ${file.componentId}, the manifest says ${entry.componentId}`);
  }
  if (file.size !== entry.fileSize) file.problems.push(`${file.size} bytes, the manifest says ${entry.fileSize}`);
}
