import type { Command } from 'commander';
import type { RunRecord } from '../../scenario/run-record.js';
import type { Verdict } from '../../scenario/verdict.js';
import { action, UsageError } from '../action.js';
import { daemonRequest } from '../daemon-connection.js';
import { clockTime, oneLine, table, verdictMark } from '../event-lines.js';
import { EventStreamClient } from '../event-stream-client.js';
import { exitCodeFor, ExitCode } from '../exit-codes.js';
import { connect, parseChoice, withConnection, type ConnectionFlags } from '../rig-options.js';
import { RunFollower, waitForRuns } from '../run-follower.js';

/**
 * `sphere-rig boards`: the rig's boards (state, health, lease, what runs), and
 * what an operator does to one: power, reset, health (show, check, maintenance,
 * retire). `boards` alone lists; `boards discover` (discover.ts) maps USB.
 *
 * The connection flags and --json/--wide belong to `boards` itself; commander
 * gives them to the parent wherever they stand, so subcommands read them
 * merged with their own (optsWithGlobals).
 */
export interface BoardHealth {
  status: 'good' | 'unknown' | 'bad' | 'maintenance' | 'retired';
  reason: string | null;
  since: string;
  checking: boolean;
  lastCheck: { runId: string; verdict: Verdict; endedAt: string } | null;
}

export interface BoardJson {
  id: string;
  driver: string;
  state: string;
  deviceId: string | null;
  tags?: string[];
  osVersion: string | null;
  health?: BoardHealth;
  lease: { boardId: string; holder: string; kind: string; expiresAt: string | null } | null;
  runningRun: { id: string; scenario: string } | null;
  queuedRuns: number;
  lastRun?: { id: string; scenario: string; verdict: Verdict; reason: string | null; endedAt: string } | null;
  waiting?: string | null;
  error?: string;
  offlineReason?: string;
}

interface BoardsFlags extends ConnectionFlags {
  json?: boolean;
  wide?: boolean;
}

const opts = <T extends object>(command: Command): T => command.optsWithGlobals() as T;
const boardPath = (id: string): string => `/api/v1/boards/${encodeURIComponent(id)}`;

