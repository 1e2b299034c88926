/** Image types of Azure Sphere signed images (image-format.md). */
export const IMAGE_TYPE_NAMES: Readonly<Record<number, string>> = Object.freeze({
  0: 'Invalid',
  1: 'OneBL',
  2: 'PlutonRuntime',
  3: 'WifiFirmware',
  4: 'SecurityMonitor',
  5: 'NormalWorldLoader',
  6: 'NormalWorldDTB',
  7: 'NormalWorldKernel',
  8: 'RootFs',
  9: 'Services',
  10: 'Applications',
  13: 'FirmwareConfig',
  16: 'BootManifest',
  17: 'NormalWorldFileSystem',
  19: 'TrustedKeystore',
  20: 'Policy',
  21: 'CustomerBoardConfig',
  22: 'UpdateCertStore',
  23: 'BaseSystemUpdateManifest',
  24: 'FirmwareUpdateManifest',
  25: 'CustomerUpdateManifest',
  26: 'RecoveryManifest',
  27: 'ManifestSet',
  28: 'Other',
});

export const ImageType = {
  Invalid: 0,
  OneBL: 1,
  PlutonRuntime: 2,
  WifiFirmware: 3,
  SecurityMonitor: 4,
  NormalWorldLoader: 5,
  NormalWorldDTB: 6,
  NormalWorldKernel: 7,
  RootFs: 8,
  Services: 9,
  Applications: 10,
  FirmwareConfig: 13,
  BootManifest: 16,
  NormalWorldFileSystem: 17,
  TrustedKeystore: 19,
  Policy: 20,
  CustomerBoardConfig: 21,
  UpdateCertStore: 22,
  BaseSystemUpdateManifest: 23,
  FirmwareUpdateManifest: 24,
  CustomerUpdateManifest: 25,
  RecoveryManifest: 26,
  ManifestSet: 27,
  Other: 28,
} as const;

export function imageTypeName(type: number): string {
  return IMAGE_TYPE_NAMES[type] ?? `Unknown(${type})`;
}

/** ABI identity types used by the ND/NP sections. */
export const ABI_IDENTITY_NAMES: Readonly<Record<number, string>> = Object.freeze({
  1: 'SecureWorldRuntime',
  2: 'OSRuntime',
  3: 'ApplicationRuntime',
});

/** TP section values. */
export const TEMPORARY_IMAGE_NAMES: Readonly<Record<number, string>> = Object.freeze({
  0: 'None',
  1: 'RemoveAtBoot',
  2: 'UnderDevelopment',
});
