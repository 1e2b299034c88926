import type { Command } from 'commander';
import type { RunRecord } from '../../scenario/run-record.js';
import { VERDICTS } from '../../scenario/verdict.js';
import { action } from '../action.js';
import { daemonRequest } from '../daemon-connection.js';
import { durationBetween, oneLine, table } from '../event-lines.js';
import { parseCount } from '../parse-options.js';
import { connect, parseChoice, withConnection, type ConnectionFlags } from '../rig-options.js';

/** `sphere-rig runs`: the run history, newest first, filtered; health checks marked. */
interface RunsFlags extends ConnectionFlags {
  scenario?: string;
  board?: string;
  verdict?: string;
  status?: string;
  kind?: string;
  limit: string;
  json?: boolean;
}

/** A run record as the daemon lists it: with its kind and, while queued, why it waits. */
type ListedRun = RunRecord & { kind?: 'scenario' | 'health-check'; waiting?: string | null };

const STATUSES = ['queued', 'running', 'finished'] as const;
const KINDS = ['scenario', 'health-check'] as const;
/** The most the daemon lists at once. */
const MAX_PAGE = 1000;

export function registerRunsCommand(program: Command): void {
  withConnection(
    program
      .command('runs')
      .description('List recent runs, newest first: when, result, scenario, board, duration, id and why')
      .option('--scenario <name>', 'only runs of this scenario')
      .option('--board <id>', 'only runs on this board')
      .option('--verdict <verdict>', `only finished runs with this verdict: ${VERDICTS.join(', ')}`)
      .option('--status <status>', `only runs in this status: ${STATUSES.join(', ')}`)
      .option('--kind <kind>', `only ${KINDS.join(' or ')} runs (health checks are the runs the rig queues itself to check a board)`)
      .option('--limit <n>', `how many (1..${MAX_PAGE})`, '20')
      .option('--json', 'print JSON'),
  )
    .addHelpText('after', '\nDURATION is from start to end (- while not ended); WHY is the reason of a run that did not pass, or why a queued run waits.')
    .action(action(listRuns));
}

async function listRuns(flags: RunsFlags): Promise<void> {
  const limit = parseCount(flags.limit, '--limit', 1, MAX_PAGE);
  if (flags.verdict !== undefined) parseChoice(flags.verdict, '--verdict', VERDICTS);
  if (flags.status !== undefined) parseChoice(flags.status, '--status', STATUSES);
  const kind = flags.kind === undefined ? undefined : parseChoice(flags.kind, '--kind', KINDS);
  const connection = await connect(flags);
  const query = new URLSearchParams({
    limit: String(limit),
    ...(flags.scenario ? { scenario: flags.scenario } : {}),
    ...(flags.board ? { board: flags.board } : {}),
    ...(flags.verdict ? { verdict: flags.verdict } : {}),
    ...(flags.status ? { status: flags.status } : {}),
    ...(kind ? { kind } : {}),
  });
  const page = await daemonRequest<{ runs: ListedRun[]; total: number }>(connection, 'GET', `/api/v1/runs?${query}`);
  const { runs } = page;
  if (flags.json) return void process.stdout.write(`${JSON.stringify(page, null, 2)}\n`);
  const showKind = kind !== undefined || runs.some((r) => r.kind === 'health-check');
  const rows = runs.map((r) => [
    (r.endedAt ?? r.startedAt ?? r.queuedAt).slice(0, 19).replace('T', ' '),
    r.verdict ?? r.status,
    r.scenario,
    r.boardId,
    durationBetween(r.startedAt, r.endedAt),
    ...(showKind ? [r.kind ?? 'scenario'] : []),
    r.id,
    r.status === 'queued' && r.waiting ? `waiting: ${oneLine(r.waiting, 70)}` : r.reason && r.verdict !== 'passed' ? oneLine(r.reason, 80) : '-',
  ]);
  const header = ['WHEN (UTC)', 'RESULT', 'SCENARIO', 'BOARD', 'DURATION', ...(showKind ? ['KIND'] : []), 'ID', 'WHY'];
  process.stdout.write(table([header, ...rows]));
  process.stdout.write(`${runs.length} of ${page.total}\n`);
}
