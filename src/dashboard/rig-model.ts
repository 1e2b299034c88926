import type { Board, EventPayloads, RunRecord, RunSummary, ScenarioInfo, StreamEvent, Whoami } from './api-types.js';
import { ChangeNotifier } from './change-notifier.js';
import { ConsoleBuffer } from './console-buffer.js';
import type { StreamStatus } from './event-stream.js';

/**
 * The page's picture of the rig: boards, their consoles, runs and the records of
 * the runs someone is looking at, kept current by stream events and API
 * snapshots. It only holds and updates state; fetching is `RigSync`'s job, which
 * it asks through `RefreshRequests` when an event says more has changed than the
 * event carries.
 */
export interface LiveRun extends RunSummary {
  /** The step running now, when the stream said so. */
  currentStep: { index: number; name: string } | null;
  /** Steps ended so far (from step.ended events). */
  stepsEnded: number;
}

export interface Notice {
  level: 'info' | 'warn' | 'error';
  message: string;
  at: number;
}

export interface RefreshRequests {
  board(id: string): void;
  run(id: string): void;
  /** The run's last step ended: its verdict is due. */
  runEnding(id: string): void;
  /** The set of queued and running runs may have changed. */
  activeRuns(): void;
}

/** Lines kept per board: bounded memory however long the page stays open. */
export const CONSOLE_LINES_PER_BOARD = 1000;
/** Finished runs kept in memory besides the active ones. */
const FINISHED_RUNS_KEPT = 200;
/** Full run records kept (the ones being looked at). */
const RECORDS_KEPT = 12;
const STATUS_ORDER = { queued: 0, running: 1, finished: 2 } as const;

export class RigModel {
  readonly changes = new ChangeNotifier();
  identity: Whoami | null = null;
  scenarios: ScenarioInfo[] = [];
  readonly boards = new Map<string, Board>();
  readonly consoles = new Map<string, ConsoleBuffer>();
  readonly runs = new Map<string, LiveRun>();
  readonly records = new Map<string, RunRecord>();
  /** Why a run's record could not be loaded (shown by its view instead of "Loading…"); cleared once it loads. */
  readonly recordProblems = new Map<string, string>();
  notices: Notice[] = [];
  private readonly staleRecords = new Map<string, number>();
  stream: StreamStatus = { phase: 'connecting', lastSeq: null, behind: 0, lagMs: 0, offlineSince: null, retryAt: null, reason: null };

  constructor(private readonly refresh: RefreshRequests) {}

  canOperate(): boolean {
    return this.identity?.role === 'operator' || this.identity?.role === 'admin';
  }

  console(boardId: string): ConsoleBuffer {
    let buffer = this.consoles.get(boardId);
    if (!buffer) this.consoles.set(boardId, (buffer = new ConsoleBuffer(CONSOLE_LINES_PER_BOARD)));
    return buffer;
  }

  setIdentity(identity: Whoami | null): void {
    this.identity = identity;
    this.changes.emit('identity');
  }

  setScenarios(scenarios: ScenarioInfo[]): void {
    this.scenarios = [...scenarios].sort((a, b) => a.name.localeCompare(b.name));
    this.changes.emit('scenarios');
  }

  setStream(status: StreamStatus): void {
    this.stream = status;
    this.changes.emit('connection');
  }

  /** The whole board list (a snapshot): boards gone from the rig are dropped. */
  setBoards(list: Board[]): void {
    const ids = new Set(list.map((b) => b.id));
    const membershipChanged = list.length !== this.boards.size || list.some((b) => !this.boards.has(b.id));
    for (const id of [...this.boards.keys()]) if (!ids.has(id)) this.boards.delete(id);
    for (const board of list) this.setBoard(board);
    if (membershipChanged) this.changes.emit('boards');
  }

  setBoard(board: Board): void {
    const known = this.boards.has(board.id);
    // Certificates are large and the page only shows their expiry.
    const deviceAuth = board.attestation?.deviceAuth;
    if (deviceAuth) board.attestation = { ...board.attestation, deviceAuth: { ready: deviceAuth.ready, expiresAt: deviceAuth.expiresAt, lastAttemptAt: deviceAuth.lastAttemptAt, lastError: deviceAuth.lastError } };
    if (board.attestation?.lastOutcome) board.attestation.lastOutcome = { verdict: board.attestation.lastOutcome.verdict, at: board.attestation.lastOutcome.at, reasons: board.attestation.lastOutcome.reasons };
    this.boards.set(board.id, board);
    this.changes.emit(`board:${board.id}`);
    if (!known) this.changes.emit('boards');
  }

  /** Run summaries from a list call or a submission; a board's running run follows them. */
  setRuns(list: RunSummary[]): void {
    for (const summary of list) {
      const run = this.upsertRun(summary);
      const board = this.boards.get(run.boardId);
      if (run.status === 'running' && board && board.runningRun?.id !== run.id) {
        board.runningRun = { id: run.id, scenario: run.scenario };
        this.changes.emit(`board:${board.id}`);
      }
    }
    this.trimRuns();
    this.changes.emit('runs');
  }

