import type { ConsoleLine } from '../api-types.js';
import type { BufferedLine } from '../console-buffer.js';
import { h, setText } from '../dom.js';
import { formatClock, formatCount } from '../format.js';
import type { View, ViewContext } from '../view-context.js';
import { viewKey } from '../view-context.js';

/**
 * A board's console, streaming (a board's live buffer) or as a run's excerpt.
 * Searchable; lines that scenario steps matched are marked with the step. At
 * most `MAX_DOM_LINES` lines are in the DOM (the newest); new lines are drawn
 * once per frame, and the view follows the newest line unless the reader has
 * scrolled up, in which case a button offers to jump back.
 */
const MAX_DOM_LINES = 1500;

type Source = { kind: 'live'; boardId: string; fromTimestamp: number } | { kind: 'excerpt'; lines: BufferedLine[] };

export class ConsolePanel implements View {
  readonly element: HTMLElement;
  private readonly lines = h('div', { class: 'console-lines', attrs: { tabindex: '0', 'aria-label': 'Console lines' } });
  private readonly heading = h('h3', { text: 'Console' });
  private readonly count = h('span', { class: 'console-count', attrs: { 'aria-live': 'polite' } });
  private readonly search = h('input', { class: 'console-search', attrs: { type: 'search', placeholder: 'Search the console', 'aria-label': 'Search the console', autocomplete: 'off' } });
  private readonly onlyMatched = h('input', { attrs: { type: 'checkbox' } });
  private readonly jump = h('button', { class: 'button subtle jump', text: 'Newest ↓', attrs: { type: 'button' }, hidden: true });
  private readonly head: HTMLElement;
  private source: Source | null = null;
  private matched = new Map<number, string>();
  private query = '';
  private drawnPos = 0;
  private drawnGeneration = -1;
  private shown = 0;
  private total = 0;
  private following = true;
  private unseen = 0;
  private unsubscribe: (() => void) | null = null;
  private searchTimer: number | undefined;
  private readonly key = viewKey('console');

  constructor(
    private readonly context: ViewContext,
    options: { stepMatches?: boolean } = {},
  ) {
    this.element = h(
      'section',
      { class: 'panel console-panel', attrs: { 'aria-label': 'Console' } },
      (this.head = h(
        'header',
        { class: 'console-head' },
        this.heading,
        this.count,
        h('span', { class: 'spacer' }),
        this.search,
        options.stepMatches === false ? null : h('label', { class: 'inline small' }, this.onlyMatched, 'step matches only'),
      )),
      this.lines,
      this.jump,
    );
    this.search.addEventListener('input', () => {
      window.clearTimeout(this.searchTimer);
      this.searchTimer = window.setTimeout(() => {
        this.query = this.search.value.trim().toLowerCase();
        this.redraw();
      }, 120);
    });
    this.onlyMatched.addEventListener('change', () => this.redraw());
    this.lines.addEventListener('scroll', () => {
      const atBottom = this.lines.scrollHeight - this.lines.scrollTop - this.lines.clientHeight < 24;
      if (atBottom === this.following) return;
      this.following = atBottom;
      if (atBottom) this.unseen = 0;
      this.drawJump();
    });
    this.jump.addEventListener('click', () => {
      this.following = true;
      this.unseen = 0;
      this.lines.scrollTop = this.lines.scrollHeight;
      this.drawJump();
    });
  }

  /** Follow a board's live console from a time on (a run's start), or everything kept. */
  /** A control of the panel's owner in its header (the board page's "Download console"). */
  addHeadControl(control: HTMLElement): void {
    this.head.append(control);
  }

  showLive(boardId: string, fromTimestamp = 0, title = `Console · ${boardId} · live`): void {
    if (this.source?.kind === 'live' && this.source.boardId === boardId && this.source.fromTimestamp === fromTimestamp) return;
    setText(this.heading, title);
    this.unsubscribe?.();
    this.source = { kind: 'live', boardId, fromTimestamp };
    this.unsubscribe = this.context.model.changes.on(`console:${boardId}`, () => this.context.frames.schedule(this.key, () => this.drawNew()));
    this.redraw();
  }

  /** A fixed list of lines (a finished run's excerpt). */
  showExcerpt(lines: readonly ConsoleLine[], title: string): void {
    setText(this.heading, title);
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.source = { kind: 'excerpt', lines: lines.map((line, i) => ({ ...line, pos: i + 1 })) };
    this.redraw();
  }

  /** Console seq → what matched it ("step 5 · rolled back"); marked lines are redrawn. */
  setMatched(matched: Map<number, string>): void {
    if (sameEntries(matched, this.matched)) return;
    this.matched = matched;
    this.redraw();
  }

  /** Scrolls to the line with this console seq (a step's match) and flashes it; false when it is not shown. */
  reveal(seq: number): boolean {
    const line = [...this.lines.querySelectorAll<HTMLElement>(`.line[data-seq="${seq}"]`)].pop();
    if (!line) return false;
    this.following = false;
    this.lines.scrollTop = line.offsetTop - this.lines.offsetTop - this.lines.clientHeight / 3;
    line.classList.remove('flash');
    void line.offsetWidth; // restart the animation
    line.classList.add('flash');
    this.drawJump();
    return true;
  }

