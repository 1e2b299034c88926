import type { Command } from 'commander';
import { action, isCallerMistake } from '../action.js';
import { daemonRequest } from '../daemon-connection.js';
import { clockTime } from '../event-lines.js';
import { ExitCode } from '../exit-codes.js';
import { connect, parseDuration, withConnection, type ConnectionFlags } from '../rig-options.js';

/**
 * Holding boards and stopping runs by hand: `lease BOARD` (runs wait until it is
 * released or expires), `release BOARD`, `cancel RUN...`.
 */
interface LeaseJson {
  boardId: string;
  holder: string;
  kind: string;
  expiresAt: string | null;
}

const boardPath = (id: string): string => `/api/v1/boards/${encodeURIComponent(id)}`;

export function registerLeaseCommands(program: Command): void {
  withConnection(
    program
      .command('lease')
      .argument('<board>', 'board id')
      .description('Hold a board for yourself (operator): runs for it wait until you release it or the lease expires; again to renew')
      .option('--ttl <duration>', 'how long: 90s, 30m, 2h or milliseconds (1s..24h)', '30m')
      .option('--json', 'print the lease as JSON'),
  )
    .addHelpText('after', '\nThe lease is held as manual:<token name>; only the same token renews or releases it.\nExit codes: 0 leased; 2 unknown board or bad --ttl; 3 the board is busy (a run or another holder has it).')
    .action(
      action(async (board: string, flags: ConnectionFlags & { ttl: string; json?: boolean }) => {
        const ttlMs = parseDuration(flags.ttl, '--ttl', 1_000, 86_400_000);
        const connection = await connect(flags);
        const lease = await daemonRequest<LeaseJson>(connection, 'POST', `${boardPath(board)}/lease`, { ttlMs });
        if (flags.json) return void process.stdout.write(`${JSON.stringify(lease, null, 2)}\n`);
        process.stdout.write(`${lease.boardId}  leased to ${lease.holder} until ${clockTime(lease.expiresAt)} (${lease.expiresAt ?? 'no expiry'}); release with: sphere-rig release ${lease.boardId}\n`);
      }),
    );

  withConnection(program.command('release').argument('<board>', 'board id').description('Give back a board you leased (`lease`, or held after a failed run by --hold-on-failure); queued runs start')).action(
    action(async (board: string, flags: ConnectionFlags) => {
      const connection = await connect(flags);
      await daemonRequest(connection, 'DELETE', `${boardPath(board)}/lease`);
      // The daemon releases only a lease of the same token: say what is left.
      const after = await daemonRequest<{ lease: LeaseJson | null }>(connection, 'GET', boardPath(board));
      if (after.lease && after.lease.kind === 'manual') {
        process.stderr.write(`sphere-rig: ${board} is leased by ${after.lease.holder} until ${clockTime(after.lease.expiresAt)}, not by this token: nothing released\n`);
        return ExitCode.usage;
      }
      process.stdout.write(`${board}  released\n`);
      return ExitCode.ok;
    }),
  );

  withConnection(
    program
      .command('cancel')
      .argument('<run...>', 'run ids (see `sphere-rig runs --status running`)')
      .description('Cancel queued or running runs (operator); a running one ends after its teardown'),
  )
    .addHelpText('after', '\nExit codes: 0 every run cancelled; 2 a run id is unknown or the run is not queued or running (each is named).')
    .action(
      action(async (runs: string[], flags: ConnectionFlags) => {
        const connection = await connect(flags);
        let code: number = ExitCode.ok;
        for (const id of runs) {
          try {
            await daemonRequest(connection, 'POST', `/api/v1/runs/${encodeURIComponent(id)}/cancel`);
            process.stdout.write(`cancelled  ${id}\n`);
          } catch (error) {
            if (!isCallerMistake(error)) throw error;
            const message = (error as Error).message;
            process.stderr.write(`sphere-rig: ${message.includes(id) ? message : `${id}: ${message}`}\n`);
            code = ExitCode.usage;
          }
        }
        return code;
      }),
    );
}
