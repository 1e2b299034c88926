import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { runsToJUnitXml } from '../../daemon/junit-report.js';
import type { RunRecord } from '../../scenario/run-record.js';
import { combineVerdicts, type Verdict } from '../../scenario/verdict.js';
import { action, UsageError } from '../action.js';
import { daemonRequest, resolveDaemon, type DaemonConnection } from '../daemon-connection.js';
import { EventStreamClient, type StreamEvent } from '../event-stream-client.js';
import { exitCodeFor, ExitCode } from '../exit-codes.js';
import { parseCount } from '../parse-options.js';

/**
 * Commands for lab scripts and CI that talk to a running daemon:
 * run (submit, stream progress, JUnit/JSON, exit code), boards, runs, watch.
 */
interface ConnectionFlags {
  daemon?: string;
  token?: string;
  state?: string;
}

function withConnection(command: Command): Command {
  return command
    .option('--daemon <url>', 'daemon URL, http:// on loopback (default: SPHERE_RIG_URL or <state>/daemon.json)')
    .option('--token <token>', 'API token (default: SPHERE_RIG_TOKEN or <state>/admin.token)')
    .option('--state <dir>', 'state folder of `sphere-rig up` (default: $SPHERE_RIG_HOME or ./.sphere-rig)');
}

const VERDICT_MARK: Record<string, string> = {
  passed: 'PASS',
  'test-failed': 'FAIL',
  'device-fault': 'DEVICE-FAULT',
  'infra-error': 'INFRA-ERROR',
  timeout: 'TIMEOUT',
  cancelled: 'CANCELLED',
  'not-applicable': 'N/A',
};

