import { createHash, X509Certificate } from 'node:crypto';
import { packApplication, openApplication } from '../../../src/image/application-image.js';
import { ASXIPFS_MAGIC, ASXIPFS_SIGNATURE } from '../../../src/image/asxipfs.js';
import { parseBootManifestBody } from '../../../src/image/boot-manifest.js';
import { CAPABILITY_MAGIC, parseCapabilityImage } from '../../../src/image/capability-image.js';
import { FormatError } from '../../../src/image/format-error.js';
import { buildSignedImage } from '../../../src/image/image-builder.js';
import { inspectImage } from '../../../src/image/image-inspection.js';
import {
  METADATA_MAGIC,
  parseImagePackage,
  readImageFacts,
  requireIdentity,
  serializeImagePackage,
} from '../../../src/image/image-package.js';
import type { ImageSigner, TrustAnchor, TrustAnchors } from '../../../src/image/image-signing.js';
import { ImageType } from '../../../src/image/image-types.js';
import { buildRecoveryManifest, parseRecoveryManifest, PartitionType } from '../../../src/image/recovery-manifest.js';
import { fixedP256KeyPair } from '../fixed-keys.js';
import { mutateBytes, type HotRange } from '../mutate.js';
import { Random } from '../random.js';
import { readRepoFile } from '../seed-files.js';
import { InvariantViolation, type FuzzTarget } from '../target.js';

/**
 * Image packages: the layout and metadata sections (image-package.ts,
 * metadata-sections.ts), everything `image inspect` reads (with signature
 * verification against the SDK test certificate), the body parser of each image
 * type (ASXipFS + app manifest, capability image, recovery and boot manifests),
 * and the round trip: an accepted package serializes back to the same bytes.
 */

const BUILD_DATE = new Date('2024-05-01T12:00:00Z');
const APP_COMPONENT = '0e5a2b1c-3d4e-4f50-8a9b-0c1d2e3f4a5b';

/** A signer whose "signature" is SHA-512 of the signed bytes: deterministic, and never valid. */
function fakeSigner(label: string): ImageSigner {
  return {
    thumbprint: createHash('sha1').update(label).digest(),
    sign: (data) => createHash('sha512').update(data).digest(),
  };
}

function seedImages(): Buffer[] {
  const random = new Random(0x1ea5e);
  const signer = fakeSigner('fuzz image signer');
  const app = packApplication(
    {
      files: [
        { path: 'bin/app', data: random.bytes(5000), mode: 0o755 },
        { path: 'etc/config/settings.json', data: Buffer.from('{"a":1}') },
        { path: 'etc/empty', data: Buffer.alloc(0) },
        { path: 'lib/link', data: Buffer.from('../bin/app'), mode: 0o120777 },
      ],
      manifestJson: Buffer.from(
        JSON.stringify({
          SchemaVersion: 1,
          Name: 'Fuzz',
          ComponentId: APP_COMPONENT,
          EntryPoint: '/bin/app',
          CmdArgs: ['-v'],
          Capabilities: { Gpio: [1, 2], AllowedConnections: ['example.com'], MutableStorage: { SizeKB: 8 }, WifiConfig: true },
          ApplicationType: 'Default',
        }),
      ),
      securityVersion: 7,
      development: true,
      buildDate: BUILD_DATE,
      imageId: '11111111-2222-4333-8444-555555555555',
    },
    signer,
  ).bytes;
  const recovery = buildSignedImage(
    buildRecoveryManifest({
      buildDate: BUILD_DATE,
      entries: [
        {
          imageId: '21111111-2222-4333-8444-555555555555',
          componentId: '5e8c0c1e-0009-4a61-9d4b-000000000009',
          imageType: ImageType.Services,
          partitionType: PartitionType.Firmware,
          fileSize: 4096,
          uncompressedSize: 8192,
          provides: [{ version: 5, identityType: 3 }],
          dependsOn: [],
        },
      ],
    }),
    {
      imageType: ImageType.RecoveryManifest,
      componentId: '5e8c0c1e-0103-4a61-9d4b-000000000103',
      name: 'recovery manifest',
      buildDate: BUILD_DATE,
      imageId: '31111111-2222-4333-8444-555555555555',
      abiProvides: [{ version: 1, identityType: 2 }],
      temporaryImage: 1,
      extraSections: [{ id: 'ZZ', data: Buffer.from('unknown section kept as is') }],
    },
    signer,
  );
  const bootManifest = buildSignedImage(
    Buffer.from(JSON.stringify({ osVersion: '24.01', images: [{ imageType: 9, componentId: '5e8c0c1e-0009-4a61-9d4b-000000000009', imageId: '41111111-2222-4333-8444-555555555555' }] })),
    {
      imageType: ImageType.BootManifest,
      componentId: '5e8c0c1e-0010-4a61-9d4b-000000000010',
      name: 'boot manifest',
      buildDate: BUILD_DATE,
      imageId: '51111111-2222-4333-8444-555555555555',
      securityVersion: 3,
    },
    signer,
  );
  return [readRepoFile('fixtures/azure-sphere/test_app.imagepackage'), app, readRepoFile('fixtures/azure-sphere/dev_enable_caps.bin'), recovery, bootManifest];
}

