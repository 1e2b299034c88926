import type { Statement } from 'better-sqlite3';
import { InputError, RigError } from '../util/failure.js';
import type { ConsoleExcerptLine, DeviceLogCapture, Provenance, RunKind, RunRecord, RunStatus, StepRecord } from '../scenario/run-record.js';
import type { Verdict } from '../scenario/verdict.js';
import { openSqliteFile, type SchemaMigration, type SqliteDatabase } from '../util/sqlite-file.js';

/** A run without its steps, console, error reports and device logs: what lists show. */
export type RunSummary = Omit<RunRecord, 'steps' | 'console' | 'errorReports' | 'deviceLog'> & { stepCount: number };

export interface RunFilter {
  scenario?: string;
  boardId?: string;
  verdict?: Verdict | readonly Verdict[];
  status?: RunStatus | readonly RunStatus[];
  requestedBy?: string;
  kind?: RunKind | readonly RunKind[];
  /** Queued at or after (ISO 8601 or epoch ms). */
  from?: string | number;
  /** Queued before (ISO 8601 or epoch ms). */
  to?: string | number;
  /** Default 50, at most 1000. */
  limit?: number;
  offset?: number;
}

export interface RunPage {
  runs: RunSummary[];
  /** How many runs match the filter, ignoring limit and offset. */
  total: number;
}

/** Fields of a run that change as it goes; steps and console have their own writes. */
export type RunUpdate = Partial<Pick<RunRecord, 'status' | 'verdict' | 'reason' | 'startedAt' | 'endedAt' | 'provenance' | 'errorReports' | 'deviceLog' | 'params'>>;

export const MAX_LIST_LIMIT = 1000;
export const INTERRUPTED_REASON = 'interrupted';

export class RunStoreError extends RigError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('infra-error', code, message, details, options);
  }
}

