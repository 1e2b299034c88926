import { ApiError, type ApiClient } from './api-client.js';
import type { Board, ConsoleLine, RunPage, RunRecord, ScenarioInfo, Whoami } from './api-types.js';
import { KeyedDebouncer } from './keyed-debouncer.js';
import type { RefreshRequests, RigModel } from './rig-model.js';

/**
 * Fetches what the stream does not carry: snapshots when the stream (re)connects,
 * a board's details after its state changed, the record of a run someone looks
 * at after its steps move, and the set of active runs (a run that ends is also
 * noticed here, should its `run.ended` event not arrive).
 */
const ACTIVE_RUNS_CHECK_MS = 4000;
const BOARDS_REFRESH_MS = 30_000;
const TAIL_BACKFILL_LINES = 20;

export class RigSync implements RefreshRequests {
  private model!: RigModel;
  private readonly debounce = new KeyedDebouncer(400);
  private readonly watched = new Set<string>();
  private timers: number[] = [];
  private backfilled = false;

  constructor(private readonly api: ApiClient) {}

  attach(model: RigModel): void {
    this.model = model;
  }

  start(): void {
    this.timers.push(window.setInterval(() => this.model.activeRuns().length && this.activeRuns(), ACTIVE_RUNS_CHECK_MS));
    this.timers.push(window.setInterval(() => document.visibilityState === 'visible' && this.loadBoards().catch(() => undefined), BOARDS_REFRESH_MS));
  }

  /** Signed out or refused: no timer and no debounced refresh fetches afterwards (it would only meet a 401). */
  stop(): void {
    for (const timer of this.timers) window.clearInterval(timer);
    this.timers = [];
    this.debounce.cancel();
  }

  /** Everything the page shows, fresh: on the first connection and after every reconnection. */
  async loadAll(): Promise<void> {
    const [identity, scenarios] = await Promise.all([this.loadIdentity(), this.api.get<ScenarioInfo[]>('/api/v1/scenarios')]);
    this.model.setIdentity(identity);
    this.model.setScenarios(scenarios);
    await Promise.all([this.loadBoards(), this.loadRuns(true)]);
    for (const id of this.watched) this.run(id);
    if (!this.backfilled) {
      this.backfilled = true;
      void this.backfillTails();
    }
  }

  /** The token's name and role; a daemon without /whoami is taken as letting the page try (it answers 403 if not). */
  private async loadIdentity(): Promise<Whoami> {
    try {
      return await this.api.get<Whoami>('/api/v1/whoami');
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return { name: 'unknown', role: 'operator' };
      throw error;
    }
  }

  async loadBoards(): Promise<void> {
    this.model.setBoards(await this.api.get<Board[]>('/api/v1/boards'));
  }

  /** Queued and running runs (and the newest 100 with `recent`); runs that left the active set are settled. */
  private async loadRuns(recent = false): Promise<void> {
    const [running, queued, latest] = await Promise.all([
      this.api.get<RunPage>('/api/v1/runs?status=running&limit=1000'),
      this.api.get<RunPage>('/api/v1/runs?status=queued&limit=1000'),
      recent ? this.api.get<RunPage>('/api/v1/runs?limit=100') : Promise.resolve({ runs: [], total: 0 }),
    ]);
    const activeIds = new Set([...running.runs, ...queued.runs].map((r) => r.id));
    const stale = this.model.activeRuns().filter((r) => !activeIds.has(r.id));
    this.model.setRuns([...latest.runs, ...running.runs, ...queued.runs]);
    await Promise.all(stale.map((r) => this.settle(r.id)));
  }

  /** The last few console lines of every board, so cards are not empty on a quiet rig. */
  private async backfillTails(): Promise<void> {
    const ids = [...this.model.boards.keys()];
    const worker = async () => {
      for (let id = ids.shift(); id !== undefined; id = ids.shift()) {
        const lines = await this.api.get<ConsoleLine[]>(`/api/v1/boards/${encodeURIComponent(id)}/console?limit=${TAIL_BACKFILL_LINES}`).catch(() => []);
        this.model.console(id).backfill(lines);
        this.model.changes.emit(`console:${id}`);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  }

  /** More of one board's console, for its console panel. */
  async loadConsole(boardId: string, limit = 1000): Promise<void> {
    const lines = await this.api.get<ConsoleLine[]>(`/api/v1/boards/${encodeURIComponent(boardId)}/console?limit=${limit}`);
    this.model.console(boardId).backfill(lines);
    this.model.changes.emit(`console:${boardId}`);
  }

  /** Keep this run's full record current while a view shows it. */
  watchRun(id: string): () => void {
    this.watched.add(id);
    void this.loadRecord(id);
    return () => this.watched.delete(id);
  }

  /** Fetches a run's record; a failure is kept for its view to show (with a way to try again), never thrown. */
  async loadRecord(id: string): Promise<void> {
    try {
      this.model.setRecord(await this.api.get<RunRecord>(`/api/v1/runs/${encodeURIComponent(id)}`));
    } catch (error) {
      const known = !(error instanceof ApiError && error.status === 404);
      this.model.recordProblem(id, known ? `could not be loaded: ${(error as Error).message}` : 'is not known to the daemon');
    }
  }

  // ---- RefreshRequests

  board(id: string): void {
    this.debounce.request(`board:${id}`, async () => {
      this.model.setBoard(await this.api.get<Board>(`/api/v1/boards/${encodeURIComponent(id)}`));
    }, 600);
  }

  run(id: string): void {
    if (!this.watched.has(id)) return;
    this.debounce.request(`run:${id}`, () => this.loadRecord(id), 250);
  }

  runEnding(id: string): void {
    // The run is persisted as finished just after its last step: ask for it shortly, then via the active-runs check.
    this.debounce.request(`ending:${id}`, async () => {
      if (this.watched.has(id)) await this.loadRecord(id);
      else await this.settle(id);
    }, 150);
    this.activeRuns();
  }

  activeRuns(): void {
    this.debounce.request('active-runs', () => this.loadRuns(), 400);
  }

  /** A run that left the active set: learn its verdict. */
  private async settle(id: string): Promise<void> {
    if (this.watched.has(id)) {
      await this.loadRecord(id);
      return;
    }
    const { steps: _s, console: _c, errorReports: _e, ...summary } = await this.api.get<RunRecord>(`/api/v1/runs/${encodeURIComponent(id)}`);
    this.model.setRuns([summary]);
  }
}
