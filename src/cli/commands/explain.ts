import type { Command } from 'commander';
import { action } from '../action.js';

/**
 * `sphere-rig explain CODE`: a device error code as Microsoft's catalog names
 * it (category, name, message). The catalog is loaded only when the command
 * runs, so other commands do not pay for it.
 */
export function registerExplainCommand(program: Command): void {
  program
    .command('explain')
    .description("name a device error code from Microsoft's error catalog (Azure Sphere OS 24.06): category, name, message")
    .argument('<code>', 'the code: decimal (7340047), 0x hex (0x02700005) or category:id (39:5)')
    .option('--json', 'print one JSON object')
    .addHelpText(
      'after',
      `
Codes are what a device answers in {"error": code} bodies, what RecoveryError
messages carry and what device logs record: category << 20 | id.

Examples:
  sphere-rig explain 7340047      ImageUpdateError::VerificationFailed
  sphere-rig explain 40894469     RecoveryError::BadSignature
  sphere-rig explain 0x02700005   the same code in hex
  sphere-rig explain 13           LinuxError::13 (errno EACCES)

Exit codes: 0 a code the catalog names, 2 a malformed code or one it does not list.`,
    )
    .action(
      action(async (text: string, flags: { json?: boolean }) => {
        const { explainDeviceErrorCode, formatExplanation } = await import('../device-error-explanation.js');
        const explanation = explainDeviceErrorCode(text);
        process.stdout.write(flags.json ? `${JSON.stringify(explanation)}\n` : formatExplanation(explanation));
      }),
    );
}
