import { FormatError } from './format-error.js';
import { type ImagePackage, parseImagePackage, readImageFacts } from './image-package.js';
import { type ImageSigner, signImage } from './image-signing.js';
import { ImageType } from './image-types.js';
import { encodeDebug, encodeIdentity } from './metadata-sections.js';
import { randomGuid } from './guid.js';

/**
 * The 392-byte device capability image (image-format.md):
 *   u32 magic 0x5CFD5CFD | u32 version 1 | u32 bodyLength (0xCC, header included)
 *   64-byte device ID | u32 capabilities[] (0-terminated) | zero padding to bodyLength
 * followed by the usual metadata (ID type 13, SG, DB "fw_config") and signature.
 */
export const CAPABILITY_MAGIC = 0x5cfd5cfd;
export const CAPABILITY_BODY_LENGTH = 0xcc;
const HEADER_BYTES = 12;
const DEVICE_ID_BYTES = 64;
export const MAX_CAPABILITIES = (CAPABILITY_BODY_LENGTH - HEADER_BYTES - DEVICE_ID_BYTES) / 4 - 1;
/** The component ID real capability images carry (read off the real fixture). */
export const FW_CONFIG_COMPONENT_ID = '4128b5d8-abc2-4155-9a33-8a1f31ed67ec';

export const Capability = {
  AllowTestKeySignedSoftware: 1,
  EnablePlutonDebugging: 2,
  EnableA7Debugging: 3,
  EnableN9Debugging: 4,
  EnableA7GdbDebugging: 5,
  EnableIoM41Debugging: 6,
  EnableIoM42Debugging: 7,
  EnableA7Console: 8,
  EnableSltLoader: 9,
  EnableSystemSoftwareDevelopment: 10,
  AppDevelopment: 11,
  EnableRfTestMode: 12,
  FieldServicing: 13,
} as const;

export interface CapabilityImage {
  version: number;
  /** 128 lower-case hex characters. */
  deviceId: string;
  capabilities: number[];
  package: ImagePackage;
}

export function parseCapabilityImage(bytes: Buffer): CapabilityImage {
  const pkg = parseImagePackage(bytes);
  const body = pkg.body;
  if (body.length < HEADER_BYTES + DEVICE_ID_BYTES) {
    throw new FormatError('capability-truncated', `capability body is ${body.length} bytes, needs at least ${HEADER_BYTES + DEVICE_ID_BYTES}`, {
      offset: body.length,
    });
  }
  const magic = body.readUInt32LE(0);
  if (magic !== CAPABILITY_MAGIC) {
    throw new FormatError('capability-magic-invalid', `capability magic is 0x${magic.toString(16)}, expected 0x5cfd5cfd`, { offset: 0 });
  }
  const bodyLength = body.readUInt32LE(8);
  if (bodyLength !== body.length) {
    throw new FormatError('capability-length-invalid', `capability body length field says ${bodyLength}, the body is ${body.length} bytes`, {
      offset: 8,
    });
  }
  const identity = readImageFacts(pkg).identity;
  if (identity && identity.imageType !== ImageType.FirmwareConfig) {
    throw new FormatError('capability-type-invalid', `capability image has image type ${identity.imageType}, expected 13 (FirmwareConfig)`);
  }
  const capabilities: number[] = [];
  for (let offset = HEADER_BYTES + DEVICE_ID_BYTES; offset + 4 <= body.length; offset += 4) {
    const value = body.readUInt32LE(offset);
    if (value === 0) break;
    capabilities.push(value);
  }
  return {
    version: body.readUInt32LE(4),
    deviceId: body.subarray(HEADER_BYTES, HEADER_BYTES + DEVICE_ID_BYTES).toString('hex'),
    capabilities,
    package: pkg,
  };
}

export interface CapabilityImageSpec {
  deviceId: string;
  capabilities: readonly number[];
  buildDate?: Date;
  imageId?: string;
}

export function buildCapabilityImage(spec: CapabilityImageSpec, signer: ImageSigner): Buffer {
  if (!/^[0-9a-fA-F]{128}$/.test(spec.deviceId)) {
    throw new FormatError('device-id-invalid', `device ID must be 128 hex characters, got ${spec.deviceId.length} characters`);
  }
  if (spec.capabilities.length === 0 || spec.capabilities.length > MAX_CAPABILITIES) {
    throw new FormatError('capabilities-invalid', `a capability image holds 1..${MAX_CAPABILITIES} capabilities, got ${spec.capabilities.length}`);
  }
  const body = Buffer.alloc(CAPABILITY_BODY_LENGTH);
  body.writeUInt32LE(CAPABILITY_MAGIC, 0);
  body.writeUInt32LE(1, 4);
  body.writeUInt32LE(CAPABILITY_BODY_LENGTH, 8);
  Buffer.from(spec.deviceId, 'hex').copy(body, HEADER_BYTES);
  spec.capabilities.forEach((capability, i) => {
    if (!Number.isInteger(capability) || capability <= 0 || capability > 0xffffffff) {
      throw new FormatError('capabilities-invalid', `capability ${capability} is not a positive 32-bit integer`);
    }
    body.writeUInt32LE(capability, HEADER_BYTES + DEVICE_ID_BYTES + i * 4);
  });
  const sections = [
    {
      id: 'ID',
      data: encodeIdentity({
        imageType: ImageType.FirmwareConfig,
        reserved: 0,
        componentId: FW_CONFIG_COMPONENT_ID,
        imageId: spec.imageId ?? randomGuid(),
      }),
    },
    { id: 'DB', data: encodeDebug({ buildDate: spec.buildDate ?? new Date(), name: 'fw_config' }) },
  ];
  return signImage(body, sections, signer);
}