export function registerBoardsCommands(program: Command): void {
  const boards = withConnection(
    program
      .command('boards')
      .description("List the rig's boards: state, health, OS version, lease, running run; subcommands act on one board")
      .option('--json', 'print JSON')
      .option('--wide', 'also show tags and why queued runs wait'),
  )
    .addHelpText(
      'after',
      `
Columns: HEALTH is good, unknown (a health check is due), bad (its last check
failed: it takes no runs), maintenance or retired; "+check" when a check is
queued or running. LEASE is a manual lease's holder and until when (UTC); RUN
the running scenario, or how many runs are queued.`,
    )
    .action(action(async (flags: BoardsFlags) => listBoards(flags)));

  const sub = (name: string, description: string): Command => boards.command(name).description(description).configureHelp({ showGlobalOptions: true });

  sub('power', 'Power a board on or off (operator); refused (exit 3) while someone else holds it')
    .argument('<board>', 'board id')
    .argument('<state>', 'on or off')
    .action(
      action(async (board: string, state: string, _o: unknown, command: Command) => {
        const on = parseChoice(state, 'power state', ['on', 'off'] as const) === 'on';
        return boardAction(opts(command), board, on ? 'power-on' : 'power-off');
      }),
    );
  sub('reset', 'Reset a board (operator)')
    .argument('<board>', 'board id')
    .action(action(async (board: string, _o: unknown, command: Command) => boardAction(opts(command), board, 'reset')));
  sub('power-cycle', 'Power a board off and on again (operator)')
    .argument('<board>', 'board id')
    .action(action(async (board: string, _o: unknown, command: Command) => boardAction(opts(command), board, 'power-cycle')));

  sub('health', "Show a board's health; --check runs a health check now and exits with its verdict")
    .argument('<board>', 'board id')
    .option('--check', 'queue a health check (first in the board\'s queue, or the one already queued), follow it and exit with its verdict\'s code')
    .addHelpText('after', '\nExit codes: 0 shown (or the check passed); with --check the code of its verdict (1 test failed, 3 infra error, 4 device fault, 5 timeout, 6 cancelled); 2 unknown board.')
    .action(action(async (board: string, _o: unknown, command: Command) => boardHealth(opts(command), board)));

  sub('recover', "Recover a board over its recovery UART to the rig's baseline OS (one stuck in ROM included), then check it as a health check does; follows it and exits with its verdict (operator)")
    .argument('<board>', 'board id')
    .addHelpText('after', '\nRuns the built-in scenario recover-baseline ahead of the board\'s queue. Exit codes as for `boards health --check`.')
    .action(action(async (board: string, _o: unknown, command: Command) => boardHealth({ ...opts(command), check: true }, board, 'recover')));

  sub('maintenance', 'Take a board out of service (on) or give it back (off: a health check runs first) (operator)')
    .argument('<board>', 'board id')
    .argument('<mode>', 'on or off')
    .option('--reason <text>', 'why (shown in `boards` and the dashboard)')
    .addHelpText('after', '\nIn maintenance a board takes no runs: runs asked for it by id wait, runs asked by tags go to other boards.')
    .action(
      action(async (board: string, mode: string, _o: unknown, command: Command) => {
        const on = parseChoice(mode, 'maintenance mode', ['on', 'off'] as const) === 'on';
        return setHealth(opts(command), board, on ? 'maintenance' : 'unknown');
      }),
    );
  sub('retire', 'Retire a board: it takes no runs any more (operator); `boards maintenance BOARD off` brings it back')
    .argument('<board>', 'board id')
    .option('--reason <text>', 'why')
    .action(action(async (board: string, _o: unknown, command: Command) => setHealth(opts(command), board, 'retired')));
}

async function listBoards(flags: BoardsFlags): Promise<void> {
  const connection = await connect(flags);
  const boards = await daemonRequest<BoardJson[]>(connection, 'GET', '/api/v1/boards');
  if (flags.json) return void process.stdout.write(`${JSON.stringify(boards, null, 2)}\n`);
  const rows = boards.map((b) => {
    const health = b.health ? `${b.health.status}${b.health.checking ? '+check' : ''}` : '-';
    const lease = b.lease && b.lease.kind !== 'run' ? `${b.lease.holder}${b.lease.expiresAt ? ` until ${clockTime(b.lease.expiresAt)}` : ''}` : '-';
    const run = b.runningRun
      ? `${b.runningRun.scenario}${b.queuedRuns ? ` +${b.queuedRuns} queued` : ''}`
      : b.queuedRuns
        ? `${b.queuedRuns} queued`
        : '-';
    const row = [b.id, b.driver, b.state, health, b.osVersion ?? '-', b.deviceId ? b.deviceId.slice(0, 16) : '-', lease, run];
    if (flags.wide) row.push((b.tags ?? []).join(',') || '-', b.waiting ? oneLine(b.waiting, 120) : '-');
    return row;
  });
  const header = ['BOARD', 'DRIVER', 'STATE', 'HEALTH', 'OS', 'DEVICE', 'LEASE', 'RUN', ...(flags.wide ? ['TAGS', 'WAITING'] : [])];
  process.stdout.write(table([header, ...rows]));
}

async function boardAction(flags: ConnectionFlags, board: string, act: 'power-on' | 'power-off' | 'reset' | 'power-cycle'): Promise<void> {
  const connection = await connect(flags);
  const answer = await daemonRequest<{ board: string; action: string; state: string }>(connection, 'POST', `${boardPath(board)}/actions`, { action: act }, { timeoutMs: 90_000 });
  process.stdout.write(`${answer.board ?? board}  ${act} done; state ${answer.state}\n`);
}

