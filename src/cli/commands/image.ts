import { resolve } from 'node:path';
import type { Command } from 'commander';
import { packApplication } from '../../image/application-image.js';
import { readAsxipfs } from '../../image/asxipfs.js';
import { inspectImage, type ImageReport } from '../../image/image-inspection.js';
import { parseImagePackage } from '../../image/image-package.js';
import { resignImagePackage } from '../../image/image-signing.js';
import { ImageType } from '../../image/image-types.js';
import { action, UsageError } from '../action.js';
import { ExitCode } from '../exit-codes.js';
import { readInputFile, readTree, writeOutputFile, writeTree } from '../files.js';
import { parseCount } from '../parse-options.js';
import { collect, keystoreFromFiles, signerFromFiles } from '../signing-input.js';
import { FormatError } from '../../image/format-error.js';

/** `sphere-rig image ...`: signed image packages. */
export function registerImageCommands(program: Command): void {
  const image = program.command('image').description('Inspect, pack, sign, verify and extract signed image packages');

  image
    .command('inspect')
    .argument('<file>', 'an .imagepackage or recovery .bin')
    .description('Show what an image package holds: identity, sections, signer, and for apps the manifest and files')
    .option('--json', 'print one JSON object (fields documented in README)')
    .option('--trust <cert.pem>', 'check the signature against this certificate (repeatable; bundles allowed)', collect, [])
    .action(
      action(async (file: string, flags: { json?: boolean; trust: string[] }) => {
        const bytes = readInputFile(file, 'image package');
        const trust = flags.trust.length ? await keystoreFromFiles(flags.trust) : undefined;
        const report = inspectWithFile(bytes, file, trust);
        if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else process.stdout.write(renderReport(file, report));
        return report.signature.verified === false ? ExitCode.testFailed : ExitCode.ok;
      }),
    );

  image
    .command('verify')
    .argument('<file>', 'image package to check')
    .description('Exit 0 only if the image is well formed and signed by one of the trusted certificates')
    .option('--trust <cert.pem>', 'a trusted signing certificate (repeatable; bundles allowed)', collect, [])
    .option('--json', 'print the verification result as JSON')
    .action(
      action(async (file: string, flags: { trust: string[]; json?: boolean }) => {
        if (!flags.trust.length) throw new UsageError('image verify needs at least one --trust CERT.pem');
        const report = inspectWithFile(readInputFile(file, 'image package'), file, await keystoreFromFiles(flags.trust));
        const { signature } = report;
        if (flags.json) process.stdout.write(`${JSON.stringify({ file, ...signature })}\n`);
        else process.stdout.write(signature.verified ? `${file}: verified, signed by ${signature.signer}\n` : `${file}: NOT verified (${signature.reason}; signer thumbprint ${signature.thumbprint ?? 'none'})\n`);
        return signature.verified ? ExitCode.ok : ExitCode.testFailed;
      }),
    );

  image
    .command('pack')
    .description('Pack a folder into a signed application image (ASXipFS body, manifest checked with device error codes)')
    .option('--root <dir>', 'folder holding the app files (e.g. bin/app)')
    .option('--manifest <file>', 'app_manifest.json to put at the image root')
    .option('--key <key.pem>', 'signing key (PKCS#8 PEM, P-256)')
    .option('--cert <cert.pem>', "the signing key's certificate (its SHA-1 thumbprint goes in the SG section)")
    .option('-o, --out <file>', 'where to write the image package')
    .option('--security-version <n>', 'RV section: the anti-rollback security version')
    .option('--image-type <n>', 'image type (default 10, Applications)', String(ImageType.Applications))
    .option('--development', 'mark as under development (TP = 2), as sideloaded dev apps are')
    .option('--json', 'print a summary as JSON')
    .addHelpText('after', '\nExample:\n  sphere-rig image pack --root out/app --manifest app_manifest.json \\\n    --key keys/development-app.key.pem --cert keys/development-app.cert.pem --development -o app.imagepackage')
    .action(
      action(async (flags: { root?: string; manifest?: string; key?: string; cert?: string; out?: string; securityVersion?: string; imageType: string; development?: boolean; json?: boolean }) => {
        if (!flags.root || !flags.manifest || !flags.out) throw new UsageError('image pack needs --root DIR, --manifest FILE and -o OUT');
        const signer = signerFromFiles(flags.key, flags.cert);
        const manifestJson = readInputFile(flags.manifest, 'app manifest');
        let packed;
        try {
          packed = packApplication(
            {
              files: readTree(resolve(flags.root)),
              manifestJson,
              securityVersion: flags.securityVersion === undefined ? undefined : parseCount(flags.securityVersion, '--security-version', 0, 0xffffffff),
              imageType: parseCount(flags.imageType, '--image-type', 0, 0xffff),
              development: flags.development === true,
            },
            signer,
          );
        } catch (error) {
          if (error instanceof FormatError && error.jsonPath) {
            const device = error.deviceErrorCode === undefined ? '' : ` [device error ${error.deviceErrorCode}]`;
            throw new FormatError(error.code, `${flags.manifest}: ${error.message}${device}`, { deviceErrorCode: error.deviceErrorCode });
          }
          throw error;
        }
        writeOutputFile(flags.out, packed.bytes);
        const report = inspectImage(packed.bytes);
        if (flags.json) process.stdout.write(`${JSON.stringify({ out: flags.out, length: packed.bytes.length, componentId: report.componentId, imageId: report.imageId, signer: signer.subject })}\n`);
        else process.stdout.write(`${flags.out}: ${packed.bytes.length} bytes, ${report.name} (${report.componentId}), image ${report.imageId}, signed by ${signer.subject}\n`);
      }),
    );

  image
    .command('sign')
    .argument('<file>', 'image package to re-sign')
    .description('Replace the signer (SG section) and the signature; every other section and the body stay as they are')
    .option('--key <key.pem>', 'signing key (PKCS#8 PEM, P-256)')
    .option('--cert <cert.pem>', "the signing key's certificate")
    .option('-o, --out <file>', 'where to write the re-signed package')
    .action(
      action(async (file: string, flags: { key?: string; cert?: string; out?: string }) => {
        if (!flags.out) throw new UsageError('image sign needs -o OUT');
        const signer = signerFromFiles(flags.key, flags.cert);
        const pkg = parseImagePackage(readWithFile(file));
        writeOutputFile(flags.out, resignImagePackage(pkg, signer));
        process.stdout.write(`${flags.out}: signed by ${signer.subject} (${signer.thumbprint.toString('hex')})\n`);
      }),
    );

  image
    .command('extract')
    .argument('<file>', 'application image package')
    .description("Extract an application image's ASXipFS (app_manifest.json, bin/app, ...) into a folder")
    .option('--out <dir>', 'folder to extract into (created if missing)')
    .action(
      action(async (file: string, flags: { out?: string }) => {
        if (!flags.out) throw new UsageError('image extract needs --out DIR');
        const pkg = parseImagePackage(readWithFile(file));
        const fs = readAsxipfs(pkg.body);
        const files = fs.entries.filter((e) => e.type === 'file').map((e) => ({ path: e.path, data: fs.readFile(e.path), mode: e.mode & 0o777 }));
        writeTree(resolve(flags.out), files);
        process.stdout.write(`${files.length} file(s) extracted to ${flags.out}\n`);
      }),
    );
}

