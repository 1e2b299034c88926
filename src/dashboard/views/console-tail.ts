import { h } from '../dom.js';
import { abbreviateIds, formatClock } from '../format.js';
import type { View, ViewContext } from '../view-context.js';
import { viewKey } from '../view-context.js';

/**
 * The last few console lines of a board, on its card. New lines are drawn once
 * per frame, at most `size` of them, so fifty busy boards cost fifty small
 * appends per frame and never a growing DOM.
 */
export class ConsoleTail implements View {
  readonly element: HTMLElement;
  private drawnPos = 0;
  private drawnGeneration = 0;
  private readonly key = viewKey('tail');
  private readonly unsubscribe: () => void;

  constructor(
    private readonly context: ViewContext,
    private readonly boardId: string,
    private readonly size = 4,
  ) {
    this.element = h('div', { class: 'console-tail', attrs: { 'aria-label': `Latest console lines of ${boardId}`, role: 'group' } });
    this.unsubscribe = context.model.changes.on(`console:${boardId}`, () => context.frames.schedule(this.key, () => this.draw()));
    this.draw();
  }

  private draw(): void {
    const buffer = this.context.model.console(this.boardId);
    // A backfill renumbers positions: start over.
    if (buffer.generation !== this.drawnGeneration) {
      this.drawnGeneration = buffer.generation;
      this.drawnPos = 0;
      this.element.replaceChildren();
    }
    const fresh = buffer.after(this.drawnPos, this.size);
    if (!fresh.length) return;
    const fragment = document.createDocumentFragment();
    for (const line of fresh) {
      fragment.append(
        h(
          'div',
          { class: line.note ? 'line note' : 'line', data: { seq: String(line.seq) }, title: line.text },
          h('time', { text: formatClock(line.timestamp).slice(0, 8), attrs: { datetime: new Date(line.timestamp).toISOString() } }),
          ' ',
          abbreviateIds(line.text),
        ),
      );
    }
    this.element.append(fragment);
    while (this.element.childElementCount > this.size) this.element.firstElementChild!.remove();
    this.drawnPos = fresh[fresh.length - 1]!.pos;
  }

  destroy(): void {
    this.unsubscribe();
    this.context.frames.cancel(this.key);
  }
}