export function registerRigCommands(program: Command): void {
  withConnection(
    program
      .command('run')
      .argument('<scenario>', 'scenario name (see `sphere-rig scenarios`)')
      .description('Run a scenario on a board or on every board with the tags; streams progress; exit 0 only if every run passed')
      .option('--board <id>', 'the board to run on')
      .option('--tags <tags>', 'comma-separated tags: every board having all of them ("all" matches every board)')
      .option('--param <key=value...>', 'scenario parameter (repeatable); values are JSON when they parse as JSON')
      .option('--sample <n>', 'for power-cut-update: check an evenly spread sample of n cut points')
      .option('--junit <file>', 'write the runs as JUnit XML')
      .option('--json', 'print the run records as JSON at the end (progress goes to stderr)')
      .option('--no-wait', 'submit and print the run ids without waiting'),
  )
    .addHelpText('after', '\nExit codes: 0 all passed; otherwise the code of the worst verdict (1 test failed, 3 infra error, 4 device fault, 5 timeout, 6 cancelled, 7 not applicable).')
    .action(
      action(async (scenario: string, flags: ConnectionFlags & { board?: string; tags?: string; param?: string[]; sample?: string; junit?: string; json?: boolean; wait: boolean }) => {
        if (!flags.board && !flags.tags) throw new UsageError('run needs --board ID or --tags T');
        const params: Record<string, unknown> = {};
        for (const pair of flags.param ?? []) {
          const eq = pair.indexOf('=');
          if (eq < 1) throw new UsageError(`--param needs key=value, got ${JSON.stringify(pair)}`);
          const raw = pair.slice(eq + 1);
          try {
            params[pair.slice(0, eq)] = JSON.parse(raw);
          } catch {
            params[pair.slice(0, eq)] = raw;
          }
        }
        if (flags.sample !== undefined) params.sample = parseCount(flags.sample, '--sample', 1, 1_000_000);
        // Flags first: a bad flag is a usage error whether or not a daemon is there.
        const connection = resolveDaemon(flags);
        const out = flags.json ? process.stderr : process.stdout;
        const pending = new Set<string>();
        const names = new Map<string, string>();
        // Runs can end before the submission's answer arrives: remember every end seen.
        const ended = new Set<string>();
        let drained: () => void = () => undefined;
        const allEnded = new Promise<void>((resolve) => (drained = resolve));
        const stream = new EventStreamClient(connection, ['run:*'], (event) => progress(event, pending, names, ended, out, drained), (status) => {
          if (status === 'reconnecting') out.write('… connection to the daemon lost; reconnecting\n');
        });
        if (flags.wait) await stream.start();
        let submitted: { runs: Array<{ id: string; boardId: string }> };
        try {
          submitted = await daemonRequest(connection, 'POST', '/api/v1/runs', {
            scenario,
            ...(flags.board ? { boardId: flags.board } : {}),
            ...(flags.tags ? { tags: flags.tags.split(',').map((t) => t.trim()).filter(Boolean) } : {}),
            ...(Object.keys(params).length ? { params } : {}),
          });
        } catch (error) {
          stream.close();
          throw error;
        }
        for (const run of submitted.runs) {
          if (!ended.has(run.id)) pending.add(run.id);
          names.set(run.id, run.boardId);
          out.write(`queued  ${run.id}  ${scenario} on ${run.boardId}\n`);
        }
        if (!pending.size) drained();
        if (!flags.wait) {
          if (flags.json) process.stdout.write(`${JSON.stringify(submitted)}\n`);
          return ExitCode.ok;
        }
        await waitForRuns(connection, pending, allEnded);
        stream.close();
        const records = await Promise.all(submitted.runs.map((r) => daemonRequest<RunRecord>(connection, 'GET', `/api/v1/runs/${r.id}`)));
        if (flags.junit) writeFileSync(flags.junit, runsToJUnitXml(records, { name: scenario }));
        if (flags.json) process.stdout.write(`${JSON.stringify({ runs: records }, null, 2)}\n`);
        for (const r of records) out.write(`${(VERDICT_MARK[r.verdict ?? ''] ?? r.verdict ?? '?').padEnd(12)} ${r.boardId}  ${r.scenario}${r.reason ? `  (${r.reason})` : ''}\n`);
        const verdict = combineVerdicts(records.map((r) => (r.verdict ?? 'infra-error') as Verdict));
        return verdict === 'passed' ? ExitCode.ok : exitCodeFor(verdict);
      }),
    );

  withConnection(program.command('scenarios').description('List the scenarios the daemon knows, with their steps').option('--json', 'print JSON')).action(
    action(async (flags: ConnectionFlags & { json?: boolean }) => {
      const scenarios = await daemonRequest<Array<{ name: string; description: string; steps: Array<{ name: string }>; params: Record<string, unknown> }>>(resolveDaemon(flags), 'GET', '/api/v1/scenarios');
      if (flags.json) return void process.stdout.write(`${JSON.stringify(scenarios, null, 2)}\n`);
      for (const s of scenarios) {
        const params = Object.keys(s.params ?? {});
        process.stdout.write(`${s.name.padEnd(26)} ${s.steps.length} steps${params.length ? `, params: ${params.join(', ')}` : ''}\n  ${s.description.replace(/\s+/g, ' ').trim()}\n`);
      }
    }),
  );

  withConnection(program.command('boards').description("List the rig's boards: state, OS version, lease, running run").option('--json', 'print JSON')).action(
    action(async (flags: ConnectionFlags & { json?: boolean }) => {
      const boards = await daemonRequest<Array<Record<string, unknown>>>(resolveDaemon(flags), 'GET', '/api/v1/boards');
      if (flags.json) return void process.stdout.write(`${JSON.stringify(boards, null, 2)}\n`);
      process.stdout.write(`${'BOARD'.padEnd(10)} ${'DRIVER'.padEnd(9)} ${'STATE'.padEnd(12)} ${'OS'.padEnd(8)} ${'DEVICE'.padEnd(18)} RUN\n`);
      for (const b of boards) {
        const run = b.runningRun as { scenario?: string } | null;
        process.stdout.write(
          `${String(b.id).padEnd(10)} ${String(b.driver).padEnd(9)} ${String(b.state).padEnd(12)} ${String(b.osVersion ?? '-').padEnd(8)} ${String(b.deviceId ?? '-').slice(0, 16).padEnd(18)} ${run?.scenario ?? '-'}\n`,
        );
      }
    }),
  );

  withConnection(
    program
      .command('runs')
      .description('List recent runs, newest first')
      .option('--scenario <name>')
      .option('--board <id>')
      .option('--verdict <verdict>')
      .option('--limit <n>', 'how many', '20')
      .option('--json', 'print JSON'),
  ).action(
    action(async (flags: ConnectionFlags & { scenario?: string; board?: string; verdict?: string; limit: string; json?: boolean }) => {
      const query = new URLSearchParams({ limit: flags.limit, ...(flags.scenario ? { scenario: flags.scenario } : {}), ...(flags.board ? { board: flags.board } : {}), ...(flags.verdict ? { verdict: flags.verdict } : {}) });
      const page = await daemonRequest<{ runs: RunRecord[]; total: number }>(resolveDaemon(flags), 'GET', `/api/v1/runs?${query}`);
      if (flags.json) return void process.stdout.write(`${JSON.stringify(page, null, 2)}\n`);
      for (const r of page.runs) {
        process.stdout.write(`${(r.endedAt ?? r.queuedAt).slice(0, 19)}  ${(r.verdict ?? r.status).padEnd(14)} ${r.scenario.padEnd(26)} ${r.boardId.padEnd(10)} ${r.id}\n`);
      }
      process.stdout.write(`${page.runs.length} of ${page.total}\n`);
    }),
  );

  const token = program.command('token').description('API tokens of the daemon (admin)');
  withConnection(
    token
      .command('create')
      .description('Create an API token; its secret is printed once')
      .requiredOption('--name <name>', 'who or what uses it, e.g. qa-dashboard')
      .requiredOption('--role <role>', 'viewer (read), operator (run scenarios, act on boards) or admin (also tokens)'),
  ).action(
    action(async (flags: ConnectionFlags & { name: string; role: string }) => {
      if (!['viewer', 'operator', 'admin'].includes(flags.role)) throw new UsageError(`--role must be viewer, operator or admin, got ${flags.role}`);
      const created = await daemonRequest<{ token: string; id: string }>(resolveDaemon(flags), 'POST', '/api/v1/tokens', { name: flags.name, role: flags.role });
      process.stdout.write(`${created.token}\n`);
    }),
  );
  withConnection(token.command('list').description('List API tokens (names, roles, ids; never secrets)')).action(
    action(async (flags: ConnectionFlags) => {
      const tokens = await daemonRequest<Array<Record<string, unknown>>>(resolveDaemon(flags), 'GET', '/api/v1/tokens');
      for (const t of tokens) process.stdout.write(`${String(t.id)}  ${String(t.role).padEnd(9)} ${String(t.name)}\n`);
    }),
  );

  withConnection(
    program
      .command('watch')
      .description('Print live events (board states, runs, steps, console lines) as they happen')
      .option('--topics <patterns>', 'comma-separated topic patterns (board:*, run:*, console:emu-1, *)', 'board:*,run:*')
      .option('--since <seq>', 'replay from this sequence number')
      .option('--json', 'one JSON event per line'),
  ).action(
    action(async (flags: ConnectionFlags & { topics: string; since?: string; json?: boolean }) => {
      const connection = resolveDaemon(flags);
      const stream = new EventStreamClient(
        connection,
        flags.topics.split(','),
        (event) => process.stdout.write(flags.json ? `${JSON.stringify(event)}\n` : `${formatEvent(event)}\n`),
        (status, detail) => process.stderr.write(`[${status}]${detail === undefined ? '' : ` ${String(detail)}`}\n`),
      );
      const since = flags.since === undefined ? null : parseCount(flags.since, '--since', 0, Number.MAX_SAFE_INTEGER);
      await stream.start(since);
      await new Promise<void>((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      stream.close();
    }),
  );
}

function formatEvent(event: StreamEvent): string {
  const p = event.payload;
  const time = event.time.slice(11, 23);
  switch (event.type) {
    case 'console.line':
      return `${time} ${String(p.boardId)} | ${String((p.line as { text?: string }).text)}`;
    case 'board.state':
      return `${time} ${String(p.boardId)} state ${String(p.from)} -> ${String(p.to)}`;
    case 'step.ended':
      return `${time} run ${String(p.runId).slice(0, 8)} step ${String(p.name)}: ${String(p.verdict)}${p.message ? ` (${String(p.message)})` : ''}`;
    case 'step.progress':
      return `${time} run ${String(p.runId).slice(0, 8)} step ${String(p.name)}: ${String(p.message)}`;
    default:
      return `${time} ${event.type} ${JSON.stringify(p)}`;
  }
}

function progress(event: StreamEvent, pending: Set<string>, names: Map<string, string>, ended: Set<string>, out: NodeJS.WritableStream, drained: () => void): void {
  const runId = String(event.payload.runId ?? '');
  if (event.type === 'run.ended') ended.add(runId);
  if (!names.has(runId)) return;
  const board = names.get(runId);
  if (event.type === 'step.ended') {
    const p = event.payload;
    out.write(`  ${board}  ${String(p.verdict).padEnd(12)} ${String(p.name)}${p.durationMs == null ? '' : ` (${String(p.durationMs)} ms)`}${p.verdict !== 'passed' && p.message ? `: ${String(p.message)}` : ''}\n`);
  } else if (event.type === 'run.ended') {
    pending.delete(runId);
    if (!pending.size) drained();
  }
}

/** Until every run finished: the stream says so, and a slow poll makes sure a lost event cannot hang CI. */
async function waitForRuns(connection: DaemonConnection, pending: Set<string>, allEnded: Promise<void>): Promise<void> {
  while (pending.size) {
    await Promise.race([allEnded, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    for (const id of [...pending]) {
      const run = await daemonRequest<RunRecord>(connection, 'GET', `/api/v1/runs/${id}`).catch(() => undefined);
      if (run?.status === 'finished') pending.delete(id);
    }
  }
}
