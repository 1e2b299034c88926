import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { runsToJUnitXml } from '../../daemon/junit-report.js';
import type { RunRecord } from '../../scenario/run-record.js';
import { combineVerdicts, type Verdict } from '../../scenario/verdict.js';
import { action, UsageError } from '../action.js';
import { daemonRequest, type DaemonConnection } from '../daemon-connection.js';
import { clockTime, oneLine, verdictMark } from '../event-lines.js';
import { EventStreamClient } from '../event-stream-client.js';
import { exitCodeFor, ExitCode } from '../exit-codes.js';
import { parseCount } from '../parse-options.js';
import { connect, withConnection, type ConnectionFlags } from '../rig-options.js';
import { RunFollower, waitForRuns } from '../run-follower.js';

/**
 * `sphere-rig run`: submit a scenario, follow its runs live (why they wait, when
 * they start, each step), write JUnit/JSON, exit with the worst verdict. Ctrl-C
 * cancels what it submitted (teardowns run) unless --detach.
 */
interface RunFlags extends ConnectionFlags {
  board?: string;
  tags?: string;
  param?: string[];
  sample?: string;
  junit?: string;
  json?: boolean;
  wait: boolean;
  detach?: boolean;
  holdOnFailure?: string;
}

/** How long a Ctrl-C waits for the cancelled runs to end: their teardowns run (power off, clean up). */
const CANCEL_WAIT_MS = 90_000;

export const RUN_EXIT_CODES = `
Exit codes:
  0  every run passed (or --no-wait / --detach: submitted)
  1  a run failed its test (test-failed)
  2  usage error: bad flags, unknown scenario, board or parameter, a refused or missing token
  3  infrastructure error: daemon unreachable or not ready, a run ended infra-error, a board unavailable (409)
  4  device fault (the board misbehaved)
  5  timeout
  6  cancelled (also after Ctrl-C, which cancels the submitted runs)
  7  not applicable
  8  no USB access
With several runs the worst verdict decides (cancelled > infra-error > device-fault > timeout > test-failed).`;

export function registerRunCommand(program: Command): void {
  withConnection(
    program
      .command('run')
      .argument('<scenario>', 'scenario name (see `sphere-rig scenarios`)')
      .description('Run a scenario on a board or on every board with the tags; prints why runs wait, when they start and each step; exit 0 only if every run passed')
      .option('--board <id>', 'the board to run on')
      .option('--tags <tags>', 'comma-separated tags: every board having all of them ("all" matches every board)')
      .option('--param <key=value...>', 'scenario parameter (repeatable); sent as text, the daemon converts it to the declared type')
      .option('--sample <n>', 'for power-cut-update: check an evenly spread sample of n cut points')
      .option('--hold-on-failure <minutes>', 'if a run does not pass, keep its board leased to you for MINUTES (1..1440) to look at it; `sphere-rig release BOARD` gives it back')
      .option('--junit <file>', 'write the runs as JUnit XML')
      .option('--json', 'print the run records as JSON at the end (progress goes to stderr)')
      .option('--no-wait', 'submit and print the run ids without waiting')
      .option('--detach', 'on Ctrl-C, leave the runs running (and say how to follow them) instead of cancelling them'),
  )
    .addHelpText(
      'after',
      `
Progress: "queued ID", "waiting BOARD REASON" while the board is leased, in
maintenance or being checked, "started ID", then one line per step.
Ctrl-C (or SIGTERM) cancels the runs this command submitted, waits up to 90 s
for them to end (their teardown runs) and exits 6; with --detach it leaves them
running and prints how to follow them. A second Ctrl-C exits at once.
${RUN_EXIT_CODES}`,
    )
    .action(action(runCommand));
}

