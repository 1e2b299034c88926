import { parseCapabilityImage } from '../../image/capability-image.js';
import { FormatError } from '../../image/format-error.js';
import { parseImagePackage, readImageFacts, type ImagePackage } from '../../image/image-package.js';
import { verifyImagePackage } from '../../image/image-signing.js';
import { imageTypeName } from '../../image/image-types.js';
import { parseRecoveryManifest, type RecoveryManifest, type RecoveryManifestEntry } from '../../image/recovery-manifest.js';
import {
  RECOVERY_1BL_IMAGE_TYPE,
  RECOVERY_MANIFEST_IMAGE_TYPE,
  RECOVERY_RUNTIME_COMPONENT_ID,
  RECOVERY_RUNTIME_IMAGE_TYPE,
} from '../../image/recovery-set-layout.js';
import { RecoveryErrorCode } from '../../link/recovery-error-codes.js';
import { PAD, XMODEM_BLOCK_BYTES } from '../../link/xmodem.js';
import type { TrustedKeystore } from '../../pki/trusted-keystore.js';
import { capabilitiesGranted } from '../app-trust.js';
import { DeviceRefusal } from '../device-error.js';
import { decodeKeystoreBody } from '../../firmware/keystore-image.js';
import { BOOT_ORDER } from '../../firmware/os-image-set.js';
import { runSecureBoot } from '../secure-boot.js';
import { RecoveryRefusal } from './recovery-refusal.js';
import { belowFuseCounter } from '../anti-rollback.js';

/**
 * The checks the recovery ROM and agent make on every file the host sends,
 * against the chip's own trust (the e-fused OS certificate) and fuses: parse,
 * image type (and component where the type alone is ambiguous), signature,
 * security version, and for images the manifest entry they must match. Each
 * failure is a RecoveryRefusal carrying the code the host is told.
 */

export interface CheckedFile {
  bytes: Buffer;
  pkg: ImagePackage;
  imageType: number;
  componentId: string;
  imageId: string;
  securityVersion: number;
}

interface Expectation {
  what: string;
  imageType: number;
  componentId?: string;
  trust: TrustedKeystore;
  fuses: Readonly<Record<string, number>>;
}

/** A signed file the ROM trust must have signed, of one image type. */
export function checkSignedFile(bytes: Buffer, expect: Expectation): CheckedFile {
  let pkg: ImagePackage;
  let facts;
  try {
    pkg = parseImagePackage(bytes);
    facts = readImageFacts(pkg);
  } catch (error) {
    throw new RecoveryRefusal(malformedCode(expect), `${expect.what}: not a signed image (${error instanceof FormatError ? error.code : 'unreadable'})`);
  }
  const identity = facts.identity;
  if (!identity) throw new RecoveryRefusal(malformedCode(expect), `${expect.what}: no identity section`);
  if (identity.imageType !== expect.imageType) {
    throw new RecoveryRefusal(
      RecoveryErrorCode.BadImageType,
      `${expect.what}: image type ${identity.imageType} (${imageTypeName(identity.imageType)}), expected ${expect.imageType} (${imageTypeName(expect.imageType)})`,
    );
  }
  if (expect.componentId !== undefined && identity.componentId !== expect.componentId) {
    throw new RecoveryRefusal(RecoveryErrorCode.BadComponentUid, `${expect.what}: component ID ${identity.componentId}, expected ${expect.componentId}`);
  }
  const verification = verifyImagePackage(pkg, expect.trust);
  if (!verification.verified) {
    throw new RecoveryRefusal(
      signatureRefusalCode(verification.reason),
      `${expect.what}: signature ${verification.reason} (signer ${verification.thumbprint ?? 'none'})`,
    );
  }
  const rolledBack = belowFuseCounter(identity.componentId, facts.securityVersion, expect.fuses);
  if (rolledBack) throw new RecoveryRefusal(RecoveryErrorCode.UnsupportedVersion, `${expect.what}: ${rolledBack}`);
  return { bytes, pkg, imageType: identity.imageType, componentId: identity.componentId, imageId: identity.imageId, securityVersion: facts.securityVersion ?? 0 };
}

