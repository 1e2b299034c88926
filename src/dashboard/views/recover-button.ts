import { ApiError } from '../api-client.js';
import type { Board } from '../api-types.js';
import { h, replaceChildren } from '../dom.js';
import { shortId } from '../format.js';
import type { ViewContext } from '../view-context.js';

/**
 * "Recover…", then "Yes, recover / Keep": recovery rewrites the board's OS and
 * apps to the rig's baseline over its recovery UART (POST /boards/:id/recover,
 * a health-check run queued ahead of the board's runs), a board stuck in ROM
 * included, so one stray click must not start it. A toast says it was queued
 * (or refused, and why), and another its outcome when the run ends. Hidden
 * for viewers; disabled for a retired or offline board and while one is pending.
 */
export class RecoverButton {
  readonly element = h('span', { class: 'recover-board' });
  private readonly start = h('button', { class: 'button danger-outline', text: 'Recover…', attrs: { type: 'button' }, data: { action: 'recover' } });
  private pendingRun: string | null = null;
  private stopWatching: (() => void) | null = null;

  constructor(
    private readonly context: ViewContext,
    private readonly boardId: string,
  ) {
    this.start.addEventListener('click', () => this.ask());
    this.idle();
  }

  update(board: Board | undefined): void {
    this.element.hidden = !this.context.model.canOperate() || !board;
    if (!board) return;
    const why =
      board.health.status === 'retired' ? 'Retired boards are not recovered' : board.state === 'offline' ? 'the board is offline' : this.pendingRun ? 'a recovery is queued or running' : null;
    this.start.disabled = why !== null;
    this.start.title = why ?? `Recover ${this.boardId} to the rig's baseline OS over its recovery UART`;
  }

  destroy(): void {
    this.stopWatching?.();
  }

  private idle(): void {
    replaceChildren(this.element, this.start);
    this.update(this.context.model.boards.get(this.boardId));
  }

  private ask(): void {
    const confirm = h('button', { class: 'button danger', text: 'Yes, recover', attrs: { type: 'button' }, data: { confirm: 'recover' } });
    const keep = h('button', { class: 'button subtle', text: 'Keep', attrs: { type: 'button' } });
    confirm.addEventListener('click', () => void this.recover(confirm));
    keep.addEventListener('click', () => this.idle());
    replaceChildren(this.element, h('span', { class: 'confirm-question', text: `Recover ${this.boardId}? Its OS and apps are rewritten to the baseline.` }), ' ', confirm, ' ', keep);
    confirm.focus();
  }

  private async recover(button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      const { runId } = await this.context.api.post<{ runId: string }>(`/api/v1/boards/${encodeURIComponent(this.boardId)}/recover`);
      this.pendingRun = runId;
      this.context.toast('info', `${this.boardId}: recovery queued (run ${shortId(runId, 8, 0)})`);
      this.watch(runId);
      this.context.sync.board(this.boardId);
    } catch (error) {
      const why = error instanceof ApiError && error.status === 403 ? 'your token may not act on boards' : (error as Error).message;
      this.context.toast('error', `${this.boardId}: recovery refused: ${why}`);
    }
    this.idle();
  }

  /** Toasts the run's verdict once the stream says it ended. */
  private watch(runId: string): void {
    this.stopWatching?.();
    const check = (): void => {
      const run = this.context.model.runs.get(runId);
      if (!run || run.status !== 'finished') return;
      this.stopWatching?.();
      this.stopWatching = null;
      this.pendingRun = null;
      if (run.verdict === 'passed') this.context.toast('info', `${this.boardId}: recovered to the baseline OS`);
      else this.context.toast('error', `${this.boardId}: recovery ended ${run.verdict ?? 'without a verdict'}${run.reason ? `: ${run.reason}` : ''}`);
      this.update(this.context.model.boards.get(this.boardId));
    };
    this.stopWatching = this.context.model.changes.on(`board-runs:${this.boardId}`, check);
    check();
  }
}
