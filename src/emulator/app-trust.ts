import { openApplication, type ApplicationContents } from '../image/application-image.js';
import { parseCapabilityImage } from '../image/capability-image.js';
import { DeviceErrorCode } from '../util/device-error-codes.js';
import { FormatError } from '../image/format-error.js';
import { parseImagePackage, readImageFacts } from '../image/image-package.js';
import { verifyImagePackage } from '../image/image-signing.js';
import { ImageType } from '../image/image-types.js';
import type { TrustedKeystore } from '../pki/trusted-keystore.js';
import { Capability } from '../image/capability-image.js';
import { DeviceRefusal } from './device-error.js';
import { DEVELOPMENT_ROLES, KeystoreRole } from '../firmware/keystore-image.js';
import { belowFuseCounter } from './anti-rollback.js';

/**
 * What the OS checks before it installs or starts an application: a valid
 * package and manifest, a signer the keystore trusts as an app signer, the
 * AppDevelopment capability for development-signed apps, and a security version
 * not below the component's fuse. Refusals carry the device's own error codes.
 */
export interface TrustedApplication extends ApplicationContents {
  componentId: string;
  imageId: string;
  securityVersion: number;
  signerRole: string;
  development: boolean;
}

export function checkApplicationImage(
  bytes: Buffer,
  keystore: TrustedKeystore,
  capabilities: readonly number[],
  fuses: Readonly<Record<string, number>>,
): TrustedApplication {
  let pkg;
  let facts;
  try {
    pkg = parseImagePackage(bytes);
    facts = readImageFacts(pkg);
  } catch (error) {
    throw new DeviceRefusal(DeviceErrorCode.ImageInvalid, 400, error instanceof FormatError ? error.message : 'unreadable image package');
  }
  if (!facts.identity || facts.identity.imageType !== ImageType.Applications) {
    throw new DeviceRefusal(DeviceErrorCode.ImageInvalid, 400, `image type ${facts.identity?.imageType ?? 'missing'} is not an application`);
  }
  const verification = verifyImagePackage(pkg, keystore);
  const entry = verification.thumbprint ? keystore.findByThumbprint(verification.thumbprint) : undefined;
  const role = entry?.role ?? 'untrusted';
  const appSigner = role === KeystoreRole.ProductionApp || DEVELOPMENT_ROLES.has(role);
  if (!verification.verified || !appSigner) {
    throw new DeviceRefusal(DeviceErrorCode.ImageNotTrusted, 403, `signature ${verification.reason}, signer role ${role}`);
  }
  const development = DEVELOPMENT_ROLES.has(role);
  if (development && !capabilities.includes(Capability.AppDevelopment)) {
    throw new DeviceRefusal(DeviceErrorCode.ImageNotTrusted, 403, 'development-signed app without the AppDevelopment capability');
  }
  const rolledBack = belowFuseCounter(facts.identity.componentId, facts.securityVersion, fuses);
  if (rolledBack) throw new DeviceRefusal(DeviceErrorCode.InstallationFailed, 409, rolledBack);
  let contents;
  try {
    contents = openApplication(bytes);
  } catch (error) {
    if (error instanceof FormatError) {
      throw new DeviceRefusal(error.deviceErrorCode ?? DeviceErrorCode.ImageInvalid, 400, error.message);
    }
    throw error;
  }
  return {
    ...contents,
    componentId: facts.identity.componentId,
    imageId: facts.identity.imageId,
    securityVersion: facts.securityVersion ?? 0,
    signerRole: role,
    development,
  };
}

/** The capabilities a capability image grants this device, if it is valid for it. */
export function capabilitiesGranted(image: Buffer, keystore: TrustedKeystore, deviceId: string): number[] {
  const capability = parseCapabilityImage(image);
  const verification = verifyImagePackage(capability.package, keystore);
  const entry = verification.thumbprint ? keystore.findByThumbprint(verification.thumbprint) : undefined;
  if (!verification.verified || entry?.role !== KeystoreRole.Capability) {
    throw new DeviceRefusal(DeviceErrorCode.ImageNotTrusted, 403, `capability image signature ${verification.reason}`);
  }
  if (capability.deviceId !== deviceId.toLowerCase()) {
    throw new DeviceRefusal(DeviceErrorCode.ImageNotTrusted, 403, 'capability image is bound to another device');
  }
  return capability.capabilities;
}
