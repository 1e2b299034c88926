import { ApiError } from '../api-client.js';
import type { Board, BoardAction } from '../api-types.js';
import { h } from '../dom.js';
import type { ViewContext } from '../view-context.js';

/**
 * Buttons that act on a board through POST /boards/:id/actions. Hidden for a
 * token that may not act (viewer); disabled while a run or a person holds the
 * board, with the reason as the tooltip.
 */
const LABELS: Record<BoardAction, string> = { 'power-on': 'Power on', 'power-off': 'Power off', 'power-cycle': 'Power-cycle', reset: 'Reset' };

export class BoardActions {
  readonly buttons: HTMLButtonElement[];

  constructor(
    private readonly context: ViewContext,
    private readonly boardId: string,
    actions: BoardAction[],
  ) {
    this.buttons = actions.map((action) => {
      const button = h('button', { class: 'button', text: LABELS[action], attrs: { type: 'button' }, data: { action } });
      button.addEventListener('click', () => void this.act(action, button));
      return button;
    });
  }

  update(board: Board | undefined): void {
    const operator = this.context.model.canOperate();
    const busy = !board ? 'unknown board' : board.runningRun ? `busy: run ${board.runningRun.scenario}` : board.lease ? `held by ${board.lease.holder}` : board.state === 'offline' ? 'the board is offline' : null;
    for (const button of this.buttons) {
      button.hidden = !operator;
      if (button.getAttribute('aria-busy')) continue;
      button.disabled = busy !== null;
      button.title = busy ?? `${button.textContent} ${this.boardId}`;
    }
  }

  private async act(action: BoardAction, button: HTMLButtonElement): Promise<void> {
    const label = LABELS[action].toLowerCase();
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      const answer = await this.context.api.post<{ state: string }>(`/api/v1/boards/${encodeURIComponent(this.boardId)}/actions`, { action });
      this.context.toast('info', `${this.boardId}: ${label} done (now ${answer.state})`);
      this.context.sync.board(this.boardId);
    } catch (error) {
      const why = error instanceof ApiError && error.status === 403 ? 'your token may not act on boards' : (error as Error).message;
      this.context.toast('error', `${this.boardId}: ${label} refused: ${why}`);
    } finally {
      button.removeAttribute('aria-busy');
      this.update(this.context.model.boards.get(this.boardId));
    }
  }
}
