import { randomUUID } from 'node:crypto';
import type { Board } from '../device/board.js';
import { InputError, RigError } from '../util/failure.js';
import { componentLogger } from '../util/logger.js';
import { queuedRunRecord, type ConsoleExcerptLine, type RunKind, type RunRecord } from '../scenario/run-record.js';
import { runScenario, type RunObserver } from '../scenario/runner.js';
import type { RunServices } from '../scenario/run-context.js';
import type { Scenario } from '../scenario/scenario.js';
import { checkResolvedSteps, resolveRunParams } from '../scenario/scenario-params.js';
import type { StepLibrary } from '../scenario/step-library.js';
import { BoardHealthBook, VERDICTS_NEEDING_HEALTH_CHECK, type BoardHealth } from './board-health.js';
import { BoardLeases, type Lease } from './board-leases.js';
import { conflict, notFound } from './http-errors.js';

/**
 * The run queue: a submission picks boards (by id or tags), queues one run per
 * board, and each board works through its own queue one run at a time, under a
 * lease; different boards run concurrently. Runs can be cancelled queued or
 * running. Every change is handed to `persist` and the observer, so the store
 * and the event stream see everything.
 *
 * Board health decides who may run: only a `good` board starts scenario runs.
 * A board whose health is `unknown` (at start, or after a run that ended
 * infra-error, device-fault, timeout or cancelled) gets a health-check run ahead
 * of its queue; one that fails it is `bad` and takes nothing until a check
 * passes. Runs that cannot start say why (`run.waiting`).
 */
export interface Submission {
  scenario: Scenario;
  boardId?: string;
  tags?: string[];
  /** Parameters as given; checked against the scenario's declarations, defaults filled in. */
  params?: Record<string, unknown>;
  requestedBy?: string | null;
  /** After a run that does not pass, keep the board leased to `holder` for this long (inspection). */
  holdOnFailure?: { holder: string; minutes: number };
}

export interface SchedulerObserver extends RunObserver {
  runQueued?(record: RunRecord): void;
  /** A queued run cannot start yet; `reason` says why (repeated when the reason changes). */
  runWaiting?(record: RunRecord, reason: string): void;
}

export interface SchedulerOptions {
  boards: () => ReadonlyMap<string, Board>;
  library: StepLibrary;
  services: (run: RunRecord) => RunServices;
  persist: (record: RunRecord) => void;
  /** Console lines of a running run, in batches, so a run cut short keeps what the board printed. */
  persistConsole?: (runId: string, lines: ConsoleExcerptLine[]) => void;
  observer?: SchedulerObserver;
  versions?: { daemonVersion: string; emulatorVersion: string | null };
  /** Board health; without it every board counts as good (no health checks). */
  health?: BoardHealthBook;
  /** The health-check scenario of a board (null: boards of its kind are not checked). */
  healthCheckFor?: (board: Board) => Scenario | null;
}

interface QueuedRun {
  record: RunRecord;
  scenario: Scenario;
  holdOnFailure?: Submission['holdOnFailure'];
}

interface RunningRun {
  record: RunRecord;
  controller: AbortController;
  done: Promise<void>;
}

const log = componentLogger('scheduler');
const CONSOLE_FLUSH_MS = 1000;
export const HEALTH_REQUESTER = 'rig:health';

export class RunScheduler {
  readonly leases = new BoardLeases();
  readonly #queues = new Map<string, QueuedRun[]>();
  /** At most one health check per board, run before its queue. */
  readonly #checks = new Map<string, QueuedRun>();
  readonly #running = new Map<string, RunningRun>();
  /** What each waiting run was last told, so a reason is announced once per change. */
  readonly #waitingSaid = new Map<string, string>();
  readonly #leaseTimers = new Map<string, NodeJS.Timeout>();
  /** Boards the rig cannot reach for now, and why (see `boardLost`). */
  readonly #suspended = new Map<string, string>();
  #closed = false;