/** A file that does not parse: the manifest has its own code (BadImageManifestFormat). */
function malformedCode(expect: Expectation): number {
  return expect.imageType === RECOVERY_MANIFEST_IMAGE_TYPE ? RecoveryErrorCode.BadImageManifestFormat : RecoveryErrorCode.BadImage;
}

/**
 * A signature check that failed: a signer the chip does not trust is
 * UntrustedCertificate; a trusted signer whose signature does not verify (a
 * tampered file) is BadSignature; anything else (no signature section, another
 * algorithm, an unreadable image) is BadImage.
 */
export function signatureRefusalCode(reason: string): number {
  if (reason === 'untrusted-signer') return RecoveryErrorCode.UntrustedCertificate;
  if (reason === 'bad-signature') return RecoveryErrorCode.BadSignature;
  return RecoveryErrorCode.BadImage;
}

/**
 * The recovery 1BL as the ROM received it. The ROM does not know the file's
 * length, so a file that is not a whole number of XMODEM blocks arrives with up
 * to 127 bytes of 0x1a padding: try the longest candidate first and keep the
 * first that verifies (a signature may itself end in 0x1a).
 */
export function checkRecovery1bl(received: Buffer, trust: TrustedKeystore, fuses: Readonly<Record<string, number>>): CheckedFile {
  const expect: Expectation = { what: 'recovery 1BL', imageType: RECOVERY_1BL_IMAGE_TYPE, trust, fuses };
  let first: unknown;
  for (let trimmed = 0; trimmed < XMODEM_BLOCK_BYTES && trimmed < received.length; trimmed += 1) {
    if (trimmed > 0 && received[received.length - trimmed] !== PAD) break;
    try {
      return checkSignedFile(received.subarray(0, received.length - trimmed), expect);
    } catch (error) {
      // Keep the most telling refusal: one about a file that parsed beats "not a signed image".
      if (first === undefined || (isMalformed(first) && !isMalformed(error))) first = error;
    }
  }
  throw first ?? new RecoveryRefusal(RecoveryErrorCode.BadImage, 'recovery 1BL: empty file');
}

function isMalformed(error: unknown): boolean {
  return error instanceof RecoveryRefusal && error.text.includes('not a signed image');
}

export function checkRecoveryRuntime(bytes: Buffer, trust: TrustedKeystore, fuses: Readonly<Record<string, number>>): CheckedFile {
  return checkSignedFile(bytes, {
    what: 'recovery runtime',
    imageType: RECOVERY_RUNTIME_IMAGE_TYPE,
    componentId: RECOVERY_RUNTIME_COMPONENT_ID,
    trust,
    fuses,
  });
}

/** The manifest: a signed type-26 image whose body lists exactly one image per boot-critical type. */
export function checkRecoveryManifest(bytes: Buffer, trust: TrustedKeystore, fuses: Readonly<Record<string, number>>): RecoveryManifest {
  const file = checkSignedFile(bytes, { what: 'recovery manifest', imageType: RECOVERY_MANIFEST_IMAGE_TYPE, trust, fuses });
  let manifest: RecoveryManifest;
  try {
    manifest = parseRecoveryManifest(file.pkg.body);
  } catch (error) {
    throw new RecoveryRefusal(RecoveryErrorCode.BadImageManifestFormat, `recovery manifest: body unreadable (${error instanceof FormatError ? error.message : String(error)})`);
  }
  for (const type of BOOT_ORDER) {
    const count = manifest.entries.filter((entry) => entry.imageType === type).length;
    if (count !== 1) {
      throw new RecoveryRefusal(RecoveryErrorCode.BadImageManifestFormat, `recovery manifest lists ${count} ${imageTypeName(type)} images; an OS image set has exactly one`);
    }
  }
  const foreign = manifest.entries.find((entry) => !(BOOT_ORDER as readonly number[]).includes(entry.imageType));
  if (foreign) {
    throw new RecoveryRefusal(RecoveryErrorCode.BadImageManifestFormat, `recovery manifest lists a ${imageTypeName(foreign.imageType)} image, which this device does not hold`);
  }
  return manifest;
}

