import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  generateSigningRoles,
  SIGNING_KEYS_INDEX_FILE,
  SIGNING_KEYSTORE_FILE,
  SIGNING_ROLE_INFO,
  SIGNING_ROLES,
  writeSigningRoles,
} from '../../pki/signing-roles.js';
import { action, UsageError } from '../action.js';

interface KeysGenerateOptions {
  out?: string;
  force?: boolean;
  json?: boolean;
}

const ROLE_HELP = SIGNING_ROLES.map((role) => `  ${role.padEnd(16)} ${wrap(`signs ${SIGNING_ROLE_INFO[role].signs}`, 60, 19)}`).join('\n');

/** `sphere-rig keys ...`: the rig's own image signing keys. */
export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description("Manage the rig's own image signing keys (OS, apps, capabilities)");

  keys
    .command('generate')
    .description('Generate a fresh P-256 key and self-signed certificate for every signing role')
    .option('--out <dir>', 'directory to write the key set into (created, mode 0700, if missing)')
    .option('--force', 'replace a key set already in the directory (the old keys are lost)')
    .option('--json', 'print the result as one JSON object on stdout')
    .addHelpText(
      'after',
      `
Roles:
${ROLE_HELP}

Files written to DIR:
  <role>.key.pem   the role's private key (PKCS#8 PEM, mode 0600): keep it secret
  <role>.cert.pem  the role's self-signed certificate (20 years); images name it by
                   the SHA-1 thumbprint of this certificate
  ${SIGNING_KEYSTORE_FILE.padEnd(16)} every certificate in one bundle: what an emulated board's
                   trusted keystore holds
  ${SIGNING_KEYS_INDEX_FILE.padEnd(16)} index of roles, file names, thumbprints and subjects

Existing keys are never overwritten without --force.

Example:
  sphere-rig keys generate --out state/keys`,
    )
    .action(
      action(async (options: KeysGenerateOptions) => {
        if (options.out === undefined || options.out.trim() === '') {
          throw new UsageError('keys generate needs --out DIR, the directory to write the keys into');
        }
        const dir = resolve(options.out);
        const roles = await generateSigningRoles();
        const index = await writeSigningRoles(dir, roles, { force: options.force === true });
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ ok: true, dir, ...index })}\n`);
          return;
        }
        const lines = index.roles.map((entry) => `  ${entry.role.padEnd(16)} ${entry.thumbprint}  ${entry.key}, ${entry.cert}`);
        process.stdout.write(
          `Wrote ${index.roles.length} signing keys to ${dir}\n` +
            `  ${'role'.padEnd(16)} ${'SHA-1 thumbprint'.padEnd(40)}  files\n` +
            `${lines.join('\n')}\n` +
            `  keystore bundle: ${SIGNING_KEYSTORE_FILE}, index: ${SIGNING_KEYS_INDEX_FILE}\n`,
        );
      }),
    );
}

/** Wraps help text at `width` columns, indenting continuation lines. */
function wrap(text: string, width: number, indent: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}
