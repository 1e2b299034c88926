import { healthStyle } from '../board-health-style.js';
import { boardStateStyle } from '../board-state-style.js';
import { h, replaceChildren, setText } from '../dom.js';
import type { View, ViewContext } from '../view-context.js';
import { viewKey } from '../view-context.js';
import { BoardCard } from './board-card.js';
import { StartRunForm } from './start-run-form.js';

/**
 * The rig: a count of boards by state, the start-a-run form (operators), a
 * filter, and one card per board. Cards are made once per board and kept; only
 * the set of cards changes when boards come and go.
 */
export class RigView implements View {
  readonly element: HTMLElement;
  private readonly grid = h('div', { class: 'board-grid' });
  private readonly summary = h('p', { class: 'rig-summary' });
  private readonly compact = h('button', { class: 'button toggle', text: 'Compact cards', attrs: { type: 'button', 'aria-pressed': 'false' } });
  private readonly filter = h('input', { id: 'board-filter', attrs: { type: 'search', placeholder: 'Filter boards: id, tag, state, health', autocomplete: 'off' } });
  private readonly operatorArea = h('section', { class: 'panel operator-area', attrs: { 'aria-label': 'Start a run' } });
  private readonly cards = new Map<string, BoardCard>();
  private readonly selected = new Set<string>();
  private readonly form: StartRunForm;
  private readonly key = viewKey('rig');
  private readonly cleanup: Array<() => void> = [];

  constructor(private readonly context: ViewContext) {
    this.form = new StartRunForm(context, () => [...this.selected].filter((id) => context.model.boards.has(id)));
    this.element = h(
      'div',
      { class: 'view rig-view' },
      h(
        'div',
        { class: 'view-head' },
        h('h2', { text: 'Rig' }),
        this.summary,
        h('span', { class: 'spacer' }),
        this.compact,
        h('label', { class: 'filter' }, h('span', { class: 'visually-hidden', text: 'Filter boards' }), this.filter),
      ),
      this.operatorArea,
      this.grid,
    );
    this.filter.addEventListener('input', () => this.applyFilter());
    this.compact.addEventListener('click', () => {
      storeCompact(!this.isCompact());
      this.drawDensity();
    });
    const redraw = () => context.frames.schedule(this.key, () => this.draw());
    this.cleanup.push(context.model.changes.on('boards', redraw), context.model.changes.on('identity', redraw));
    this.draw();
  }

  private draw(): void {
    const model = this.context.model;
    this.operatorArea.hidden = model.identity === null;
    if (model.canOperate()) {
      if (!this.operatorArea.contains(this.form.element)) replaceChildren(this.operatorArea, this.form.element);
    } else {
      replaceChildren(
        this.operatorArea,
        h('p', { class: 'read-only-note', text: `Read-only: the token “${model.identity?.name ?? '?'}” has the ${model.identity?.role ?? 'viewer'} role, so starting runs and acting on boards are not offered.` }),
      );
    }
    for (const [id, card] of this.cards) {
      if (model.boards.has(id)) continue;
      card.destroy();
      card.element.remove();
      this.cards.delete(id);
      this.selected.delete(id);
    }
    const ids = [...model.boards.keys()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    ids.forEach((id, index) => {
      let card = this.cards.get(id);
      if (!card) {
        card = new BoardCard(this.context, id, (boardId, on) => {
          if (on) this.selected.add(boardId);
          else this.selected.delete(boardId);
          this.form.selectionChanged();
        });
        this.cards.set(id, card);
        this.cleanup.push(model.changes.on(`board:${id}`, () => this.context.frames.schedule(`${this.key}:summary`, () => this.drawSummary())));
      }
      if (this.grid.children[index] !== card.element) this.grid.insertBefore(card.element, this.grid.children[index] ?? null);
    });
    this.drawSummary();
    this.drawDensity();
    this.applyFilter();
    this.form.selectionChanged();
  }

  /** Compact cards show state, OS, attestation and run only: a big rig fits on a screen. Default: compact above 12 boards. */
  private isCompact(): boolean {
    return storedCompact() ?? this.context.model.boards.size > 12;
  }

  private drawDensity(): void {
    const compact = this.isCompact();
    this.grid.classList.toggle('compact', compact);
    this.compact.classList.toggle('on', compact);
    this.compact.setAttribute('aria-pressed', String(compact));
  }

  private drawSummary(): void {
    const states = new Map<string, number>();
    const health = new Map<string, number>();
    const count = (counts: Map<string, number>, label: string) => counts.set(label, (counts.get(label) ?? 0) + 1);
    for (const board of this.context.model.boards.values()) {
      count(states, boardStateStyle(board).label.toLowerCase());
      count(health, healthStyle(board.health.status).label.toLowerCase());
    }
    const list = (counts: Map<string, number>) => [...counts].map(([label, n]) => `${n} ${label}`).join(' · ');
    const total = this.context.model.boards.size;
    setText(this.summary, total ? `${total} boards: ${list(states)}; health: ${list(health)}` : 'Loading boards…');
  }

  private applyFilter(): void {
    const terms = this.filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    for (const [id, card] of this.cards) {
      const board = this.context.model.boards.get(id);
      if (!board) continue;
      const haystack = [id, board.state, board.runningRun ? 'running' : '', board.health.status, healthStyle(board.health.status).label, board.driver, ...board.tags, board.osVersion ?? ''].join(' ').toLowerCase();
      card.element.hidden = !terms.every((t) => haystack.includes(t));
    }
  }

  destroy(): void {
    for (const undo of this.cleanup) undo();
    for (const card of this.cards.values()) card.destroy();
    this.form.destroy();
    this.context.frames.cancel(this.key);
    this.context.frames.cancel(`${this.key}:summary`);
  }
}

const COMPACT_KEY = 'sphere-rig.compact-cards';

function storedCompact(): boolean | null {
  try {
    const value = localStorage.getItem(COMPACT_KEY);
    return value === null ? null : value === 'true';
  } catch {
    return null;
  }
}

function storeCompact(compact: boolean): void {
  try {
    localStorage.setItem(COMPACT_KEY, String(compact));
  } catch {
    // a preference only
  }
}