  constructor(private readonly options: SchedulerOptions) {
    options.health?.on('change', (boardId, from, to, reason) => {
      // Runs asked for a board that has just gone bad or been retired would wait for an
      // operator indefinitely; a nightly CI is better told at once.
      if (from !== to && (to === 'bad' || to === 'retired')) this.#endQueuedRuns(boardId, `board ${boardId} is ${to}${reason ? ` (${reason})` : ''}`);
      // Looked at once the change is complete (a change may come from inside a pump).
      queueMicrotask(() => this.#pump(boardId));
    });
  }

  /** Queue `scenario` on the selected boards; returns the queued run records. */
  submit(submission: Submission): RunRecord[] {
    if (this.#closed) throw new RigError('infra-error', 'daemon-stopping', 'the daemon is stopping; no new runs');
    // Parameters and steps are checked before any board is chosen or touched.
    const params = resolveRunParams(submission.scenario, submission.params ?? {});
    checkResolvedSteps(submission.scenario, params, this.options.library);
    const boards = this.#select(submission);
    const records = boards.map((board) => {
      const queued = this.#queue(board, submission.scenario, 'scenario', params, submission.requestedBy ?? null);
      queued.holdOnFailure = submission.holdOnFailure;
      const queue = this.#queues.get(board.identity.id) ?? [];
      queue.push(queued);
      this.#queues.set(board.identity.id, queue);
      return queued.record;
    });
    for (const board of boards) this.#pump(board.identity.id);
    return records;
  }

  /**
   * Queue a health check of a board ahead of its other runs, or return the one
   * already queued or running. Refused for a retired board and where the rig has
   * no health check for the board's kind. `instead`: a scenario that checks the
   * board its own way (recovery to the baseline), run in the check's place.
   */
  requestHealthCheck(boardId: string, requestedBy: string = HEALTH_REQUESTER, instead?: Scenario): RunRecord {
    if (this.#closed) throw new RigError('infra-error', 'daemon-stopping', 'the daemon is stopping; no new runs');
    const board = this.#board(boardId);
    const running = this.#running.get(boardId);
    const queued = this.#checks.get(boardId);
    if (!instead) {
      if (running?.record.kind === 'health-check') return running.record;
      if (queued) return queued.record;
    } else if (queued) {
      // A recovery asked for supersedes the plain check waiting for the board.
      if (queued.scenario.name === instead.name) return queued.record;
      this.#checks.delete(boardId);
      this.#cancelQueued(queued.record, boardId, `superseded by ${instead.name}`);
    }
    if (this.health(boardId)?.status === 'retired') throw conflict('board-retired', `board ${boardId} is retired; put it back in service first (status unknown)`);
    const scenario = instead ?? this.options.healthCheckFor?.(board);
    if (!scenario) throw conflict('no-health-check', `the rig has no health check for ${board.identity.driver} boards (rig health.checks.${board.identity.driver})`);
    const check = this.#queue(board, scenario, 'health-check', {}, requestedBy);
    this.#checks.set(boardId, check);
    this.options.health?.setChecking(boardId, true);
    this.#pump(boardId);
    return check.record;
  }

  /** Cancel a queued or running run; true if it was found. */
  cancel(runId: string): boolean {
    const running = [...this.#running.values()].find((r) => r.record.id === runId);
    if (running) {
      running.controller.abort(new RigError('cancelled', 'cancelled', 'cancelled by request'));
      return true;
    }
    for (const [boardId, check] of this.#checks) {
      if (check.record.id !== runId) continue;
      this.#checks.delete(boardId);
      this.options.health?.setChecking(boardId, false);
      this.#cancelQueued(check.record, boardId, 'cancelled before it started');
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

  runningOn(boardId: string): RunRecord | undefined {
    return this.#running.get(boardId)?.record;
  }

  /** Runs waiting for the board, the health check (if any) first. */
  queued(boardId: string): RunRecord[] {
    const check = this.#checks.get(boardId);
    return [...(check ? [check.record] : []), ...(this.#queues.get(boardId) ?? []).map((q) => q.record)];
  }

  health(boardId: string): BoardHealth | undefined {
    return this.options.health?.get(boardId);
  }

  /** Why the next queued run of a board does not start now, or null if it can (or none waits). */
  waiting(boardId: string): string | null {
    const next = this.queued(boardId)[0];
    return next ? this.#waitReason(boardId, next) : null;
  }

  /** Why a queued run has not started, or null (it is not queued, or about to start). */
  waitingReasonOf(runId: string): string | null {
    for (const boardId of this.options.boards().keys()) {
      const run = this.queued(boardId).find((r) => r.id === runId);
      if (run) return this.#waitReason(boardId, run);
    }
    return null;
  }

  /** A board whose manual lease ended may have runs waiting. */
  poke(boardId: string): void {
    this.#pump(boardId);
  }

  /**
   * The rig lost its way to a board for a while (its emulator died and is being
   * restarted): the run on it ends at once with `error` (its teardown still runs),
   * queued runs wait saying `why`, and nothing starts on it until `boardBack`, when
   * it is health-checked first.
   */
  boardLost(boardId: string, error: RigError, why: string): void {
    this.#suspended.set(boardId, why);
    this.#running.get(boardId)?.controller.abort(error);
    this.options.health?.set(boardId, 'unknown', why);
    this.#announceWaiting(boardId);
  }

  boardBack(boardId: string): void {
    if (!this.#suspended.delete(boardId)) return;
    const health = this.options.health?.get(boardId);
    if (health?.status === 'unknown') this.options.health?.set(boardId, 'unknown', 'back after an outage: not checked since');
    this.#pump(boardId);
  }

  /** Stop taking runs, cancel what runs, wait for teardowns. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#leaseTimers.values()) clearTimeout(timer);
    this.#leaseTimers.clear();
    for (const [boardId, check] of this.#checks) this.#cancelQueued(check.record, boardId, 'cancelled before it started: the daemon stopped');
    this.#checks.clear();
    for (const [boardId, queue] of this.#queues) for (const { record } of queue.splice(0)) this.#cancelQueued(record, boardId, 'cancelled before it started: the daemon stopped');
    for (const { controller } of this.#running.values()) controller.abort(new RigError('cancelled', 'daemon-stopping', 'the daemon is stopping'));
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
  }

  #queue(board: Board, scenario: Scenario, kind: RunKind, params: Record<string, unknown>, requestedBy: string | null): QueuedRun {
    const record = queuedRunRecord({ id: randomUUID(), kind, scenario: scenario.name, scenarioDigest: scenario.digest, boardId: board.identity.id, params, requestedBy });
    this.options.persist(record);
    this.options.observer?.runQueued?.(record);
    return { record, scenario };
  }

  #endQueuedRuns(boardId: string, why: string): void {
    const queue = this.#queues.get(boardId);
    if (!queue?.length) return;
    for (const { record } of queue.splice(0)) this.#cancelQueued(record, boardId, `not started: ${why}`, 'infra-error');
  }

  /** A run taken off its queue before it started ends (cancelled, or infra-error when the rig failed it), saved and announced. */
  #cancelQueued(record: RunRecord, boardId: string, reason: string, verdict: 'cancelled' | 'infra-error' = 'cancelled'): void {
    this.#waitingSaid.delete(record.id);
    record.status = 'finished';
    record.verdict = verdict;
    record.reason = reason;
    record.endedAt = new Date().toISOString();
    this.options.persist(record);
    this.options.observer?.runEnded?.(record);
    log.info('cancelled queued run', { runId: record.id, boardId });
  }

  #board(boardId: string): Board {
    const board = this.options.boards().get(boardId);
    if (!board) throw notFound('board-not-found', `no board '${boardId}' in this rig (boards: ${[...this.options.boards().keys()].join(', ')})`);
    return board;
  }

  #select(submission: Submission): Board[] {
    if (submission.boardId) {
      const board = this.#board(submission.boardId);
      const health = this.health(board.identity.id);
      // A bad or retired board would keep the run waiting for something only an operator can do.
      if (health?.status === 'retired') throw conflict('board-unavailable', `board ${board.identity.id} is retired${health.reason ? ` (${health.reason})` : ''}`);
      if (health?.status === 'bad') {
        throw conflict('board-unavailable', `board ${board.identity.id} is bad (${health.reason ?? 'its health check failed'}); it takes runs again once a health check passes: sphere-rig boards health ${board.identity.id} --check`);
      }
      return [board];
    }
    const tags = submission.tags ?? [];
    if (!tags.length) throw new InputError('no-selection', 'choose boards with a board id or tags');
    const boards = [...this.options.boards().values()];
    const matching = boards.filter((b) => tags.every((t) => t === 'all' || b.identity.tags.includes(t)));
    if (!matching.length) throw notFound('no-board-matches', `no board has the tags ${tags.join(', ')}`);
    // Tagged runs go to the boards that can take them; drained, bad and retired boards are passed over.
    const available = matching.filter((b) => {
      const status = this.health(b.identity.id)?.status;
      return status === undefined || status === 'good' || status === 'unknown';
    });
    if (!available.length) {
      const why = matching.map((b) => `${b.identity.id} ${this.health(b.identity.id)?.status ?? '?'}`).join(', ');
      throw conflict('no-board-available', `every board with the tags ${tags.join(', ')} is out of service (${why})`);
    }
    return available;
  }

  /** Why `run` (queued for the board) does not start now; null when it can. */
  #waitReason(boardId: string, run: RunRecord): string | null {
    const suspended = this.#suspended.get(boardId);
    if (suspended) return `board ${boardId} is unreachable for now (${suspended})`;
    const running = this.#running.get(boardId);
    if (running) return `board ${boardId} is busy with ${running.record.kind === 'health-check' ? 'a health check' : `run ${running.record.id} (${running.record.scenario})`}`;
    const lease = this.leases.get(boardId);
    if (lease) return `board ${boardId} is leased by ${lease.holder}${lease.expiresAt === null ? '' : ` until ${new Date(lease.expiresAt).toISOString()}`}`;
    if (run.kind === 'health-check') return null;
    if (this.#checks.has(boardId)) return `board ${boardId} is waiting for its health check`;
    const health = this.health(boardId);
    if (health && health.status !== 'good') {
      const why = health.reason ? ` (${health.reason})` : '';
      switch (health.status) {
        case 'maintenance':
          return `board ${boardId} is in maintenance${why}`;
        case 'bad':
          return `board ${boardId} is bad${why}; it takes runs again once a health check passes`;
        case 'retired':
          return `board ${boardId} is retired${why}`;
        default:
          return `board ${boardId} waits for a health check${why}`;
      }
    }
    const queue = this.#queues.get(boardId) ?? [];
    const ahead = queue.findIndex((q) => q.record.id === run.id);
    return ahead > 0 ? `${ahead} earlier run${ahead === 1 ? '' : 's'} queued for board ${boardId}` : null;
  }

  /** Tell each waiting run of the board why it waits, once per change of reason. */
  #announceWaiting(boardId: string): void {
    for (const run of this.queued(boardId)) {
      const reason = this.#waitReason(boardId, run);
      if (!reason || this.#waitingSaid.get(run.id) === reason) continue;
      this.#waitingSaid.set(run.id, reason);
      this.options.observer?.runWaiting?.(run, reason);
    }
  }

  /** A manual lease that blocks runs ends by itself: look again when it expires. */
  #wakeAtExpiry(boardId: string, lease: Lease): void {
    if (lease.expiresAt === null) return;
    clearTimeout(this.#leaseTimers.get(boardId));
    const timer = setTimeout(() => {
      this.#leaseTimers.delete(boardId);
      this.#pump(boardId);
    }, Math.max(0, lease.expiresAt - Date.now()) + 5);
    timer.unref();
    this.#leaseTimers.set(boardId, timer);
  }

  #pump(boardId: string): void {
    if (this.#closed || this.#running.has(boardId)) return;
    if (this.#suspended.has(boardId)) return this.#announceWaiting(boardId);
    const board = this.options.boards().get(boardId);
    if (!board) return;
    const lease = this.leases.get(boardId);
    if (lease) {
      if (this.queued(boardId).length) this.#wakeAtExpiry(boardId, lease);
      this.#announceWaiting(boardId);
      return;
    }
    const health = this.health(boardId);
    let next = this.#checks.get(boardId);
    if (next) {
      this.#checks.delete(boardId);
    } else if (health && health.status !== 'good') {
      if (health.status === 'unknown') this.#checkUnknownBoard(board);
      if (this.#checks.has(boardId)) return this.#pump(boardId);
      this.#announceWaiting(boardId);
      return;
    } else {
      next = this.#queues.get(boardId)?.shift();
    }
    if (!next) return;
    this.#start(board, next);
    this.#announceWaiting(boardId);
  }

  /** An unknown board gets its health check; one the rig cannot reach is bad at once, saying why. */
  #checkUnknownBoard(board: Board): void {
    const boardId = board.identity.id;
    // A kind the rig does not check counts as good: its runs say for themselves what they find.
    if (!this.options.healthCheckFor?.(board)) {
      this.options.health?.set(boardId, 'good', 'not health-checked (the rig has no health check for its kind)');
      return;
    }
    if (board.state() === 'offline') {
      const why = (board as Board & { why?: string }).why;
      this.options.health?.set(boardId, 'bad', `offline${why ? `: ${why}` : ''}`);
      return;
    }
    this.requestHealthCheck(boardId);
  }

  #start(board: Board, { record, scenario, holdOnFailure }: QueuedRun): void {
    const boardId = board.identity.id;
    const holder = `run:${record.id}`;
    this.#waitingSaid.delete(record.id);
    this.leases.acquire(boardId, holder, 'run');
    const controller = new AbortController();
    const consoleBatch = new ConsoleBatch((lines) => this.options.persistConsole?.(record.id, lines));
    let hold: Submission['holdOnFailure'];
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
        stepStarted: (r, step) => {
          // Saved as it starts, so a daemon killed now shows which step was running.
          consoleBatch.clear();
          this.options.persist(r);
          this.options.observer?.stepStarted?.(r, step);
        },
        stepProgress: (r, step, message) => this.options.observer?.stepProgress?.(r, step, message),
        measurement: (r, step, m) => this.options.observer?.measurement?.(r, step, m),
        stepEnded: (r, step) => {
          consoleBatch.clear();
          this.options.persist(r);
          this.options.observer?.stepEnded?.(r, step);
        },
        runConsoleLine: (_r, line) => {
          if (this.options.persistConsole) consoleBatch.add(line);
        },
        // Saved before it is announced, so a client that fetches on run.ended sees the final record.
        runEnded: (r) => {
          consoleBatch.close();
          hold = this.#judgeBoard(board, r, holdOnFailure);
          // The hold is in place before the end is announced, so whoever asked finds it held.
          if (hold) {
            this.leases.release(boardId, holder);
            this.#hold(boardId, hold, r.id);
            hold = undefined;
          }
          this.options.persist(r);
          this.options.observer?.runEnded?.(r);
        },
      },
      versions: this.options.versions,
    })
      .then((finished) => this.options.persist(finished))
      .catch((error: unknown) => {
        // The runner turns step failures into verdicts; reaching here is a rig fault.
        consoleBatch.close();
        record.status = 'finished';
        record.verdict = 'infra-error';
        record.reason = `runner fault: ${(error as Error).message}`;
        record.endedAt = new Date().toISOString();
        hold = this.#judgeBoard(board, record, holdOnFailure);
        this.options.persist(record);
        this.options.observer?.runEnded?.(record);
        log.error('runner fault', { runId: record.id, error: (error as Error).message });
      })
      .finally(() => {
        this.#running.delete(boardId);
        this.leases.release(boardId, holder);
        if (hold) this.#hold(boardId, hold, record.id);
        this.#pump(boardId);
      });
    this.#running.set(boardId, { record, controller, done });
  }

  /**
   * What a finished run says about its board: a health check decides its health; a
   * run that ended in a way that leaves the board in doubt sends it to a health
   * check before the next run. A failed run asked to be held keeps the board leased
   * to whoever asked, for inspection.
   */
  #judgeBoard(board: Board, record: RunRecord, holdOnFailure: Submission['holdOnFailure']): Submission['holdOnFailure'] {
    const boardId = board.identity.id;
    const verdict = record.verdict ?? 'infra-error';
    const health = this.options.health;
    if (health && record.kind === 'health-check') {
      // A check cut short by the daemon stopping says nothing about the board.
      if (!(this.#closed && verdict === 'cancelled')) {
        if (verdict === 'cancelled') health.set(boardId, 'unknown', 'health check cancelled');
        else health.checked(boardId, { runId: record.id, verdict, endedAt: record.endedAt ?? new Date().toISOString() }, record.reason);
      }
      health.setChecking(boardId, false);
    } else if (health && !this.#closed && VERDICTS_NEEDING_HEALTH_CHECK.includes(verdict)) {
      const current = health.get(boardId).status;
      if (current === 'good' || current === 'unknown') health.set(boardId, 'unknown', `run ${record.id} (${record.scenario}) ended ${verdict}`);
    }
    return holdOnFailure && verdict !== 'passed' && !this.#closed ? holdOnFailure : undefined;
  }

  #hold(boardId: string, hold: NonNullable<Submission['holdOnFailure']>, runId: string): void {
    try {
      this.leases.acquire(boardId, hold.holder, 'manual', hold.minutes * 60_000);
      log.info('board held after a failed run', { board: boardId, holder: hold.holder, minutes: hold.minutes, runId });
    } catch (error) {
      log.warn('board not held after a failed run', { board: boardId, error: (error as Error).message });
    }
  }
}

/** Console lines of a running run, handed on in batches (at most one write a second). */
class ConsoleBatch {
  #lines: ConsoleExcerptLine[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(private readonly write: (lines: ConsoleExcerptLine[]) => void) {}

  add(line: ConsoleExcerptLine): void {
    if (this.#closed) return;
    this.#lines.push(line);
    this.#timer ??= setTimeout(() => this.flush(), CONSOLE_FLUSH_MS).unref();
  }

  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#lines.length) return;
    const lines = this.#lines;
    this.#lines = [];
    try {
      this.write(lines);
    } catch (error) {
      log.warn('console lines not saved', { error: (error as Error).message });
    }
  }

  /** The whole record is being saved (it holds these lines): nothing to write separately. */
  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#lines = [];
  }

  close(): void {
    this.clear();
    this.#closed = true;
  }
}
