import type { RunRecord } from '../scenario/run-record.js';
import { daemonRequest, type DaemonConnection } from './daemon-connection.js';
import { formatDuration, oneLine } from './event-lines.js';
import type { StreamEvent } from './event-stream-client.js';

/**
 * Follows the runs a command submitted, on the event stream, and prints their
 * progress (why they wait, when they start, each step's verdict).
 *
 * The stream is subscribed before the runs are submitted, so nothing is missed;
 * but their ids are only known from the submission's answer, and a quick run can
 * have started and ended steps by then. Events of runs not known yet are kept,
 * in order, until `adopt` names the runs; then those of ours are printed in the
 * order they came and the others (somebody else's runs) dropped.
 */
export interface FollowedRun {
  id: string;
  boardId: string;
  scenario: string;
  /** Why it has not started yet (the submission's answer), if it waits. */
  waiting?: string | null;
}

/** Events kept while the submission is answered; a busy rig makes many, but not this many in a second. */
const MAX_BUFFERED = 100_000;

export class RunFollower {
  readonly #runs = new Map<string, { run: FollowedRun; ended: boolean; lastWaiting: string | null; started: boolean }>();
  #buffer: StreamEvent[] | null = [];
  #overflowed = false;
  #settle: () => void = () => undefined;
  #allEnded: Promise<void>;

  constructor(private readonly out: NodeJS.WritableStream) {
    this.#allEnded = new Promise((resolve) => (this.#settle = resolve));
  }

  /** The stream client's handler. */
  readonly onEvent = (event: StreamEvent): void => {
    const runId = typeof event.payload?.runId === 'string' ? event.payload.runId : null;
    if (runId === null) return;
    if (this.#runs.has(runId)) {
      this.#handle(runId, event);
    } else if (this.#buffer) {
      if (this.#buffer.length < MAX_BUFFERED) this.#buffer.push(event);
      else this.#overflowed = true;
    }
  };

  /** The submission's answer: print what was queued, then what already happened to it. */
  adopt(runs: FollowedRun[]): void {
    for (const run of runs) {
      this.#runs.set(run.id, { run, ended: false, lastWaiting: null, started: false });
      this.out.write(`queued   ${run.id}  ${run.scenario} on ${run.boardId}\n`);
      if (run.waiting) this.#waiting(run.id, run.waiting);
    }
    const buffered = this.#buffer ?? [];
    this.#buffer = null;
    if (this.#overflowed) this.out.write('… too many events while submitting; some progress lines may be missing\n');
    for (const event of buffered) {
      const runId = String(event.payload.runId);
      if (this.#runs.has(runId)) this.#handle(runId, event);
    }
    this.#check();
  }

  get ids(): string[] {
    return [...this.#runs.keys()];
  }

  /** Runs not ended yet. */
  get pending(): string[] {
    return [...this.#runs].filter(([, r]) => !r.ended).map(([id]) => id);
  }

  /** Resolves once every adopted run has ended (by its event, or `markEnded`). */
  get allEnded(): Promise<void> {
    return this.#allEnded;
  }

  /** A run seen finished some other way (the fallback poll). */
  markEnded(id: string): void {
    const entry = this.#runs.get(id);
    if (entry) entry.ended = true;
    this.#check();
  }

  #check(): void {
    if (this.#runs.size && this.pending.length === 0) this.#settle();
  }

  #waiting(runId: string, reason: string): void {
    const entry = this.#runs.get(runId)!;
    if (entry.started || entry.lastWaiting === reason) return;
    entry.lastWaiting = reason;
    this.out.write(`waiting  ${entry.run.boardId}  ${oneLine(reason)}\n`);
  }

  #handle(runId: string, event: StreamEvent): void {
    const entry = this.#runs.get(runId)!;
    const p = event.payload;
    const board = entry.run.boardId;
    switch (event.type) {
      case 'run.waiting':
        if (typeof p.reason === 'string') this.#waiting(runId, p.reason);
        break;
      case 'run.started':
        if (!entry.started) this.out.write(`started  ${runId}  ${entry.run.scenario} on ${board}\n`);
        entry.started = true;
        break;
      case 'step.progress':
        this.out.write(`  ${board}  ${'…'.padEnd(12)} ${oneLine(p.name)}: ${oneLine(p.message)}\n`);
        break;
      case 'step.ended':
        this.out.write(
          `  ${board}  ${String(p.verdict).padEnd(12)} ${oneLine(p.name)}${typeof p.durationMs === 'number' ? ` (${formatDuration(p.durationMs)})` : ''}${p.verdict !== 'passed' && p.message ? `: ${oneLine(p.message, 500)}` : ''}\n`,
        );
        break;
      case 'run.ended':
        entry.ended = true;
        this.#check();
        break;
      default:
        break;
    }
  }
}

/**
 * Until every followed run ended: the stream says so, and a slow poll makes sure
 * a lost event (a stream that could not reconnect) cannot hang CI. Resolves
 * early when `stop` does.
 */
export async function waitForRuns(connection: DaemonConnection, follower: RunFollower, stop?: Promise<unknown>): Promise<'ended' | 'stopped'> {
  let stopped = false;
  void stop?.then(() => (stopped = true));
  while (follower.pending.length) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([follower.allEnded, ...(stop ? [stop] : []), new Promise((resolve) => (timer = setTimeout(resolve, 5_000)))]);
    clearTimeout(timer);
    if (stopped) return 'stopped';
    for (const id of follower.pending) {
      const run = await daemonRequest<RunRecord>(connection, 'GET', `/api/v1/runs/${id}`).catch(() => undefined);
      if (run?.status === 'finished') follower.markEnded(id);
    }
  }
  return 'ended';
}