const MIGRATIONS: readonly SchemaMigration[] = [
  {
    version: 1,
    up: (db) => {
      db.exec(`
        CREATE TABLE runs (
          id              TEXT PRIMARY KEY,
          scenario        TEXT NOT NULL,
          scenario_digest TEXT NOT NULL,
          board_id        TEXT NOT NULL,
          status          TEXT NOT NULL CHECK (status IN ('queued', 'running', 'finished')),
          verdict         TEXT,
          reason          TEXT,
          requested_by    TEXT,
          queued_at       TEXT NOT NULL,
          queued_at_ms    INTEGER NOT NULL,
          started_at      TEXT,
          ended_at        TEXT,
          params          TEXT NOT NULL,
          provenance      TEXT,
          error_reports   TEXT NOT NULL
        );
        CREATE INDEX runs_queued ON runs (queued_at_ms DESC, id DESC);
        CREATE INDEX runs_scenario ON runs (scenario, queued_at_ms DESC);
        CREATE INDEX runs_board ON runs (board_id, queued_at_ms DESC);
        CREATE INDEX runs_open ON runs (status) WHERE status <> 'finished';
        CREATE TABLE steps (
          run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
          idx    INTEGER NOT NULL,
          record TEXT NOT NULL,
          PRIMARY KEY (run_id, idx)
        ) WITHOUT ROWID;
        CREATE TABLE console_lines (
          run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
          seq       INTEGER NOT NULL,
          timestamp INTEGER NOT NULL,
          text      TEXT NOT NULL,
          PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    // Health checks are runs too; lists and history tell them apart by kind.
    version: 2,
    up: (db) => {
      db.exec(`
        ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'scenario' CHECK (kind IN ('scenario', 'health-check'));
        CREATE INDEX runs_kind ON runs (kind, queued_at_ms DESC);
      `);
    },
  },
  {
    // Console lines name the board output they came from (recovery UART, app output, emulator trace...).
    version: 3,
    up: (db) => {
      db.exec(`ALTER TABLE console_lines ADD COLUMN channel TEXT;`);
    },
  },
  {
    // Device logs a run collected (collect-device-log), decoded; NULL for runs from before.
    version: 4,
    up: (db) => {
      db.exec(`ALTER TABLE runs ADD COLUMN device_log TEXT;`);
    },
  },
];

interface RunRow {
  id: string;
  kind: RunKind | null;
  scenario: string;
  scenario_digest: string;
  board_id: string;
  status: RunStatus;
  verdict: Verdict | null;
  reason: string | null;
  requested_by: string | null;
  queued_at: string;
  started_at: string | null;
  ended_at: string | null;
  params: string;
  provenance: string | null;
  error_reports: string;
  device_log: string | null;
  step_count?: number;
}

/**
 * Run records in SQLite (WAL). A run is one row plus its steps and console excerpt
 * lines; every write is one transaction, so a daemon killed mid-write leaves the
 * run as it was before that write or after it, never half of it. Steps and console
 * lines are written on their own so a running run costs small writes, not a
 * rewrite of the whole record per step.
 */
export class RunStore {
  private readonly db: SqliteDatabase;
  private readonly statements: {
    insertRun: Statement;
    updateRun: Statement;
    getRun: Statement<[string]>;
    upsertStep: Statement<[string, number, string]>;
    deleteSteps: Statement<[string]>;
    getSteps: Statement<[string]>;
    insertConsole: Statement<[string, number, number, string, string | null]>;
    deleteConsole: Statement<[string]>;
    getConsole: Statement<[string]>;
    openRuns: Statement<[]>;
  };

  private constructor(db: SqliteDatabase) {
    this.db = db;
    this.statements = {
      insertRun: db.prepare(`INSERT INTO runs (id, kind, scenario, scenario_digest, board_id, status, verdict, reason, requested_by, queued_at, queued_at_ms, started_at, ended_at, params, provenance, error_reports, device_log)
        VALUES (@id, @kind, @scenario, @scenario_digest, @board_id, @status, @verdict, @reason, @requested_by, @queued_at, @queued_at_ms, @started_at, @ended_at, @params, @provenance, @error_reports, @device_log)`),
      updateRun: db.prepare(`UPDATE runs SET kind = @kind, scenario = @scenario, scenario_digest = @scenario_digest, board_id = @board_id, status = @status, verdict = @verdict,
        reason = @reason, requested_by = @requested_by, queued_at = @queued_at, queued_at_ms = @queued_at_ms, started_at = @started_at, ended_at = @ended_at,
        params = @params, provenance = @provenance, error_reports = @error_reports, device_log = @device_log WHERE id = @id`),
      getRun: db.prepare('SELECT * FROM runs WHERE id = ?'),
      upsertStep: db.prepare('INSERT INTO steps (run_id, idx, record) VALUES (?, ?, ?) ON CONFLICT (run_id, idx) DO UPDATE SET record = excluded.record'),
      deleteSteps: db.prepare('DELETE FROM steps WHERE run_id = ?'),
      getSteps: db.prepare('SELECT record FROM steps WHERE run_id = ? ORDER BY idx'),
      insertConsole: db.prepare('INSERT OR REPLACE INTO console_lines (run_id, seq, timestamp, text, channel) VALUES (?, ?, ?, ?, ?)'),
      deleteConsole: db.prepare('DELETE FROM console_lines WHERE run_id = ?'),
      getConsole: db.prepare('SELECT seq, timestamp, text, channel FROM console_lines WHERE run_id = ? ORDER BY seq'),
      openRuns: db.prepare("SELECT id FROM runs WHERE status <> 'finished'"),
    };
  }

  static open(path: string): RunStore {
    return new RunStore(openSqliteFile(path, { name: 'run store', migrations: MIGRATIONS }));
  }

  /** Adds a new run (usually queued). Throws `run-exists` for a known id. */
  create(record: RunRecord): void {
    this.db.transaction(() => {
      if (this.statements.getRun.get(record.id)) throw new RunStoreError('run-exists', `run ${record.id} already exists`, { runId: record.id });
      this.statements.insertRun.run(toRow(record));
      this.writeSteps(record.id, record.steps);
      this.writeConsole(record.id, record.console);
    })();
  }

  /** Writes a whole record, replacing what was stored under its id (or adding it). */
  save(record: RunRecord): void {
    this.db.transaction(() => {
      if (this.statements.getRun.get(record.id)) {
        this.statements.updateRun.run(toRow(record));
        this.statements.deleteSteps.run(record.id);
        this.statements.deleteConsole.run(record.id);
      } else {
        this.statements.insertRun.run(toRow(record));
      }
      this.writeSteps(record.id, record.steps);
      this.writeConsole(record.id, record.console);
    })();
  }

  /** Changes run-level fields; returns the updated summary. */
  update(runId: string, changes: RunUpdate): RunSummary {
    return this.db.transaction(() => {
      const next: RunRecord = { ...fromRow(this.requireRow(runId)), ...changes };
      this.statements.updateRun.run(toRow(next));
      return { ...summaryOf(next), stepCount: this.stepCount(runId) };
    })();
  }

  /** Adds or replaces one step (by its index). */
  saveStep(runId: string, step: StepRecord): void {
    this.db.transaction(() => {
      this.requireRow(runId);
      this.writeSteps(runId, [step]);
    })();
  }

  /** Adds console excerpt lines (a line with a known seq replaces the old one). */
  appendConsole(runId: string, lines: readonly ConsoleExcerptLine[]): void {
    if (lines.length === 0) return;
    this.db.transaction(() => {
      this.requireRow(runId);
      this.writeConsole(runId, lines);
    })();
  }

  get(runId: string): RunRecord | null {
    const row = this.statements.getRun.get(runId) as RunRow | undefined;
    if (!row) return null;
    return {
      ...fromRow(row),
      steps: (this.statements.getSteps.all(runId) as { record: string }[]).map((s) => JSON.parse(s.record) as StepRecord),
      console: (this.statements.getConsole.all(runId) as Array<ConsoleExcerptLine & { channel: string | null }>).map(({ channel, ...line }) =>
        channel === null ? line : { ...line, channel },
      ),
    };
  }

  /** Runs matching the filter, newest first. */
  list(filter: RunFilter = {}): RunPage {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const oneOrMany = (column: string, value: string | readonly string[] | undefined): void => {
      if (value === undefined) return;
      const values = typeof value === 'string' ? [value] : value;
      if (values.length === 0) return;
      where.push(`${column} IN (${values.map(() => '?').join(', ')})`);
      args.push(...values);
    };
    if (filter.scenario !== undefined) oneOrMany('runs.scenario', filter.scenario);
    if (filter.boardId !== undefined) oneOrMany('runs.board_id', filter.boardId);
    if (filter.requestedBy !== undefined) oneOrMany('runs.requested_by', filter.requestedBy);
    oneOrMany('runs.verdict', filter.verdict);
    oneOrMany('runs.kind', filter.kind);
    oneOrMany('runs.status', filter.status);
    if (filter.from !== undefined) {
      where.push('runs.queued_at_ms >= ?');
      args.push(toEpochMs(filter.from, 'from'));
    }
    if (filter.to !== undefined) {
      where.push('runs.queued_at_ms < ?');
      args.push(toEpochMs(filter.to, 'to'));
    }
    const limit = clampInteger(filter.limit ?? 50, 1, MAX_LIST_LIMIT, 'limit');
    const offset = clampInteger(filter.offset ?? 0, 0, Number.MAX_SAFE_INTEGER, 'offset');
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.db.prepare(`SELECT count(*) AS n FROM runs ${clause}`).get(...args) as { n: number }).n;
    const rows = this.db
      .prepare(
        `SELECT runs.*, (SELECT count(*) FROM steps WHERE steps.run_id = runs.id) AS step_count FROM runs ${clause}
         ORDER BY runs.queued_at_ms DESC, runs.id DESC LIMIT ? OFFSET ?`,
      )
      .all(...args, limit, offset) as RunRow[];
    return { runs: rows.map((row) => ({ ...summaryOf(fromRow(row)), stepCount: row.step_count ?? 0 })), total };
  }

  /** How many runs there are per status and, for finished ones, per verdict (for metrics). */
  counts(): { byStatus: Record<RunStatus, number>; finishedByVerdict: Partial<Record<Verdict, number>> } {
    const byStatus: Record<RunStatus, number> = { queued: 0, running: 0, finished: 0 };
    for (const row of this.db.prepare('SELECT status, count(*) AS n FROM runs GROUP BY status').all() as { status: RunStatus; n: number }[]) byStatus[row.status] = row.n;
    const finishedByVerdict: Partial<Record<Verdict, number>> = {};
    const verdictRows = this.db.prepare("SELECT verdict, count(*) AS n FROM runs WHERE status = 'finished' AND verdict IS NOT NULL GROUP BY verdict").all() as { verdict: Verdict; n: number }[];
    for (const row of verdictRows) finishedByVerdict[row.verdict] = row.n;
    return { byStatus, finishedByVerdict };
  }

  /**
   * At daemon start: every run that was queued or running when the daemon died is
   * finished as `infra-error` with reason `interrupted`; its running step is
   * finished likewise and its pending steps skipped. Finished runs are untouched.
   * Returns the ids it marked.
   */
  markInterrupted(now: Date = new Date()): string[] {
    const endedAt = now.toISOString();
    return this.db.transaction(() => {
      const ids = (this.statements.openRuns.all() as { id: string }[]).map((r) => r.id);
      for (const id of ids) {
        const record = this.get(id)!;
        const steps = record.steps.map((step): StepRecord => {
          if (step.status === 'running') {
            return {
              ...step,
              status: 'finished',
              verdict: 'infra-error',
              endedAt,
              durationMs: step.startedAt ? Math.max(0, now.getTime() - Date.parse(step.startedAt)) : null,
              message: step.message ?? 'the daemon stopped while this step ran',
              errorCode: step.errorCode ?? INTERRUPTED_REASON,
            };
          }
          if (step.status === 'pending') return { ...step, status: 'skipped' };
          return step;
        });
        this.statements.updateRun.run(toRow({ ...record, status: 'finished', verdict: 'infra-error', reason: INTERRUPTED_REASON, endedAt }));
        this.writeSteps(id, steps);
      }
      return ids;
    })();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private requireRow(runId: string): RunRow {
    const row = this.statements.getRun.get(runId) as RunRow | undefined;
    if (!row) throw new RunStoreError('run-not-found', `no run ${runId}`, { runId });
    return row;
  }

  private stepCount(runId: string): number {
    return (this.db.prepare('SELECT count(*) AS n FROM steps WHERE run_id = ?').get(runId) as { n: number }).n;
  }

  private writeSteps(runId: string, steps: readonly StepRecord[]): void {
    for (const step of steps) this.statements.upsertStep.run(runId, step.index, JSON.stringify(step));
  }

  private writeConsole(runId: string, lines: readonly ConsoleExcerptLine[]): void {
    for (const line of lines) this.statements.insertConsole.run(runId, line.seq, line.timestamp, line.text, line.channel ?? null);
  }
}

function toRow(record: RunRecord): Record<string, string | number | null> {
  return {
    id: record.id,
    kind: record.kind ?? 'scenario',
    scenario: record.scenario,
    scenario_digest: record.scenarioDigest,
    board_id: record.boardId,
    status: record.status,
    verdict: record.verdict,
    reason: record.reason,
    requested_by: record.requestedBy,
    queued_at: record.queuedAt,
    queued_at_ms: toEpochMs(record.queuedAt, 'queuedAt'),
    started_at: record.startedAt,
    ended_at: record.endedAt,
    params: JSON.stringify(record.params ?? {}),
    provenance: record.provenance === null ? null : JSON.stringify(record.provenance),
    error_reports: JSON.stringify(record.errorReports ?? []),
    device_log: record.deviceLog === undefined ? null : JSON.stringify(record.deviceLog),
  };
}

function fromRow(row: RunRow): RunRecord {
  return {
    id: row.id,
    kind: row.kind ?? 'scenario',
    scenario: row.scenario,
    scenarioDigest: row.scenario_digest,
    boardId: row.board_id,
    params: JSON.parse(row.params) as Record<string, unknown>,
    requestedBy: row.requested_by,
    status: row.status,
    verdict: row.verdict,
    reason: row.reason,
    queuedAt: row.queued_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    steps: [],
    provenance: row.provenance === null ? null : (JSON.parse(row.provenance) as Provenance),
    console: [],
    errorReports: JSON.parse(row.error_reports) as unknown[],
    ...(row.device_log === null ? {} : { deviceLog: JSON.parse(row.device_log) as DeviceLogCapture[] }),
  };
}

function summaryOf(record: RunRecord): Omit<RunSummary, 'stepCount'> {
  const { steps: _steps, console: _console, errorReports: _reports, deviceLog: _deviceLog, ...summary } = record;
  return summary;
}

function toEpochMs(value: string | number, field: string): number {
  const ms = typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw new InputError('bad-time', `${field} must be an ISO 8601 time or epoch milliseconds, got ${JSON.stringify(value)}`, { field });
  return ms;
}

function clampInteger(value: number, min: number, max: number, field: string): number {
  if (!Number.isInteger(value) || value < min) throw new InputError('bad-filter', `${field} must be an integer >= ${min}, got ${String(value)}`, { field });
  return Math.min(value, max);
}
