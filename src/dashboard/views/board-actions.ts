import { ApiError } from '../api-client.js';
import type { Board, BoardAction } from '../api-types.js';
import { h } from '../dom.js';
import type { ViewContext } from '../view-context.js';

/**
 * Buttons that act on a board through POST /boards/:id/actions. Hidden for a
 * token that may not act (viewer); disabled while a run or a person holds the
 * board, with the reason as the tooltip. An action that makes no sense in the
 * board's power state (power on a running board, reset one that is off) is
 * hidden where space is short (`hideInapplicable`, the cards) and disabled
 * with the reason elsewhere.
 */
const LABELS: Record<BoardAction, string> = { 'power-on': 'Power on', 'power-off': 'Power off', 'power-cycle': 'Power-cycle', reset: 'Reset' };

/** Why `action` does not apply to the board as it is now, or null. */
export function inapplicableAction(action: BoardAction, board: Pick<Board, 'state'>): string | null {
  const off = board.state === 'off';
  switch (action) {
    case 'power-on':
      return off || board.state === 'unknown' ? null : 'the board is already on';
    case 'power-off':
      return off ? 'the board is already off' : null;
    case 'reset':
      return off ? 'the board is off: power it on first' : null;
    case 'power-cycle':
      return null;
  }
}

export class BoardActions {
  readonly buttons: HTMLButtonElement[];

  constructor(
    private readonly context: ViewContext,
    private readonly boardId: string,
    private readonly actions: BoardAction[],
    private readonly options: { hideInapplicable?: boolean } = {},
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
    this.buttons.forEach((button, i) => {
      const inapplicable = board ? inapplicableAction(this.actions[i]!, board) : null;
      button.hidden = !operator || (inapplicable !== null && this.options.hideInapplicable === true);
      if (button.getAttribute('aria-busy')) return;
      const why = busy ?? inapplicable;
      button.disabled = why !== null;
      button.title = why ?? `${button.textContent} ${this.boardId}`;
    });
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
