import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { EMULATOR_LAYOUT_OPTIONS } from '../../emulator/board-storage.js';
import { keystoreBodyFor } from '../../firmware/rig-keystore.js';
import { buildRecoveryImageSet } from '../../firmware/recovery-image-set.js';
import { inspectRecoverySet, type RecoverySetReport } from '../../image/recovery-set-inspection.js';
import { RECOVERY_RUNTIME_IMAGE_TYPE } from '../../image/recovery-set-layout.js';
import { imageTypeName } from '../../image/image-types.js';
import type { TrustAnchors } from '../../image/image-signing.js';
import { rawSignerFor } from '../../pki/raw-signer.js';
import { findSigningRole, loadSigningRoles } from '../../pki/signing-roles.js';
import { TrustedKeystore } from '../../pki/trusted-keystore.js';
import { InputError } from '../../util/failure.js';
import { action, UsageError } from '../action.js';
import { ExitCode } from '../exit-codes.js';
import { readInputFile, writeOutputFile } from '../files.js';
import { parseCount } from '../parse-options.js';
import { collect, keystoreFromFiles } from '../signing-input.js';
import { registerRecoverCommand } from './recover.js';

interface BuildFlags {
  osVersion?: string;
  keys?: string;
  securityVersion: string;
  sizeScale: string;
  sdkTestCert: boolean;
  out?: string;
  json?: boolean;
}

interface InspectFlags {
  keys?: string;
  trust: string[];
  json?: boolean;
}

/** What an emulated board's OS slot holds (6 MiB less its blob header); a bigger set could never be written. */
const MAX_SET_BYTES = EMULATOR_LAYOUT_OPTIONS.osSlotBytes - 4096;
const MAX_SIZE_SCALE = 200;

