import { ApiError } from '../api-client.js';
import type { Board, BoardHealth } from '../api-types.js';
import { h } from '../dom.js';
import type { ViewContext } from '../view-context.js';

/**
 * An operator's say over a board's health: "Health check" queues a check at
 * the head of the board's queue (POST /boards/:id/health-check), and the
 * "Maintenance" toggle drains the board or returns it to service
 * (PUT /boards/:id/health {status: maintenance | unknown}; back in service it
 * is unchecked, so the daemon queues a check). Hidden for viewers.
 */
export class BoardHealthControls {
  readonly check = h('button', { class: 'button', text: 'Health check', attrs: { type: 'button' }, data: { action: 'health-check' } });
  readonly maintenance = h('button', { class: 'button toggle', text: 'Maintenance', attrs: { type: 'button', 'aria-pressed': 'false' }, data: { action: 'maintenance' } });
  readonly buttons = [this.check, this.maintenance];
  private inMaintenance = false;

  constructor(
    private readonly context: ViewContext,
    private readonly boardId: string,
  ) {
    this.check.addEventListener('click', () => void this.runCheck());
    this.maintenance.addEventListener('click', () => void this.setMaintenance(!this.inMaintenance));
  }

  update(board: Board | undefined): void {
    const operator = this.context.model.canOperate();
    for (const button of this.buttons) button.hidden = !operator || !board;
    if (!board || this.buttons.some((b) => b.getAttribute('aria-busy'))) return;
    const status = board.health.status;
    this.inMaintenance = status === 'maintenance';
    this.maintenance.setAttribute('aria-pressed', String(this.inMaintenance));
    this.maintenance.classList.toggle('on', this.inMaintenance);
    this.maintenance.disabled = status === 'retired';
    this.maintenance.title =
      status === 'retired' ? 'Retired: it takes no runs' : this.inMaintenance ? `Return ${this.boardId} to service (a health check runs first)` : `Take ${this.boardId} out of service: runs on other boards, runs asked for it wait`;
    this.check.disabled = status === 'retired' || board.health.checking;
    this.check.title = status === 'retired' ? 'Retired boards are not checked' : board.health.checking ? 'A health check is already queued or running' : `Check ${this.boardId} now: power on, boot to services up, attest`;
  }

  private async runCheck(): Promise<void> {
    await this.busy(this.check, async () => {
      const { runId } = await this.context.api.post<{ runId: string }>(`/api/v1/boards/${encodeURIComponent(this.boardId)}/health-check`);
      this.context.toast('info', `${this.boardId}: health check queued (run ${runId.slice(0, 8)})`);
      // The answer has no health: show the pending check now, the board refetch confirms it.
      this.patchHealth({ checking: true });
      this.context.sync.activeRuns();
    }, 'health check');
  }

  private async setMaintenance(on: boolean): Promise<void> {
    await this.busy(this.maintenance, async () => {
      const health = await this.context.api.put<BoardHealth>(`/api/v1/boards/${encodeURIComponent(this.boardId)}/health`, { status: on ? 'maintenance' : 'unknown' });
      this.patchHealth(health);
      this.context.toast('info', on ? `${this.boardId} is in maintenance: it takes no new runs` : `${this.boardId} is back in service; a health check runs first`);
    }, on ? 'maintenance' : 'return to service');
  }

  private patchHealth(fields: Partial<BoardHealth>): void {
    const board = this.context.model.boards.get(this.boardId);
    if (board) this.context.model.setBoard({ ...board, health: { ...board.health, ...fields } });
    this.context.sync.board(this.boardId);
  }

  private async busy(button: HTMLButtonElement, action: () => Promise<void>, what: string): Promise<void> {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      await action();
    } catch (error) {
      const why = error instanceof ApiError && error.status === 403 ? 'your token may not change boards' : (error as Error).message;
      this.context.toast('error', `${this.boardId}: ${what} refused: ${why}`);
    } finally {
      button.removeAttribute('aria-busy');
      this.update(this.context.model.boards.get(this.boardId));
    }
  }
}