/** One image of the set: signed by the OS key and exactly what its manifest entry says. */
export function checkManifestImage(
  bytes: Buffer,
  entry: RecoveryManifestEntry,
  trust: TrustedKeystore,
  fuses: Readonly<Record<string, number>>,
): CheckedFile {
  const what = `image ${entry.imageId}`;
  if (bytes.length !== entry.fileSize) {
    throw new RecoveryRefusal(RecoveryErrorCode.BadImageFileSize, `${what}: ${bytes.length} bytes, the manifest says ${entry.fileSize}`);
  }
  const file = checkSignedFile(bytes, { what, imageType: entry.imageType, componentId: entry.componentId, trust, fuses });
  if (file.imageId !== entry.imageId) {
    throw new RecoveryRefusal(RecoveryErrorCode.BadImageUid, `${what}: the file carries image ID ${file.imageId}`);
  }
  return file;
}

/**
 * The received images, put in boot order, must boot: the same secure-boot
 * chain a normal boot runs (keystore, boot manifest naming exactly this set,
 * fuses). Returns the OS version and the set's keystore.
 */
export function checkBootableSet(
  images: readonly CheckedFile[],
  trust: TrustedKeystore,
  fuses: Readonly<Record<string, number>>,
): { ordered: Buffer[]; osVersion: string; keystorePem: string } {
  const ordered = BOOT_ORDER.map((type) => images.find((image) => image.imageType === type)?.bytes);
  if (ordered.some((bytes) => bytes === undefined)) {
    throw new RecoveryRefusal(RecoveryErrorCode.BadImageManifestFormat, 'the received images do not make a whole OS image set');
  }
  const boot = runSecureBoot({ images: ordered as Buffer[], romTrust: trust, trustFromPem: decodeKeystoreBody, fuses });
  if (!boot.ok) {
    const code = boot.failure.rollback ? RecoveryErrorCode.UnsupportedVersion : signatureRefusalCode(boot.failure.reason);
    throw new RecoveryRefusal(code, `the image set would not boot: ${boot.failure.stage}: ${boot.failure.reason}`);
  }
  return { ordered: ordered as Buffer[], osVersion: boot.osVersion, keystorePem: boot.keystorePem };
}

/** Capability image as received: its format and type, and whether it is bound to this device. */
export function checkCapabilityFormat(bytes: Buffer, deviceId: string): { boundHere: boolean; capabilities: number[] } {
  try {
    const image = parseCapabilityImage(bytes);
    return { boundHere: image.deviceId === deviceId.toLowerCase(), capabilities: image.capabilities };
  } catch (error) {
    throw new RecoveryRefusal(
      RecoveryErrorCode.BadImage,
      `capability image: ${error instanceof FormatError ? error.message : 'unreadable'}`,
    );
  }
}

/** Its signature, once the new set's keystore (which names the capability signer) has been verified. */
export function checkCapabilitySignature(bytes: Buffer, keystorePem: string, deviceId: string): number[] {
  try {
    return capabilitiesGranted(bytes, decodeKeystoreBody(keystorePem), deviceId);
  } catch (error) {
    const reason = error instanceof DeviceRefusal || error instanceof FormatError ? error.message : String(error);
    throw new RecoveryRefusal(/bad-signature/.test(reason) ? RecoveryErrorCode.BadSignature : RecoveryErrorCode.UntrustedCertificate, `capability image: ${reason}`);
  }
}