  setRecord(record: RunRecord): void {
    if (this.runs.get(record.id)?.status === 'finished' && record.status !== 'finished') {
      // Fetched between the run's end event and the daemon saving it: ask again (a few times).
      const tries = (this.staleRecords.get(record.id) ?? 0) + 1;
      this.staleRecords.set(record.id, tries);
      if (tries <= 10) {
        this.refresh.run(record.id);
        return;
      }
    }
    this.staleRecords.delete(record.id);
    this.recordProblems.delete(record.id);
    this.records.delete(record.id);
    this.records.set(record.id, record);
    while (this.records.size > RECORDS_KEPT) this.records.delete(this.records.keys().next().value!);
    this.upsertRun(record);
    this.changes.emit(`run:${record.id}`);
    this.changes.emit('runs');
  }

  recordProblem(runId: string, problem: string): void {
    this.recordProblems.set(runId, problem);
    this.changes.emit(`run:${runId}`);
  }

  notice(level: Notice['level'], message: string): void {
    this.notices = [...this.notices.slice(-19), { level, message, at: Date.now() }];
    this.changes.emit('notices');
  }

  applyEvent(event: StreamEvent): void {
    switch (event.type) {
      case 'console.line': {
        const p = event.payload as unknown as EventPayloads['console.line'];
        this.console(p.boardId).push(p.line);
        this.changes.emit(`console:${p.boardId}`);
        return;
      }
      case 'board.state': {
        const p = event.payload as unknown as EventPayloads['board.state'];
        const board = this.boards.get(p.boardId);
        if (board) {
          board.state = p.to;
          this.changes.emit(`board:${p.boardId}`);
        }
        this.refresh.board(p.boardId);
        return;
      }
      case 'run.queued': {
        const p = event.payload as unknown as EventPayloads['run.queued'];
        const run = this.upsertRun({ id: p.runId, scenario: p.scenario, boardId: p.boardId, status: 'queued', requestedBy: p.requestedBy ?? null, ...(p.kind ? { kind: p.kind } : {}) });
        run.queuedAt ??= event.time;
        this.runChanged(p.runId);
        return;
      }
      case 'run.started': {
        const p = event.payload as unknown as EventPayloads['run.started'];
        const run = this.upsertRun({ id: p.runId, scenario: p.scenario, boardId: p.boardId, status: 'running', waiting: null });
        run.startedAt ??= event.time;
        const board = this.boards.get(p.boardId);
        if (board) {
          board.runningRun = { id: p.runId, scenario: p.scenario };
          this.changes.emit(`board:${p.boardId}`);
        }
        const record = this.records.get(p.runId);
        if (record && record.status !== 'finished') record.status = 'running';
        this.runChanged(p.runId);
        this.refresh.run(p.runId);
        // Who holds the board now (the run's lease) comes with the board.
        this.refresh.board(p.boardId);
        return;
      }
      case 'step.started': {
        const p = event.payload as unknown as EventPayloads['step.started'];
        const run = this.runs.get(p.runId);
        if (run) run.currentStep = { index: p.index, name: p.name };
        const step = this.records.get(p.runId)?.steps[p.index];
        if (step && step.status === 'pending') {
          step.status = 'running';
          step.startedAt = event.time;
        }
        this.runChanged(p.runId);
        return;
      }
      case 'step.progress': {
        const p = event.payload as unknown as EventPayloads['step.progress'];
        const step = this.records.get(p.runId)?.steps[p.index];
        if (step && step.status !== 'finished') step.message = p.message;
        this.runChanged(p.runId);
        return;
      }
      case 'step.ended': {
        const p = event.payload as unknown as EventPayloads['step.ended'];
        const run = this.runs.get(p.runId);
        if (run) {
          run.stepsEnded = Math.max(run.stepsEnded, p.index + 1);
          if (run.status === 'queued') {
            run.status = 'running';
            this.outcomeChanged(run);
          }
          if (run.currentStep?.index === p.index) run.currentStep = null;
          if (run.stepCount !== undefined && p.index + 1 >= run.stepCount) this.refresh.runEnding(p.runId);
        }
        const record = this.records.get(p.runId);
        const step = record?.steps[p.index];
        if (step) Object.assign(step, { status: 'finished', verdict: p.verdict, durationMs: p.durationMs, message: p.message, errorCode: p.errorCode, endedAt: event.time });
        this.runChanged(p.runId);
        // The event leaves out measurements and matched console lines; the record has them.
        this.refresh.run(p.runId);
        this.refresh.activeRuns();
        return;
      }
      case 'measurement': {
        const p = event.payload as unknown as EventPayloads['measurement'];
        const step = this.records.get(p.runId)?.steps[p.stepIndex];
        if (step && !step.measurements.some((m) => m.name === p.measurement.name && m.at === p.measurement.at)) step.measurements.push(p.measurement);
        this.runChanged(p.runId);
        return;
      }
      case 'run.ended': {
        const p = event.payload as unknown as EventPayloads['run.ended'];
        const run = this.upsertRun({ id: p.runId, scenario: p.scenario, boardId: p.boardId, status: 'finished', verdict: p.verdict, reason: p.reason });
        run.endedAt ??= event.time;
        const board = this.boards.get(p.boardId);
        if (board?.runningRun?.id === p.runId) {
          board.runningRun = null;
          this.changes.emit(`board:${p.boardId}`);
        }
        this.runChanged(p.runId);
        this.refresh.run(p.runId);
        this.refresh.board(p.boardId);
        return;
      }
      case 'board.health': {
        const p = event.payload as unknown as EventPayloads['board.health'];
        const board = this.boards.get(p.boardId);
        if (board) {
          board.health = { ...board.health, status: p.to, reason: p.reason, since: event.time, checking: p.checking ?? board.health.checking };
          this.changes.emit(`board:${p.boardId}`);
        }
        // The event leaves out whether a check is pending and the last check: the board has them.
        this.refresh.board(p.boardId);
        return;
      }
      case 'run.waiting': {
        const p = event.payload as unknown as EventPayloads['run.waiting'];
        const run = this.runs.get(p.runId);
        const record = this.records.get(p.runId);
        if (record?.status === 'queued') record.waiting = p.reason;
        if (run?.status === 'queued') run.waiting = p.reason;
        this.runChanged(p.runId);
        // The board says why its queue waits too.
        this.refresh.board(p.boardId);
        return;
      }
      case 'system': {
        const p = event.payload as unknown as EventPayloads['system'];
        if (p.level !== 'info') this.notice(p.level, p.message);
        return;
      }
      default:
        return;
    }
  }

