import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { registerCommands } from './commands/index.js';
import { ExitCode } from './exit-codes.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

// `sphere-rig ... | head` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const program = new Command('sphere-rig')
  .description('Hardware-in-the-loop test rig for Azure Sphere MT3620 boards: signed images, an emulator, recovery, attestation, scenarios and a live dashboard.')
  .version(pkg.version)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

program.addHelpText(
  'after',
  `
Exit codes: 0 ok, 1 test failed, 2 usage error (bad flags; unknown scenario,
board, run or parameter; a missing or refused token), 3 infrastructure error
(daemon unreachable or not ready, busy or unavailable board, daemon fault),
4 device fault, 5 timeout, 6 cancelled, 7 not applicable, 8 no USB access.`,
);

registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end here with code 0; bad usage with 2.
    process.exitCode = error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  } else {
    throw error;
  }
}