function readWithFile(file: string): Buffer {
  return readInputFile(file, 'image package');
}

/** Parse errors name the file as well as the byte offset. */
function inspectWithFile(bytes: Buffer, file: string, trust: Parameters<typeof inspectImage>[1]): ImageReport {
  try {
    return inspectImage(bytes, trust);
  } catch (error) {
    if (error instanceof FormatError) throw new FormatError(error.code, error.message, { file, offset: error.offset, jsonPath: error.jsonPath });
    throw error;
  }
}

function renderReport(file: string, r: ImageReport): string {
  const lines = [
    `${file}`,
    `  image type      ${r.imageType} (${r.imageTypeName})`,
    `  component ID    ${r.componentId}`,
    `  image ID        ${r.imageId}`,
    `  name            ${r.name}`,
    `  build date      ${r.buildDate}`,
    `  temporary image ${r.temporaryImage ?? '-'}${r.temporaryImageName ? ` (${r.temporaryImageName})` : ''}`,
    `  security ver.   ${r.securityVersion ?? '-'}`,
    `  ABI depends     ${r.abiDepends.map((a) => `${a.identityName} ${a.version}`).join(', ') || '-'}`,
    `  ABI provides    ${r.abiProvides.map((a) => `${a.identityName} ${a.version}`).join(', ') || '-'}`,
    `  sections        ${r.sections.map((s) => `${s.id}(${s.length})`).join(' ')}; metadata ${r.metadataLength} bytes, body ${r.bodyLength} bytes`,
    `  signer          ${r.signature.thumbprint} (type ${r.signature.type})`,
    `  signature       ${r.signature.verified === null ? 'not checked (give --trust CERT.pem)' : r.signature.verified ? `verified: ${r.signature.signer}` : `NOT verified (${r.signature.reason})`}`,
  ];
  if (r.manifest) lines.push(`  manifest        ${r.manifest.Name}, entry ${r.manifest.EntryPoint}, ${r.manifest.ApplicationType ?? 'Default'}`);
  if (r.files) for (const f of r.files) lines.push(`    ${f.mode.padStart(8)} ${String(f.size).padStart(8)}  ${f.path}${f.type === 'directory' ? '/' : ''}`);
  for (const e of r.bodyErrors ?? []) lines.push(`  body error      ${e.code}: ${e.message}`);
  return `${lines.join('\n')}\n`;
}