/** The SDK test certificate (which signed the real fixtures) and a key for the fake signer's thumbprint. */
function trustAnchors(): TrustAnchors {
  const sdk = new X509Certificate(readRepoFile('fixtures/azure-sphere/azure-sphere-sdk-test.pem'));
  const anchors = new Map<string, TrustAnchor>([
    [createHash('sha1').update(sdk.raw).digest('hex'), { publicKey: sdk.publicKey, subject: sdk.subject }],
    [fakeSigner('fuzz image signer').thumbprint.toString('hex'), { publicKey: fixedP256KeyPair('image').publicKey, subject: 'CN=fuzz' }],
  ]);
  return { findByThumbprint: (thumbprint) => anchors.get(thumbprint.toString('hex')) };
}

const u32 = (value: number): Buffer => {
  const out = Buffer.alloc(4);
  out.writeUInt32LE(value >>> 0);
  return out;
};

const DICTIONARY: Buffer[] = [
  u32(METADATA_MAGIC),
  u32(ASXIPFS_MAGIC),
  u32(CAPABILITY_MAGIC),
  Buffer.from(ASXIPFS_SIGNATURE, 'latin1'),
  ...['ID', 'SG', 'DB', 'TP', 'ND', 'NP', 'RV', 'LG'].map((id) => Buffer.from(id, 'latin1')),
  Buffer.from('app_manifest.json'),
  Buffer.from('{"SchemaVersion":1}'),
];

/** Headers of body formats at the start, metadata and signature at the end. */
const HOT: HotRange[] = [
  { from: 0, to: 511 },
  { from: -420, to: -1 },
];

export function readEverything(input: Buffer, trust: TrustAnchors): void {
  const pkg = parseImagePackage(input);
  readImageFacts(pkg);
  if (!serializeImagePackage(pkg).equals(input)) throw new InvariantViolation('an accepted package does not serialize back to its bytes');
  const report = inspectImage(input, trust);
  // inspectImage reports body faults instead of throwing; one that is not a FormatError is a crash it hid.
  const unexpected = report.bodyErrors?.find((e) => e.code === 'unexpected');
  if (unexpected) throw new InvariantViolation(`inspectImage met an unexpected error in the body: ${unexpected.message}`);
  const identity = requireIdentity(pkg);
  switch (identity.imageType) {
    case ImageType.Applications:
      openApplication(input);
      break;
    case ImageType.FirmwareConfig:
      parseCapabilityImage(input);
      break;
    case ImageType.RecoveryManifest:
      parseRecoveryManifest(pkg.body);
      break;
    case ImageType.BootManifest:
      parseBootManifestBody(pkg.body);
      break;
  }
}

export const imageTarget: FuzzTarget = {
  name: 'image',
  async prepare() {
    const seeds = seedImages();
    const trust = trustAnchors();
    return {
      seedCount: seeds.length,
      generate: (rng) => mutateBytes(rng, rng.pick(seeds), seeds, { hot: HOT, dictionary: DICTIONARY }),
      run: (input) => readEverything(input, trust),
      isRejection: (error) => error instanceof FormatError && error.code.length > 0,
    };
  },
};