async function runCommand(scenario: string, flags: RunFlags): Promise<number> {
  if (!flags.board && !flags.tags) throw new UsageError('run needs --board ID or --tags T');
  const params: Record<string, unknown> = {};
  for (const pair of flags.param ?? []) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new UsageError(`--param needs key=value, got ${JSON.stringify(pair)}`);
    params[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  if (flags.sample !== undefined) params.sample = parseCount(flags.sample, '--sample', 1, 1_000_000);
  const hold = flags.holdOnFailure === undefined ? undefined : parseCount(flags.holdOnFailure, '--hold-on-failure', 1, 1440);
  // Flags first: a bad flag is a usage error whether or not a daemon is there.
  const connection = await connect(flags);
  const out = flags.json ? process.stderr : process.stdout;

  const interrupt = flags.wait ? new Interrupt() : undefined;
  const follower = new RunFollower(out);
  const stream = new EventStreamClient(connection, ['run:*'], follower.onEvent, (status) => {
    if (status === 'reconnecting') out.write('… connection to the daemon lost; reconnecting\n');
  });
  try {
    if (flags.wait) await stream.start();
    if (interrupt?.signal) {
      process.stderr.write(`interrupted (${interrupt.label}) before submitting: nothing submitted\n`);
      return ExitCode.cancelled;
    }
    const submitted = await daemonRequest<{ runs: Array<{ id: string; boardId: string; scenario?: string; waiting?: string | null }> }>(connection, 'POST', '/api/v1/runs', {
      scenario,
      ...(flags.board ? { boardId: flags.board } : {}),
      ...(flags.tags ? { tags: flags.tags.split(',').map((t) => t.trim()).filter(Boolean) } : {}),
      ...(Object.keys(params).length ? { params } : {}),
      ...(hold !== undefined ? { holdOnFailureMinutes: hold } : {}),
    });
    follower.adopt(submitted.runs.map((r) => ({ id: r.id, boardId: r.boardId, scenario: r.scenario ?? scenario, waiting: r.waiting ?? null })));
    if (!flags.wait) {
      if (flags.json) process.stdout.write(`${JSON.stringify(submitted)}\n`);
      return ExitCode.ok;
    }

    const outcome = await waitForRuns(connection, follower, interrupt!.happened);
    let cancelled = false;
    if (outcome === 'stopped' && follower.pending.length) {
      const pending = follower.pending;
      if (flags.detach) {
        const topics = pending.map((id) => `run:${id}`).join(',');
        out.write(`detached (${interrupt!.label}): ${pending.length} run${pending.length === 1 ? '' : 's'} left running on the rig; follow with: sphere-rig watch --topics ${topics}\n`);
        if (flags.json) process.stdout.write(`${JSON.stringify({ detached: true, runs: submitted.runs })}\n`);
        return ExitCode.ok;
      }
      cancelled = true;
      process.stderr.write(`cancelling ${pending.length} run${pending.length === 1 ? '' : 's'} (${interrupt!.label}); --detach leaves them running\n`);
      await cancelAndWait(connection, follower, pending);
    }

    const records = await Promise.all(follower.ids.map((id) => daemonRequest<RunRecord>(connection, 'GET', `/api/v1/runs/${id}`)));
    if (flags.junit) writeFileSync(flags.junit, runsToJUnitXml(records, { name: scenario }));
    if (flags.json) process.stdout.write(`${JSON.stringify({ runs: records }, null, 2)}\n`);
    for (const r of records) out.write(`${verdictMark(r.verdict ?? r.status).padEnd(12)} ${r.boardId}  ${r.scenario}${r.reason ? `  (${oneLine(r.reason, 500)})` : ''}\n`);
    if (hold !== undefined) await reportHeldBoards(connection, records, out);
    if (cancelled) return ExitCode.cancelled;
    const verdict = combineVerdicts(records.map((r) => (r.verdict ?? 'infra-error') as Verdict));
    return verdict === 'passed' ? ExitCode.ok : exitCodeFor(verdict);
  } finally {
    stream.close();
    interrupt?.dispose();
  }
}

/** Cancel each run still going, then wait (bounded) for their ends: teardowns run. */
async function cancelAndWait(connection: DaemonConnection, follower: RunFollower, ids: string[]): Promise<void> {
  await Promise.all(
    ids.map((id) =>
      daemonRequest(connection, 'POST', `/api/v1/runs/${id}/cancel`).catch((error: Error) => {
        // A run that ended meanwhile is not active any more: nothing to cancel.
        if (!/run-not-active|not queued or running/.test(`${(error as { code?: string }).code} ${error.message}`)) process.stderr.write(`could not cancel ${id}: ${error.message}\n`);
      }),
    ),
  );
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, CANCEL_WAIT_MS)));
  const outcome = await waitForRuns(connection, follower, deadline);
  clearTimeout(timer);
  if (outcome === 'stopped') process.stderr.write(`${follower.pending.length} run(s) did not end within ${CANCEL_WAIT_MS / 1000} s of being cancelled: ${follower.pending.join(', ')}\n`);
}

interface BoardLease {
  holder: string;
  kind: string;
  expiresAt: string | null;
}

/** After --hold-on-failure: who holds each board of a run that did not pass, until when, and how to give it back. */
async function reportHeldBoards(connection: DaemonConnection, records: RunRecord[], out: NodeJS.WritableStream): Promise<void> {
  for (const run of records.filter((r) => r.verdict !== 'passed')) {
    let lease: BoardLease | null = null;
    // The hold is taken as the run ends; give the daemon a moment if the board is still between the two.
    for (let attempt = 0; attempt < 10 && lease?.kind !== 'manual'; attempt++) {
      if (attempt) await new Promise((resolve) => setTimeout(resolve, 200));
      const board = await daemonRequest<{ lease: BoardLease | null }>(connection, 'GET', `/api/v1/boards/${encodeURIComponent(run.boardId)}`).catch(() => null);
      lease = board?.lease ?? null;
    }
    if (lease?.kind === 'manual') {
      out.write(
        `held     ${run.boardId} stays leased to you (${lease.holder}) until ${clockTime(lease.expiresAt)} to look at it; release it with: sphere-rig release ${run.boardId}\n`,
      );
    } else {
      out.write(`held     ${run.boardId} is not held for you (the daemon kept no lease after the run: ${lease ? `leased by ${lease.holder}` : 'free'})\n`);
    }
  }
}

/**
 * SIGINT/SIGTERM while following runs: the first one is reported (the command
 * cancels or detaches); a second one exits at once.
 */
class Interrupt {
  signal: NodeJS.Signals | undefined;
  readonly happened: Promise<NodeJS.Signals>;
  #resolve: (signal: NodeJS.Signals) => void = () => undefined;
  readonly #handler = (signal: NodeJS.Signals): void => {
    if (this.signal) {
      process.stderr.write(`${signal === 'SIGINT' ? 'second Ctrl-C' : signal}: exiting now; runs not ended yet may still be going\n`);
      process.exit(ExitCode.cancelled);
    }
    this.signal = signal;
    this.#resolve(signal);
  };

  constructor() {
    this.happened = new Promise((resolve) => (this.#resolve = resolve));
    process.on('SIGINT', this.#handler);
    process.on('SIGTERM', this.#handler);
  }

  get label(): string {
    return this.signal === 'SIGINT' ? 'Ctrl-C' : (this.signal ?? 'signal');
  }

  dispose(): void {
    process.off('SIGINT', this.#handler);
    process.off('SIGTERM', this.#handler);
  }
}
