import { randomUUID } from 'node:crypto';
import type { Board } from '../device/board.js';
import { InputError, RigError } from '../util/failure.js';
import { componentLogger } from '../util/logger.js';
import { queuedRunRecord, type RunRecord } from '../scenario/run-record.js';
import { runScenario, type RunObserver } from '../scenario/runner.js';
import type { RunServices } from '../scenario/run-context.js';
import type { Scenario } from '../scenario/scenario.js';
import type { StepLibrary } from '../scenario/step-library.js';
import { BoardLeases } from './board-leases.js';

/**
 * The run queue: a submission picks boards (by id or tags), queues one run per
 * board, and each board works through its own queue one run at a time, under a
 * lease; different boards run concurrently. Runs can be cancelled queued or
 * running. Every change is handed to `persist` and the observer, so the store
 * and the event stream see everything.
 */
export interface Submission {
  scenario: Scenario;
  boardId?: string;
  tags?: string[];
  params?: Record<string, unknown>;
  requestedBy?: string | null;
}

export interface SchedulerOptions {
  boards: () => ReadonlyMap<string, Board>;
  library: StepLibrary;
  services: (run: RunRecord) => RunServices;
  persist: (record: RunRecord) => void;
  observer?: RunObserver & { runQueued?(record: RunRecord): void };
  versions?: { daemonVersion: string; emulatorVersion: string | null };
}

const log = componentLogger('scheduler');

export class RunScheduler {
  readonly leases = new BoardLeases();
  readonly #queues = new Map<string, Array<{ record: RunRecord; scenario: Scenario }>>();
  readonly #running = new Map<string, { record: RunRecord; controller: AbortController; done: Promise<void> }>();
  #closed = false;

  constructor(private readonly options: SchedulerOptions) {}

  /** Queue `scenario` on the selected boards; returns the queued run records. */
  submit(submission: Submission): RunRecord[] {
    if (this.#closed) throw new RigError('infra-error', 'daemon-stopping', 'the daemon is stopping; no new runs');
    const boards = this.#select(submission);
    const records = boards.map((board) => {
      const record = queuedRunRecord({
        id: randomUUID(),
        scenario: submission.scenario.name,
        scenarioDigest: submission.scenario.digest,
        boardId: board.identity.id,
        params: submission.params ?? {},
        requestedBy: submission.requestedBy ?? null,
      });
      this.options.persist(record);
      this.options.observer?.runQueued?.(record);
      const queue = this.#queues.get(board.identity.id) ?? [];
      queue.push({ record, scenario: submission.scenario });
      this.#queues.set(board.identity.id, queue);
      return record;
    });
    for (const board of boards) this.#pump(board.identity.id);
    return records;
  }

  /** Cancel a queued or running run; true if it was found. */
  cancel(runId: string): boolean {
    const running = [...this.#running.values()].find((r) => r.record.id === runId);
    if (running) {
      running.controller.abort(new RigError('cancelled', 'cancelled', 'cancelled by request'));
      return true;
    }
    for (const [boardId, queue] of this.#queues) {
      const index = queue.findIndex((q) => q.record.id === runId);
      if (index < 0) continue;
      this.#cancelQueued(queue.splice(index, 1)[0]!.record, boardId, 'cancelled before it started');
      return true;
    }
    return false;
  }

  /** A run taken off its queue before it started ends cancelled, saved and announced. */
  #cancelQueued(record: RunRecord, boardId: string, reason: string): void {
    record.status = 'finished';
    record.verdict = 'cancelled';
    record.reason = reason;
    record.endedAt = new Date().toISOString();
    this.options.persist(record);
    this.options.observer?.runEnded?.(record);
    log.info('cancelled queued run', { runId: record.id, boardId });
  }

  runningOn(boardId: string): RunRecord | undefined {
    return this.#running.get(boardId)?.record;
  }

  queued(boardId: string): RunRecord[] {
    return (this.#queues.get(boardId) ?? []).map((q) => q.record);
  }

  /** A board whose manual lease ended may have runs waiting. */
  poke(boardId: string): void {
    this.#pump(boardId);
  }

  /** Stop taking runs, cancel what runs, wait for teardowns. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const [boardId, queue] of this.#queues) for (const { record } of queue.splice(0)) this.#cancelQueued(record, boardId, 'cancelled before it started: the daemon stopped');
    for (const { controller } of this.#running.values()) controller.abort(new RigError('cancelled', 'daemon-stopping', 'the daemon is stopping'));
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
  }

  #select(submission: Submission): Board[] {
    const boards = [...this.options.boards().values()];
    if (submission.boardId) {
      const board = this.options.boards().get(submission.boardId);
      if (!board) throw new InputError('board-unknown', `no board '${submission.boardId}' in this rig (boards: ${boards.map((b) => b.identity.id).join(', ')})`);
      return [board];
    }
    const tags = submission.tags ?? [];
    if (!tags.length) throw new InputError('no-selection', 'choose boards with a board id or tags');
    const chosen = boards.filter((b) => tags.every((t) => t === 'all' || b.identity.tags.includes(t)));
    if (!chosen.length) throw new InputError('no-board-matches', `no board has the tags ${tags.join(', ')}`);
    return chosen;
  }

  #pump(boardId: string): void {
    if (this.#closed || this.#running.has(boardId)) return;
    const queue = this.#queues.get(boardId);
    const board = this.options.boards().get(boardId);
    if (!queue?.length || !board) return;
    const holder = `run:${queue[0]!.record.id}`;
    if (!this.leases.isFree(boardId)) return;
    const { record, scenario } = queue.shift()!;
    this.leases.acquire(boardId, holder, 'run');
    const controller = new AbortController();
    const done = runScenario({
      record,
      scenario,
      board,
      library: this.options.library,
      services: this.options.services(record),
      signal: controller.signal,
      // Explicit wrappers: the observer may be a class instance, whose methods a spread would drop.
      observer: {
        runStarted: (r) => {
          this.options.persist(r);
          this.options.observer?.runStarted?.(r);
        },
        stepStarted: (r, step) => this.options.observer?.stepStarted?.(r, step),
        stepProgress: (r, step, message) => this.options.observer?.stepProgress?.(r, step, message),
        measurement: (r, step, m) => this.options.observer?.measurement?.(r, step, m),
        stepEnded: (r, step) => {
          this.options.persist(r);
          this.options.observer?.stepEnded?.(r, step);
        },
        // Saved before it is announced, so a client that fetches on run.ended sees the final record.
        runEnded: (r) => {
          this.options.persist(r);
          this.options.observer?.runEnded?.(r);
        },
      },
      versions: this.options.versions,
    })
      .then((finished) => this.options.persist(finished))
      .catch((error: unknown) => {
        // The runner turns step failures into verdicts; reaching here is a rig fault.
        record.status = 'finished';
        record.verdict = 'infra-error';
        record.reason = `runner fault: ${(error as Error).message}`;
        record.endedAt = new Date().toISOString();
        this.options.persist(record);
        this.options.observer?.runEnded?.(record);
        log.error('runner fault', { runId: record.id, error: (error as Error).message });
      })
      .finally(() => {
        this.#running.delete(boardId);
        this.leases.release(boardId, holder);
        this.#pump(boardId);
      });
    this.#running.set(boardId, { record, controller, done });
  }
}
