import type { RunPage } from '../api-types.js';
import { healthBadges } from '../board-health-style.js';
import { boardStateBadge } from '../board-state-style.js';
import { h, replaceChildren } from '../dom.js';
import { KeyedDebouncer } from '../keyed-debouncer.js';
import { formatDateTime, formatDuration } from '../format.js';
import { links } from '../router.js';
import { runDurationMs } from '../run-duration.js';
import { outcomeBadge } from '../verdict-style.js';
import type { View, ViewContext } from '../view-context.js';
import { viewKey } from '../view-context.js';
import { BoardActions } from './board-actions.js';
import { boardFacts } from './board-card.js';
import { healthFacts } from './board-health-facts.js';
import { BoardHealthControls } from './board-health-controls.js';
import { RecoverButton } from './recover-button.js';
import { consoleDownloadButton } from './console-download.js';
import { ConsolePanel } from './console-panel.js';
import { dataTable } from './data-table.js';
import { runKindTag } from './run-kind-tag.js';

/**
 * One board: its facts and health, power, reset, health check and maintenance
 * (operators), its whole console live (and as a file), and its latest runs.
 */
export class BoardView implements View {
  readonly element: HTMLElement;
  private readonly title = h('div', { class: 'run-title' });
  private readonly facts = h('dl', { class: 'facts wide' });
  private readonly actions: BoardActions;
  private readonly healthControls: BoardHealthControls;
  private readonly recover: RecoverButton;
  private readonly console: ConsolePanel;
  private readonly runs = h('div');
  private readonly key = viewKey('board');
  private readonly runsRefresh = new KeyedDebouncer(1000);
  private readonly cleanup: Array<() => void> = [];

  constructor(
    private readonly context: ViewContext,
    private readonly boardId: string,
  ) {
    this.actions = new BoardActions(context, boardId, ['power-on', 'power-off', 'power-cycle', 'reset']);
    this.healthControls = new BoardHealthControls(context, boardId);
    this.recover = new RecoverButton(context, boardId);
    this.console = new ConsolePanel(context, { stepMatches: false });
    this.console.addHeadControl(consoleDownloadButton(context, boardId));
    this.element = h(
      'div',
      { class: 'view board-view', data: { board: boardId } },
      h('p', { class: 'crumbs' }, h('a', { text: '← Rig', attrs: { href: links.rig() } })),
      h('header', { class: 'run-head' }, this.title, h('div', { class: 'run-actions' }, ...this.actions.buttons, ...this.healthControls.buttons, this.recover.element)),
      h(
        'div',
        { class: 'board-body' },
        h(
          'div',
          { class: 'board-main' },
          h('section', { class: 'panel', attrs: { 'aria-label': 'Board facts' } }, h('h3', { text: 'Board' }), this.facts),
          h('section', { class: 'panel', attrs: { 'aria-label': 'Latest runs on this board' } }, h('h3', { text: 'Latest runs on this board' }), this.runs),
        ),
        this.console.element,
      ),
    );
    const redraw = () => context.frames.schedule(this.key, () => this.draw());
    this.cleanup.push(
      context.model.changes.on(`board:${boardId}`, redraw),
      context.model.changes.on('identity', redraw),
      // A run on this board came, started or ended: reload its list, at most once a second.
      context.model.changes.on(`board-runs:${boardId}`, () => this.runsRefresh.request('runs', () => this.loadRuns(), 1000)),
    );
    this.console.showLive(boardId);
    void context.sync.loadConsole(boardId).catch((error: unknown) => context.toast('warn', `Older console lines not loaded: ${(error as Error).message}`));
    void this.loadRuns();
    this.draw();
  }

  private draw(): void {
    const board = this.context.model.boards.get(this.boardId);
    this.actions.update(board);
    this.healthControls.update(board);
    this.recover.update(board);
    if (!board) {
      replaceChildren(this.title, h('h2', { text: this.boardId }), h('span', { class: 'muted', text: 'not in this rig' }));
      return;
    }
    replaceChildren(this.title, h('h2', { text: board.id }), boardStateBadge(board), ...healthBadges(board.health));
    replaceChildren(this.facts, ...healthFacts(board), ...boardFacts(board));
  }

  private async loadRuns(): Promise<void> {
    const page = await this.context.api.get<RunPage>(`/api/v1/runs?board=${encodeURIComponent(this.boardId)}&limit=15`).catch(() => null);
    if (!page) return;
    replaceChildren(
      this.runs,
      page.runs.length
        ? dataTable(
            ['Queued', 'Scenario', 'Verdict', 'Took'],
            page.runs.map((run) =>
              h(
                'tr',
                { data: { run: run.id, kind: run.kind ?? 'scenario' } },
                h('td', { text: formatDateTime(run.queuedAt ?? null) }),
                h('td', {}, h('a', { text: run.scenario, attrs: { href: links.run(run.id) } }), runKindTag(run)),
                h('td', {}, outcomeBadge(run.status, run.verdict, 'small')),
                h('td', { class: 'num', text: formatDuration(runDurationMs(run)), title: run.reason ?? '' }),
              ),
            ),
          )
        : h('p', { class: 'muted', text: 'No runs on this board yet.' }),
    );
  }

  destroy(): void {
    for (const undo of this.cleanup) undo();
    this.runsRefresh.cancel();
    this.console.destroy();
    this.recover.destroy();
    this.context.frames.cancel(this.key);
  }
}
