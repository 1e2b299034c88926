import type { Command } from 'commander';
import { buildCapabilityImage, MAX_CAPABILITIES } from '../../image/capability-image.js';
import { action, UsageError } from '../action.js';
import { writeOutputFile } from '../files.js';
import { parseCount } from '../parse-options.js';
import { signerFromFiles } from '../signing-input.js';

/** `sphere-rig capability build`: device capability images. */
export function registerCapabilityCommands(program: Command): void {
  const capability = program.command('capability').description('Device capability images (AppDevelopment, FieldServicing), bound to one device');
  capability
    .command('build')
    .description('Build and sign a 392-byte capability image for one device')
    .option('--device-id <hex>', 'the device ID: 128 hex characters')
    .option('--caps <list>', 'comma-separated capability numbers, e.g. 11 (AppDevelopment) or 11,13 (FieldServicing)')
    .option('--key <key.pem>', 'capability signing key')
    .option('--cert <cert.pem>', 'its certificate')
    .option('-o, --out <file>', 'where to write the capability image')
    .action(
      action(async (flags: { deviceId?: string; caps?: string; key?: string; cert?: string; out?: string }) => {
        if (!flags.deviceId || !flags.caps || !flags.out) throw new UsageError('capability build needs --device-id HEX, --caps LIST and -o OUT');
        if (!/^[0-9a-fA-F]{128}$/.test(flags.deviceId)) {
          throw new UsageError(`--device-id must be 128 hex characters, got ${flags.deviceId.length} characters`);
        }
        const caps = flags.caps.split(',').map((c) => parseCount(c.trim(), '--caps', 1, 0xffffffff));
        if (caps.length > MAX_CAPABILITIES) throw new UsageError(`--caps holds at most ${MAX_CAPABILITIES} capabilities`);
        const bytes = buildCapabilityImage({ deviceId: flags.deviceId.toLowerCase(), capabilities: caps }, signerFromFiles(flags.key, flags.cert));
        writeOutputFile(flags.out, bytes);
        process.stdout.write(`${flags.out}: ${bytes.length}-byte capability image granting ${caps.join(',')} to ${flags.deviceId.slice(0, 16)}…\n`);
      }),
    );
}