  private candidates(after: number): BufferedLine[] {
    const source = this.source;
    if (!source) return [];
    if (source.kind === 'excerpt') return source.lines.filter((l) => l.pos > after);
    const lines = this.context.model.console(source.boardId).after(after);
    return source.fromTimestamp ? lines.filter((l) => l.timestamp >= source.fromTimestamp) : lines;
  }

  private generation(): number {
    return this.source?.kind === 'live' ? this.context.model.console(this.source.boardId).generation : 0;
  }

  private passes(line: BufferedLine): boolean {
    if (this.onlyMatched.checked && !this.matched.has(line.seq)) return false;
    return !this.query || line.text.toLowerCase().includes(this.query);
  }

  private redraw(): void {
    this.context.frames.cancel(this.key);
    const keepScroll = this.following ? null : this.lines.scrollTop;
    this.lines.replaceChildren();
    this.drawnPos = 0;
    this.shown = 0;
    this.total = 0;
    this.drawnGeneration = this.generation();
    this.append(this.candidates(0));
    if (keepScroll !== null) this.lines.scrollTop = keepScroll;
  }

  private drawNew(): void {
    if (this.generation() !== this.drawnGeneration) return this.redraw();
    const fresh = this.candidates(this.drawnPos);
    if (!this.following) this.unseen += fresh.filter((l) => this.passes(l)).length;
    this.append(fresh);
  }

  private append(candidates: BufferedLine[]): void {
    if (!candidates.length) {
      this.drawCount();
      return;
    }
    this.drawnPos = candidates[candidates.length - 1]!.pos;
    this.total += candidates.length;
    const passing = candidates.filter((l) => this.passes(l));
    this.shown += passing.length;
    const fragment = document.createDocumentFragment();
    for (const line of passing.slice(-MAX_DOM_LINES)) fragment.append(this.lineElement(line));
    this.lines.append(fragment);
    let excess = this.lines.childElementCount - MAX_DOM_LINES;
    while (excess-- > 0) this.lines.firstElementChild!.remove();
    if (this.following) this.lines.scrollTop = this.lines.scrollHeight;
    this.drawCount();
    this.drawJump();
  }

  private lineElement(line: BufferedLine): HTMLElement {
    const match = line.note ? undefined : this.matched.get(line.seq);
    const element = h(
      'div',
      { class: `line${match ? ' matched' : ''}${line.note ? ' note' : ''}`, data: { seq: String(line.seq) } },
      h('time', { text: formatClock(line.timestamp), attrs: { datetime: new Date(line.timestamp).toISOString() } }),
    );
    if (match) element.append(h('span', { class: 'match-tag', text: `◆ ${match}`, title: `matched by ${match}` }));
    if (line.channel) element.append(channelTag(line.channel));
    const text = h('span', { class: 'text' });
    if (this.query) highlight(text, line.text, this.query);
    else text.textContent = line.text;
    element.append(text);
    return element;
  }

  private drawCount(): void {
    const matchedCount = this.matched.size;
    const filtering = this.query || this.onlyMatched.checked;
    const text = filtering
      ? `${formatCount(this.shown)} of ${formatCount(this.total)} lines match`
      : `${formatCount(this.total)} lines${matchedCount ? ` · ${matchedCount} matched by steps` : ''}${this.shown > MAX_DOM_LINES ? ` · newest ${formatCount(MAX_DOM_LINES)} shown` : ''}`;
    setText(this.count, text);
  }

  private drawJump(): void {
    this.jump.hidden = this.following;
    setText(this.jump, this.unseen ? `${formatCount(this.unseen)} new ↓` : 'Newest ↓');
  }

  destroy(): void {
    this.unsubscribe?.();
    window.clearTimeout(this.searchTimer);
    this.context.frames.cancel(this.key);
  }
}

/** Puts <mark> around every case-insensitive occurrence of `query`. */
/** Which output a line came from; the emulator's readable trace is marked as what no real board prints. */
function channelTag(channel: string): HTMLElement {
  const emulatorOnly = channel === 'emulator-trace';
  return h('span', {
    class: `channel-tag${emulatorOnly ? ' emulator-only' : ''}`,
    text: emulatorOnly ? 'emulator only' : channel,
    title: emulatorOnly ? "the emulator's readable trace: a real board prints none of it" : `from the board's ${channel}`,
  });
}

function highlight(into: HTMLElement, text: string, query: string): void {
  const lower = text.toLowerCase();
  let at = 0;
  for (let found = lower.indexOf(query); found >= 0; found = lower.indexOf(query, at)) {
    if (found > at) into.append(text.slice(at, found));
    into.append(h('mark', { text: text.slice(found, found + query.length) }));
    at = found + query.length;
  }
  if (at < text.length) into.append(text.slice(at));
}

function sameEntries(a: Map<number, string>, b: Map<number, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) if (b.get(key) !== value) return false;
  return true;
}
