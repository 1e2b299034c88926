import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Verdict } from '../scenario/verdict.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { componentLogger } from '../util/logger.js';

/**
 * Whether each board may take runs (after LAVA's device health), beside its
 * state: a board can be `ready` and still `bad` (its last health check failed).
 * - `unknown`: not checked since the daemon started, or since a run on it ended
 *   in a way that says nothing good about the board (infra-error, device-fault,
 *   timeout, cancelled); a health check is due and runs before anything else.
 * - `good`: its last health check passed; it takes runs.
 * - `bad`: its last health check failed; it takes no runs until one passes.
 * - `maintenance`: drained by an operator; `retired`: out of service for good.
 * The operator's choices (maintenance, retired) survive a restart; the rest is
 * judged again by a health check at start.
 */
export type BoardHealthStatus = 'good' | 'unknown' | 'bad' | 'maintenance' | 'retired';

export const BOARD_HEALTH_STATUSES: readonly BoardHealthStatus[] = ['good', 'unknown', 'bad', 'maintenance', 'retired'];

/** Run verdicts after which a board must prove itself again before it takes the next run. */
export const VERDICTS_NEEDING_HEALTH_CHECK: readonly Verdict[] = ['infra-error', 'device-fault', 'timeout', 'cancelled'];

export interface HealthCheckOutcome {
  runId: string;
  verdict: Verdict;
  endedAt: string;
}

export interface BoardHealth {
  status: BoardHealthStatus;
  reason: string | null;
  /** ISO 8601: when the status last changed. */
  since: string;
  /** A health-check run is queued or running for the board. */
  checking: boolean;
  lastCheck: HealthCheckOutcome | null;
}

interface StoredHealth {
  status: BoardHealthStatus;
  reason: string | null;
  since: string;
  lastCheck: HealthCheckOutcome | null;
}

const log = componentLogger('health');

export class BoardHealthBook extends EventEmitter<{ change: [boardId: string, from: BoardHealthStatus | null, to: BoardHealthStatus, reason: string | null] }> {
  readonly #health = new Map<string, BoardHealth>();

  /** `path`: where operator decisions are kept across restarts (a JSON file); none keeps them in memory only. */
  constructor(private readonly path?: string) {
    super();
    if (path) this.#load(path);
  }

  /** A board the rig serves: it starts `unknown` unless an operator had drained or retired it. */
  register(boardId: string): BoardHealth {
    const known = this.#health.get(boardId);
    if (known) return known;
    const health: BoardHealth = { status: 'unknown', reason: 'not checked since the daemon started', since: new Date().toISOString(), checking: false, lastCheck: null };
    this.#health.set(boardId, health);
    this.emit('change', boardId, null, health.status, health.reason);
    return health;
  }

  get(boardId: string): BoardHealth {
    return this.#health.get(boardId) ?? this.register(boardId);
  }

  /** Boards with their health (in registration order). */
  entries(): Array<[string, BoardHealth]> {
    return [...this.#health.entries()];
  }

  /** Whether the board may start a run that is not a health check. */
  takesRuns(boardId: string): boolean {
    return this.get(boardId).status === 'good';
  }

  set(boardId: string, status: BoardHealthStatus, reason: string | null): BoardHealth {
    const health = this.get(boardId);
    const from = health.status;
    if (from === status && health.reason === reason) return health;
    health.status = status;
    health.reason = reason;
    health.since = new Date().toISOString();
    this.#save();
    if (from !== status) log.info('board health', { board: boardId, from, to: status, reason });
    this.emit('change', boardId, from, status, reason);
    return health;
  }

  setChecking(boardId: string, checking: boolean): void {
    const health = this.get(boardId);
    if (health.checking === checking) return;
    health.checking = checking;
    this.emit('change', boardId, health.status, health.status, health.reason);
  }

  /**
   * A health check ended. A board an operator drained or retired meanwhile stays so;
   * otherwise it is good or bad by the check. A check cancelled because the daemon
   * stops says nothing about the board.
   */
  checked(boardId: string, outcome: HealthCheckOutcome, reason: string | null): BoardHealth {
    const health = this.get(boardId);
    health.lastCheck = outcome;
    health.checking = false;
    if (health.status === 'maintenance' || health.status === 'retired') {
      this.#save();
      this.emit('change', boardId, health.status, health.status, health.reason);
      return health;
    }
    if (outcome.verdict === 'passed') return this.set(boardId, 'good', null);
    return this.set(boardId, 'bad', `health check ${outcome.verdict}${reason ? `: ${reason}` : ''}`);
  }

  #load(path: string): void {
    let stored: Record<string, StoredHealth>;
    try {
      stored = JSON.parse(readFileSync(path, 'utf8')) as Record<string, StoredHealth>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') log.warn('board health file unreadable; every board starts unknown', { path, error: (error as Error).message });
      return;
    }
    if (!stored || typeof stored !== 'object') return;
    for (const [boardId, entry] of Object.entries(stored)) {
      if (!entry || typeof entry !== 'object') continue;
      const kept = entry.status === 'maintenance' || entry.status === 'retired';
      this.#health.set(boardId, {
        status: kept ? entry.status : 'unknown',
        reason: kept ? (typeof entry.reason === 'string' ? entry.reason : null) : 'not checked since the daemon started',
        since: kept && typeof entry.since === 'string' ? entry.since : new Date().toISOString(),
        checking: false,
        lastCheck: entry.lastCheck && typeof entry.lastCheck === 'object' ? entry.lastCheck : null,
      });
    }
  }

  #save(): void {
    if (!this.path) return;
    const stored: Record<string, StoredHealth> = {};
    for (const [boardId, { status, reason, since, lastCheck }] of this.#health) stored[boardId] = { status, reason, since, lastCheck };
    try {
      writeFileAtomic(this.path, `${JSON.stringify(stored, null, 2)}\n`);
    } catch (error) {
      log.warn('board health not saved', { path: this.path, error: (error as Error).message });
    }
  }
}
