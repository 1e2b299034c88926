import type { Command } from 'commander';
import { action } from '../action.js';
import { formatEventLine } from '../event-lines.js';
import { EventStreamClient } from '../event-stream-client.js';
import { parseCount } from '../parse-options.js';
import { connect, withConnection, type ConnectionFlags } from '../rig-options.js';

/** `sphere-rig watch`: the daemon's live events, one readable line each (or raw JSON). */
export function registerWatchCommand(program: Command): void {
  withConnection(
    program
      .command('watch')
      .description('Print live events (board states and health, runs, steps, measurements, console lines) as they happen, one line each')
      .option('--topics <patterns>', 'comma-separated topic patterns (board:*, run:*, run:<id>, console:emu-1, system, *)', 'board:*,run:*')
      .option('--since <seq>', 'replay from this sequence number')
      .option('--json', 'one raw JSON event per line'),
  )
    .addHelpText('after', '\nLines read `HH:MM:SS.mmm <board or run> <what happened>` (UTC). Ctrl-C stops.')
    .action(
      action(async (flags: ConnectionFlags & { topics: string; since?: string; json?: boolean }) => {
        const since = flags.since === undefined ? null : parseCount(flags.since, '--since', 0, Number.MAX_SAFE_INTEGER);
        const topics = flags.topics.split(',').map((t) => t.trim()).filter(Boolean);
        const connection = await connect(flags);
        const stream = new EventStreamClient(
          connection,
          topics,
          (event) => process.stdout.write(flags.json ? `${JSON.stringify(event)}\n` : `${formatEventLine(event)}\n`),
          (status, detail) => process.stderr.write(`[${status}]${detail === undefined ? '' : ` ${String(detail)}`}\n`),
        );
        await stream.start(since);
        try {
          await Promise.race([
            stream.ended,
            new Promise<void>((done) => {
              process.once('SIGINT', done);
              process.once('SIGTERM', done);
            }),
          ]);
        } finally {
          stream.close();
        }
      }),
    );
}
