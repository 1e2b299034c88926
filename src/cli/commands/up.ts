import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { EmulatorHost } from '../../emulator/emulator-host.js';
import { provisionEmulator, readStateFile } from '../../emulator/provisioning.js';
import { action, UsageError } from '../action.js';
import { parseCount } from '../parse-options.js';

interface UpFlags {
  state: string;
  boards: string;
  speed: string;
  listen?: string;
}

/** Where `up` keeps keys, emulator chips and (later) the run store. */
export function defaultStateDir(): string {
  return resolve(process.env.SPHERE_RIG_HOME ?? '.sphere-rig');
}

/**
 * `sphere-rig up`: the embedded default rig in the foreground. Today it brings up
 * the emulated boards (provisioned on first use); the daemon API, DAA service and
 * dashboard attach here as they are built.
 */
export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('Run the default rig in the foreground: emulated boards on loopback (provisioned on first use)')
    .option('--state <dir>', 'state folder (default: $SPHERE_RIG_HOME or ./.sphere-rig)', defaultStateDir())
    .option('--boards <n>', 'number of emulated boards', '4')
    .option('--speed <speed>', "'fast' or 'real' board timings", 'fast')
    .option('--listen <host:port>', 'reserved for the daemon API (not yet served)')
    .action(
      action(async (flags: UpFlags) => {
        if (flags.speed !== 'fast' && flags.speed !== 'real') throw new UsageError(`--speed must be fast or real, got ${flags.speed}`);
        const boards = parseCount(flags.boards, '--boards', 1, 1000);
        const emulatorState = join(resolve(flags.state), 'emulator');
        const existing = readStateFile(emulatorState);
        if (!existing || existing.boards.length < boards) {
          process.stderr.write(`provisioning ${boards} emulated board(s) in ${emulatorState}\n`);
          await provisionEmulator({ stateDir: emulatorState, count: boards, baselineApp: true });
        }
        const host = await EmulatorHost.start({ stateDir: emulatorState, boards, speed: flags.speed });
        for (const s of host.surfaces()) {
          process.stdout.write(`${s.name}  ${s.deviceId.slice(0, 16)}…  debug ${s.debugUart}  recovery ${s.recoveryUart}  control 127.0.0.1:${s.controlPort}\n`);
        }
        process.stdout.write(`${boards} emulated board(s) up; Ctrl-C to stop\n`);
        await new Promise<void>((done) => {
          process.once('SIGINT', done);
          process.once('SIGTERM', done);
        });
        await host.close();
        process.stderr.write('stopped\n');
      }),
    );
}