/** `sphere-rig recovery ...` (recovery image sets) and `sphere-rig recover` (recovering a board). */
export function registerRecoveryCommands(program: Command): void {
  const recovery = program.command('recovery').description('Recovery image sets: build one for emulated boards, inspect any');

  recovery
    .command('build')
    .description('Build a signed recovery image set of an emulator OS image set')
    .option('--os-version <v>', 'OS version string of the set, e.g. 23.01')
    .option('--keys <dir>', 'signing keys (`sphere-rig keys generate`, or <state>/keys of an emulator): the OS key signs every file')
    .option('--security-version <n>', 'security version (RV) of every image (anti-rollback)', '1')
    .option('--size-scale <x>', 'scale every OS image body by this factor (100 gives a set of about 5 MiB)', '1')
    .option('--no-sdk-test-cert', "leave Microsoft's public SDK test certificate out of the set's trusted keystore")
    .option('-o, --out <dir>', 'folder to write the set into (created if missing)')
    .option('--json', 'print the files written as JSON')
    .addHelpText(
      'after',
      `
Files written:
  recovery-1bl-rtm.bin     the recovery first-stage loader (OneBL, type 1), 16,384 bytes
  recovery-runtime.bin     the recovery agent, 60 KiB; image type ${RECOVERY_RUNTIME_IMAGE_TYPE} (${imageTypeName(RECOVERY_RUNTIME_IMAGE_TYPE)}),
                           with its own component ID (the 1BL loads it as its runtime)
  recovery.imagemanifest   the recovery manifest (type 26): one entry per image
  <imageId>.bin            one per image of the OS set (32 hex digits: the image ID
                           without hyphens), in boot order
All are signed with the OS key, the key an emulated chip's ROM trusts. The set's
trusted keystore holds the keys folder's certificates (OS, production and
development apps, capabilities), plus the SDK test certificate by default.

Example:
  sphere-rig recovery build --os-version 23.01 --keys .sphere-rig/emulator/keys -o out/recovery-23.01`,
    )
    .action(
      action(async (flags: BuildFlags) => {
        if (!flags.osVersion || !flags.keys || !flags.out) throw new UsageError('recovery build needs --os-version V, --keys DIR and -o DIR');
        if (!/^[\x21-\x7e]{1,64}$/.test(flags.osVersion)) throw new UsageError('--os-version must be 1..64 printable characters without spaces');
        const scale = Number(flags.sizeScale);
        if (!Number.isFinite(scale) || scale <= 0 || scale > MAX_SIZE_SCALE) throw new UsageError(`--size-scale must be a number above 0 and at most ${MAX_SIZE_SCALE}, got ${JSON.stringify(flags.sizeScale)}`);
        const roles = await loadSigningRoles(resolve(flags.keys));
        const set = buildRecoveryImageSet(
          {
            osVersion: flags.osVersion,
            securityVersion: parseCount(flags.securityVersion, '--security-version', 0, 0xffffffff),
            keystorePem: keystoreBodyFor(roles, flags.sdkTestCert),
            bodyScale: scale,
          },
          rawSignerFor(findSigningRole(roles, 'os')),
        );
        const imageBytes = set.osImages.reduce((sum, image) => sum + image.bytes.length, 0);
        if (imageBytes > MAX_SET_BYTES) {
          throw new InputError('recovery-set-too-large', `the image set would be ${imageBytes} bytes; an emulated board's OS slot holds ${MAX_SET_BYTES} (lower --size-scale)`);
        }
        const out = resolve(flags.out);
        for (const file of set.files) writeOutputFile(join(out, file.name), file.bytes);
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ out, osVersion: set.osVersion, imageBytes, files: set.files.map((f) => ({ name: f.name, size: f.bytes.length })) })}\n`);
        } else {
          process.stdout.write(`${out}: recovery set for OS ${set.osVersion}, ${set.files.length} files, images ${imageBytes} bytes\n`);
          for (const file of set.files) process.stdout.write(`  ${String(file.bytes.length).padStart(9)}  ${file.name}\n`);
        }
      }),
    );

  recovery
    .command('inspect')
    .argument('<dir>', 'recovery image set folder')
    .description('List the files of a recovery set (type, size, signer) and check them against its manifest')
    .option('--keys <dir>', "the rig's signing keys: the set must be signed by their OS key (a capability image by their capability key)")
    .option('--trust <cert.pem>', 'check every signature against this certificate instead (repeatable; bundles allowed)', collect, [])
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Checks what a device would: every file is a signed image; recovery-1bl-rtm.bin is
a OneBL, recovery-runtime.bin the recovery agent, recovery.imagemanifest a
RecoveryManifest; every manifest entry has its <imageId>.bin with the same image
ID, type, component and size; no image file is left out of the manifest; one
signer signs the set. Exit 0 when consistent (and verified, with --keys/--trust),
1 otherwise.`,
    )
    .action(
      action(async (dir: string, flags: InspectFlags) => {
        if (flags.keys && flags.trust.length) throw new UsageError('give --keys or --trust, not both');
        let trust: TrustAnchors | undefined;
        let capabilityTrust: TrustAnchors | undefined;
        if (flags.keys) {
          const roles = await loadSigningRoles(resolve(flags.keys));
          trust = TrustedKeystore.of([{ cert: findSigningRole(roles, 'os').cert, role: 'os' }]);
          capabilityTrust = TrustedKeystore.of([{ cert: findSigningRole(roles, 'capability').cert, role: 'capability' }]);
        } else if (flags.trust.length) {
          trust = await keystoreFromFiles(flags.trust);
        }
        const report = inspectRecoverySet(readSetFolder(dir), { ...(trust ? { trust } : {}), ...(capabilityTrust ? { capabilityTrust } : {}) });
        if (flags.json) process.stdout.write(`${JSON.stringify({ dir, ...report }, null, 2)}\n`);
        else process.stdout.write(renderReport(dir, report));
        return report.consistent ? ExitCode.ok : ExitCode.testFailed;
      }),
    );

  registerRecoverCommand(program);
}

function readSetFolder(dir: string): Array<{ name: string; bytes: Buffer }> {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    names = readdirSync(dir);
  } catch (error) {
    throw new InputError('recovery-images-unreadable', `${dir}: not a readable folder (${(error as Error).message})`, { dir });
  }
  return names.filter((name) => statSync(join(dir, name)).isFile()).map((name) => ({ name, bytes: readInputFile(join(dir, name), 'recovery set file') }));
}

function renderReport(dir: string, report: RecoverySetReport): string {
  const lines = [`${dir}: ${report.consistent ? 'consistent' : 'NOT consistent'}`];
  if (report.manifest) {
    lines.push(`  manifest: ${report.manifest.imageCount} images, ${report.manifest.totalBytes} bytes, built ${report.manifest.buildDate ?? 'unknown'}`);
  }
  lines.push(`  signers: ${report.signers.join(', ') || 'none'}`);
  for (const file of report.files) {
    const type = file.imageType === null ? '-' : `${file.imageType} ${file.imageTypeName}`;
    const verified = file.signer.verified === null ? '' : file.signer.verified ? ' verified' : ' NOT verified';
    lines.push(`  ${String(file.size).padStart(9)}  ${file.name.padEnd(38)} ${file.role.padEnd(17)} ${type.padEnd(22)} ${file.signer.thumbprint?.slice(0, 12) ?? 'unsigned'}${verified}`);
    for (const problem of file.problems) lines.push(`             problem: ${problem}`);
  }
  for (const problem of report.problems) lines.push(`  problem: ${problem}`);
  return `${lines.join('\n')}\n`;
}
