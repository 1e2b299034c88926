import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { DEFAULT_LISTEN, loadRigConfig } from '../../daemon/rig-config.js';
import { action } from '../action.js';
import { parseLoopbackFlag } from '../parse-options.js';

/** Where `up` keeps keys, emulator chips, the DAA service and the run store. */
export function defaultStateDir(): string {
  return resolve(process.env.SPHERE_RIG_HOME ?? '.sphere-rig');
}

const DEFAULT_RIG = fileURLToPath(new URL('../../../rigs/default.yaml', import.meta.url));
const DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));

interface UpFlags {
  rig: string;
  state: string;
  listen?: string;
  scenarios?: string[];
}

/**
 * `sphere-rig up`: the daemon in the foreground with its rig: emulated boards
 * (provisioned on first use), the local DAA service, the API, the event stream
 * and the dashboard, on loopback.
 */
export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('Run the rig daemon in the foreground: boards, DAA service, API, live stream and dashboard on loopback')
    .option('--rig <file>', 'rig inventory (YAML)', DEFAULT_RIG)
    .option('--state <dir>', 'state folder (default: $SPHERE_RIG_HOME or ./.sphere-rig)', defaultStateDir())
    .option('--listen <host:port>', `loopback address to serve on, 127.0.0.1:PORT or [::1]:PORT; port 0: any free port (default: the rig's daemon.listen, ${DEFAULT_LISTEN})`)
    .option('--scenarios <dir...>', 'extra scenario folders')
    .addHelpText(
      'after',
      `
On first start the emulated boards are provisioned and an admin API token is
written to <state>/admin.token (mode 0600). Other commands (run, boards, runs,
watch) find the daemon and the token through <state>; scripts pass
--daemon URL --token TOKEN or set SPHERE_RIG_URL / SPHERE_RIG_TOKEN.
Ctrl-C stops it: running scenarios are cancelled (their teardown runs) and
nothing finished is lost.

It prints a line starting "ready" once every board of the rig is registered
and the DAA service is up (GET /api/v1/health then answers ready: true);
client commands wait for that with --wait-ready. Every board is health-checked
(power on, services up, attestation) before its first run.

The daemon serves on a literal loopback address only (127.0.0.0/8, ::1), from
--listen or the rig's daemon.listen. Host names, localhost included, are refused
(what they resolve to is not ours to guarantee: give 127.0.0.1), and so are
0.0.0.0 and :: (every interface). In a container, run it with the host's network
(docker run --network host) to reach it on the host's 127.0.0.1.`,
    )
    .action(
      action(async (flags: UpFlags) => {
        const listen = flags.listen === undefined ? undefined : parseLoopbackFlag(flags.listen, '--listen', { use: 'listen' });
        const rig = loadRigConfig(flags.rig);
        // Loaded here, not at the top: every other command (and its start-up time) does without the daemon's code.
        const { Daemon } = await import('../../daemon/daemon.js');
        const daemon = await Daemon.start({
          rig,
          stateDir: flags.state,
          listen,
          dashboardDir: existsSync(DASHBOARD_DIR) ? DASHBOARD_DIR : undefined,
          scenarioDirs: flags.scenarios,
        });
        process.stdout.write(`sphere-rig daemon up at ${daemon.url} (rig ${rig.name}, ${daemon.registry.boards.size} boards)\n`);
        for (const board of daemon.registry.boards.values()) {
          process.stdout.write(`  ${board.identity.id.padEnd(10)} ${board.identity.driver.padEnd(9)} ${board.state().padEnd(12)} ${board.identity.deviceId?.slice(0, 16) ?? '-'}…\n`);
        }
        process.stdout.write(
          `dashboard  ${daemon.url}/\nAPI token  ${daemon.adminToken.path}${daemon.adminToken.created ? ' (new)' : ''}\n` +
            `try        sphere-rig run boot-smoke --tags all\nCtrl-C to stop\n`,
        );
        // One line a supervising script can wait for: every board registered, the DAA service up
        // (GET /api/v1/health says ready: true from now on; boards are health-checked before their first run).
        process.stdout.write(`ready      ${daemon.url}\n`);
        await new Promise<void>((done) => {
          process.once('SIGINT', done);
          process.once('SIGTERM', done);
        });
        process.stderr.write('stopping…\n');
        await daemon.close();
        process.stderr.write('stopped\n');
      }),
    );
}
