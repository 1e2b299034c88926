import type { Command } from 'commander';
import { EmulatorHost } from '../../emulator/emulator-host.js';
import { provisionEmulator } from '../../emulator/provisioning.js';
import { action, UsageError } from '../action.js';
import { parseCount, parseLoopbackUrlFlag } from '../parse-options.js';

interface ProvisionFlags {
  state?: string;
  count: string;
  keys?: string;
  osVersion: string;
  securityVersion: string;
  baselineApp?: boolean;
  sdkTestCert: boolean;
  json?: boolean;
}

interface RunFlags {
  state?: string;
  boards?: string;
  speed: string;
  json?: boolean;
  poweredOff?: boolean;
  exitWithParent?: boolean;
  daaUrl?: string;
  trace?: boolean;
}

/** `sphere-rig emulator ...`: emulated MT3620 boards. */
export function registerEmulatorCommands(program: Command): void {
  const emulator = program.command('emulator').description('Emulated MT3620 boards: provision chips, run them behind real pseudo-terminals');

  emulator
    .command('provision')
    .description('Create emulated chips (identity key, fuses, flash with a signed baseline OS) in a state folder')
    .option('--state <dir>', 'state folder (created if missing)')
    .option('--count <n>', 'total number of boards wanted; existing boards are kept', '1')
    .option('--keys <dir>', 'signing keys from `sphere-rig keys generate` (default: <state>/keys, generated if missing)')
    .option('--os-version <v>', 'OS version string of the baseline image set', '22.11')
    .option('--security-version <n>', 'security version (RV) of the baseline images', '1')
    .option('--baseline-app', 'also install a production-signed idle app on every board')
    .option('--no-sdk-test-cert', "do not trust Microsoft's public SDK test certificate (SDK-built dev apps then never run)")
    .option('--json', 'print the state file as JSON')
    .addHelpText(
      'after',
      `
Layout of the state folder:
  emulator.json            boards, OS version and keys folder
  keys/                    signing keys (unless --keys names another folder)
  boards/board-NN/         one chip each: chip.json (identity key, fuses, states),
                           flash.bin (16 MiB, stored inverted so erased = sparse),
                           error-reports.json
Deleting a board folder is replacing the chip.

Example:
  sphere-rig emulator provision --state .sphere-rig/emulator --count 4`,
    )
    .action(
      action(async (flags: ProvisionFlags) => {
        if (!flags.state) throw new UsageError('emulator provision needs --state DIR');
        const state = await provisionEmulator({
          stateDir: flags.state,
          count: parseCount(flags.count, '--count', 1, 1000),
          keysDir: flags.keys,
          osVersion: flags.osVersion,
          securityVersion: parseCount(flags.securityVersion, '--security-version', 0, 0xffffffff),
          baselineApp: flags.baselineApp === true,
          trustSdkTestCert: flags.sdkTestCert,
          onProgress: flags.json ? undefined : (m) => process.stderr.write(`${m}\n`),
        });
        if (flags.json) process.stdout.write(`${JSON.stringify(state)}\n`);
        else process.stdout.write(`${state.boards.length} board(s) in ${flags.state} (OS ${state.osVersion}, keys ${state.keysDir})\n`);
      }),
    );

  emulator
    .command('run')
    .description('Run the boards of a state folder; each gets debug and recovery UARTs (ptys) and a control port')
    .option('--state <dir>', 'state folder made by `emulator provision`')
    .option('--boards <n>', 'how many of its boards to run (default: all)')
    .option('--speed <speed>', "'fast' (as fast as possible) or 'real' (real-board boot, flash and baud timings)", 'fast')
    .option('--powered-off', 'start with power off (default: powered, as when a board is plugged in)')
    .option('--exit-with-parent', 'stop when standard input closes (the daemon that started it died)')
    .option('--daa-url <url>', 'local DAA service the boards attest to (http://127.0.0.1:PORT); without it they never get a device-auth certificate')
    .option('--no-trace', "no emulator-only readable trace (its pty, emulatorTrace, is then null): proves nothing relies on what a real board does not print")
    .option('--json', 'print the surfaces as one JSON line, then keep running')
    .addHelpText(
      'after',
      `
Prints, per board: its device ID, the pty paths of its debug and recovery UARTs
(open them with any serial tool at 115200 8N1), its control port (JSON lines on
127.0.0.1, e.g. {"id":1,"cmd":"reset"}), and with --json its REST API, debug
output port (appOutputPort: a debugged app's output, TCP 2342 on a real board)
and emulator-only trace pty (emulatorTrace).

Each UART carries what a real board's does: the recovery UART the 1BL and Pluton
lines of every boot, the debug UART a diagnostics stand-in. The readable trace of
every boot stage, update and app event exists only on emulatorTrace. Commands: info, power {on}, reset,
strap {recovery}, flash-mark, power-cut {beforeOperation|disarm}, hang {stage},
corrupt {slot, imageType}, kill-app {componentId, signal}, clock {advanceMs},
timings {...}, speed {speed}, install {images: [base64]}, ota-in-progress {value},
error-report, await-settled {timeoutMs}, attest (device authentication now, with
--daa-url), device-auth.
Stops cleanly on SIGINT/SIGTERM: every flash operation is atomic, so no flash
is left half written.`,
    )
    .action(
      action(async (flags: RunFlags) => {
        if (!flags.state) throw new UsageError('emulator run needs --state DIR');
        if (flags.speed !== 'fast' && flags.speed !== 'real') throw new UsageError(`--speed must be fast or real, got ${flags.speed}`);
        const host = await EmulatorHost.start({
          stateDir: flags.state,
          boards: flags.boards === undefined ? undefined : parseCount(flags.boards, '--boards', 1, 1000),
          speed: flags.speed,
          powerOn: !flags.poweredOff,
          trace: flags.trace !== false,
          settings: flags.daaUrl === undefined ? undefined : { daaUrl: parseLoopbackUrlFlag(flags.daaUrl, '--daa-url') },
        });
        const surfaces = host.surfaces();
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ boards: surfaces })}\n`);
        } else {
          for (const s of surfaces) {
            process.stdout.write(
              `${s.name}  device ${s.deviceId.slice(0, 16)}…\n  debug ${s.debugUart}  recovery ${s.recoveryUart}  control ${s.controlHost}:${s.controlPort}\n` +
                (s.emulatorTrace ? `  trace (emulator only) ${String(s.emulatorTrace)}\n` : ''),
            );
          }
          process.stdout.write('emulator running; Ctrl-C to stop\n');
        }
        await new Promise<void>((resolveStop) => {
          const stop = () => resolveStop();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
          // A parent killed with SIGKILL cannot stop us; the closing pipe tells us instead.
          if (flags.exitWithParent) process.stdin.once('end', stop).once('close', stop).resume();
        });
        await host.close();
        // Standard input was read only to notice the parent's death: an open pipe would keep this process
        // alive after a clean stop, and the daemon waits for it to exit.
        if (flags.exitWithParent) process.stdin.destroy();
        process.stderr.write('emulator stopped\n');
      }),
    );
}