async function setHealth(flags: ConnectionFlags & { reason?: string; json?: boolean }, board: string, status: 'maintenance' | 'retired' | 'unknown'): Promise<void> {
  if (flags.reason !== undefined && !flags.reason.trim()) throw new UsageError('--reason must not be empty');
  const connection = await connect(flags);
  const health = await daemonRequest<BoardHealth>(connection, 'PUT', `${boardPath(board)}/health`, { status, ...(flags.reason ? { reason: flags.reason } : {}) });
  if (flags.json) return void process.stdout.write(`${JSON.stringify(health, null, 2)}\n`);
  const note = status === 'unknown' ? ' (back in service after a health check)' : '';
  process.stdout.write(`${board}  health ${health.status}${health.checking ? ', checking' : ''}${health.reason ? `: ${oneLine(health.reason)}` : ''}${note}\n`);
}

async function boardHealth(flags: ConnectionFlags & { check?: boolean; json?: boolean }, id: string, how: 'health-check' | 'recover' = 'health-check'): Promise<number> {
  const connection = await connect(flags);
  if (!flags.check) {
    const board = await daemonRequest<BoardJson>(connection, 'GET', boardPath(id));
    process.stdout.write(flags.json ? `${JSON.stringify(board.health ?? null, null, 2)}\n` : describeHealth(board));
    return ExitCode.ok;
  }
  const out = flags.json ? process.stderr : process.stdout;
  const follower = new RunFollower(out);
  const stream = new EventStreamClient(connection, ['run:*'], follower.onEvent, (status) => {
    if (status === 'reconnecting') out.write('… connection to the daemon lost; reconnecting\n');
  });
  try {
    await stream.start();
    const { runId } = await daemonRequest<{ runId: string }>(connection, 'POST', `${boardPath(id)}/${how}`);
    follower.adopt([{ id: runId, boardId: id, scenario: how === 'recover' ? 'recover-baseline' : 'health-check' }]);
    await waitForRuns(connection, follower);
  } finally {
    stream.close();
  }
  const [run] = follower.ids;
  const record = await daemonRequest<RunRecord>(connection, 'GET', `/api/v1/runs/${run}`);
  const board = await daemonRequest<BoardJson>(connection, 'GET', boardPath(id));
  if (flags.json) process.stdout.write(`${JSON.stringify({ run: record, health: board.health ?? null }, null, 2)}\n`);
  out.write(`${verdictMark(record.verdict).padEnd(12)} ${id}  ${record.scenario}${record.reason ? `  (${oneLine(record.reason, 500)})` : ''}\n`);
  out.write(describeHealth(board));
  return record.verdict === 'passed' ? ExitCode.ok : exitCodeFor((record.verdict ?? 'infra-error') as Exclude<Verdict, 'passed'>);
}

function describeHealth(board: BoardJson): string {
  const h = board.health;
  if (!h) return `${board.id}  health not reported by this daemon (state ${board.state})\n`;
  const lines = [
    `${board.id}  health ${h.status}${h.checking ? ' (a health check is queued or running)' : ''}, since ${h.since}`,
    `  reason      ${h.reason ? oneLine(h.reason, 500) : '-'}`,
    `  last check  ${h.lastCheck ? `${verdictMark(h.lastCheck.verdict)} at ${h.lastCheck.endedAt} (run ${h.lastCheck.runId})` : 'never'}`,
    `  last run    ${board.lastRun ? `${verdictMark(board.lastRun.verdict)} ${board.lastRun.scenario} at ${board.lastRun.endedAt}${board.lastRun.reason ? `: ${oneLine(board.lastRun.reason)}` : ''}` : '-'}`,
    `  waiting     ${board.waiting ? oneLine(board.waiting, 500) : '-'}`,
  ];
  return `${lines.join('\n')}\n`;
}