  /** A run the page learnt has finished without its run.ended event (or from a snapshot). */
  markBoardFree(boardId: string, runId: string): void {
    const board = this.boards.get(boardId);
    if (board?.runningRun?.id === runId) {
      board.runningRun = null;
      this.changes.emit(`board:${boardId}`);
    }
  }

  activeRuns(): LiveRun[] {
    return [...this.runs.values()].filter((r) => r.status !== 'finished');
  }

  /** Merges what is known about a run; fields left out keep their value. */
  private upsertRun(fields: Partial<RunSummary> & Pick<RunSummary, 'id' | 'scenario' | 'boardId'>): LiveRun {
    const { steps, console: _console, errorReports: _reports, ...plain } = fields as Partial<RunRecord> & typeof fields;
    if (steps) plain.stepCount = steps.length;
    const existing = this.runs.get(fields.id);
    if (!existing) {
      const run: LiveRun = { status: 'queued', verdict: null, reason: null, startedAt: null, endedAt: null, ...plain, currentStep: null, stepsEnded: 0 };
      // Until the record says, the scenario tells how many steps the run has.
      run.stepCount ??= this.scenarios.find((s) => s.name === run.scenario)?.steps.length;
      this.runs.set(run.id, run);
      this.outcomeChanged(run);
      return run;
    }
    const { status: statusBefore, verdict: verdictBefore } = existing;
    if (plain.status !== undefined && STATUS_ORDER[plain.status] < STATUS_ORDER[existing.status]) {
      // An older snapshot or a replayed event never takes a run back (finished to running, running to queued).
      delete plain.status;
      if (existing.status === 'finished') {
        delete plain.verdict;
        delete plain.reason;
        delete plain.endedAt;
      }
    }
    Object.assign(existing, plain);
    if (existing.status === 'finished') {
      existing.currentStep = null;
      this.markBoardFree(existing.boardId, existing.id);
    }
    if (existing.status !== statusBefore || existing.verdict !== verdictBefore) this.outcomeChanged(existing);
    return existing;
  }

  /**
   * A run is new to the page or its status or verdict changed: what lists of
   * runs fetched from the API show (step and measurement events change neither).
   */
  private outcomeChanged(run: LiveRun): void {
    this.changes.emit(`board-runs:${run.boardId}`);
    if (run.status === 'finished') this.changes.emit('runs-ended');
  }

  private runChanged(runId: string): void {
    this.changes.emit(`run:${runId}`);
    this.changes.emit('runs');
  }

  private trimRuns(): void {
    const finished = [...this.runs.values()].filter((r) => r.status === 'finished');
    if (finished.length <= FINISHED_RUNS_KEPT) return;
    finished.sort((a, b) => Date.parse(b.endedAt ?? b.queuedAt ?? '') - Date.parse(a.endedAt ?? a.queuedAt ?? ''));
    for (const run of finished.slice(FINISHED_RUNS_KEPT)) if (!this.records.has(run.id)) this.runs.delete(run.id);
  }
}
