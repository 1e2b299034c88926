import type { RunPage, RunSummary } from '../api-types.js';
import { h, replaceChildren } from '../dom.js';
import { formatCount, formatDateTime, formatPercent } from '../format.js';
import { flakyScenarios, groupStats, infraBoards, isJudged, passRateOverTime, type GroupBy, type GroupStats } from '../history-stats.js';
import { KeyedDebouncer } from '../keyed-debouncer.js';
import { links } from '../router.js';
import type { View, ViewContext } from '../view-context.js';
import { dataTable } from './data-table.js';
import { finishedRunsTable } from './finished-runs-table.js';
import { FILTER_NAMES, historyFilters } from './history-filters.js';
import { passRateChart } from './pass-rate-chart.js';
import { verdictStrip } from './verdict-strip.js';

/**
 * Run history: the runs matching the filters (newest 1000), pass rate per
 * scenario and per board over time, flaky scenarios, boards the rig keeps
 * failing on (infra errors), and the runs themselves (health checks marked). Recomputed in the page
 * from run summaries; refreshed a few seconds after runs end.
 */
const HISTORY_LIMIT = 1000;
const RUNS_PAGE = 50;

export class HistoryView implements View {
  readonly element: HTMLElement;
  private readonly filtersArea = h('div');
  private readonly body = h('div', { class: 'history-body' }, h('p', { class: 'muted', text: 'Loading runs…' }));
  private runs: RunSummary[] = [];
  private total = 0;
  private chartBy: GroupBy = 'scenario';
  private shownRuns = RUNS_PAGE;
  private readonly refresh = new KeyedDebouncer(3000);
  private readonly cleanup: Array<() => void> = [];

  constructor(
    private readonly context: ViewContext,
    private readonly query: URLSearchParams,
  ) {
    this.element = h('div', { class: 'view history-view' }, h('div', { class: 'view-head' }, h('h2', { text: 'History' })), h('section', { class: 'panel' }, this.filtersArea), this.body);
    const drawFilters = () => replaceChildren(this.filtersArea, historyFilters(context, query));
    this.cleanup.push(
      context.model.changes.on('scenarios', drawFilters),
      context.model.changes.on('boards', drawFilters),
      // The page lists finished runs only: steps of running ones change nothing here.
      context.model.changes.on('runs-ended', () => this.refresh.request('history', () => this.load())),
    );
    drawFilters();
    void this.load();
  }

  private async load(): Promise<void> {
    const params = new URLSearchParams({ limit: String(HISTORY_LIMIT), status: 'finished' });
    for (const name of FILTER_NAMES) {
      const value = this.query.get(name);
      if (value) params.set(name, value);
    }
    try {
      const page = await this.context.api.get<RunPage>(`/api/v1/runs?${params.toString()}`);
      this.runs = page.runs;
      this.total = page.total;
      this.draw();
    } catch (error) {
      replaceChildren(this.body, h('p', { class: 'warn-text', text: `Runs not loaded: ${(error as Error).message}` }));
    }
  }

  private draw(): void {
    const runs = this.runs;
    const judged = runs.filter((r) => isJudged(r.verdict));
    const passed = judged.filter((r) => r.verdict === 'passed').length;
    const infra = runs.filter((r) => r.verdict === 'infra-error').length;
    const flaky = flakyScenarios(runs);
    const infraList = infraBoards(runs);
    const toggle = (by: GroupBy, label: string) => {
      const button = h('button', { class: `button toggle${this.chartBy === by ? ' on' : ''}`, text: label, attrs: { type: 'button', 'aria-pressed': this.chartBy === by ? 'true' : 'false' } });
      button.addEventListener('click', () => {
        this.chartBy = by;
        this.draw();
      });
      return button;
    };
    replaceChildren(
      this.body,
      h(
        'div',
        { class: 'tiles' },
        tile('Runs', formatCount(runs.length), this.total > runs.length ? `newest ${formatCount(runs.length)} of ${formatCount(this.total)}` : 'finished, in range'),
        tile('Pass rate', formatPercent(judged.length ? passed / judged.length : null), `${passed} of ${judged.length} judged runs`),
        tile('Flaky scenarios', String(flaky.length), 'both passed and failed their test'),
        tile('Infra errors', String(infra), `on ${infraList.length} board${infraList.length === 1 ? '' : 's'}`),
      ),
      h(
        'section',
        { class: 'panel', attrs: { 'aria-label': 'Pass rate over time' } },
        h('div', { class: 'panel-head' }, h('h3', { text: 'Pass rate over time' }), h('span', { class: 'spacer' }), h('div', { class: 'toggles', attrs: { role: 'group', 'aria-label': 'Lines per' } }, toggle('scenario', 'per scenario'), toggle('board', 'per board'))),
        passRateChart(passRateOverTime(runs, this.chartBy), this.chartBy),
      ),
      h(
        'div',
        { class: 'two-columns' },
        h(
          'section',
          { class: 'panel', attrs: { 'aria-label': 'Flaky scenarios' } },
          h('h3', { text: 'Flaky scenarios' }),
          h('p', { class: 'hint', text: 'Passes against test failures only: health checks, infra errors, device faults, timeouts and cancellations say more about the rig or the board than the test.' }),
          flakyTable(flaky),
        ),
        h('section', { class: 'panel', attrs: { 'aria-label': 'Boards with infrastructure errors' } }, h('h3', { text: 'Boards with infrastructure errors' }), infraTable(infraList)),
      ),
      h(
        'div',
        { class: 'two-columns' },
        h('section', { class: 'panel', attrs: { 'aria-label': 'Per scenario' } }, h('h3', { text: 'Per scenario' }), groupTable(groupStats(runs, 'scenario'), 'Scenario', 'scenario')),
        h('section', { class: 'panel', attrs: { 'aria-label': 'Per board' } }, h('h3', { text: 'Per board' }), groupTable(groupStats(runs, 'board'), 'Board', 'board')),
      ),
      h('section', { class: 'panel', attrs: { 'aria-label': 'Runs' } }, h('h3', { text: 'Runs' }), this.runsTable()),
    );
  }

  private runsTable(): HTMLElement {
    if (!this.runs.length) return h('p', { class: 'muted', text: 'No finished runs match these filters.' });
    const shown = this.runs.slice(0, this.shownRuns);
    const more = h('button', { class: 'button subtle', text: `Show ${Math.min(RUNS_PAGE, this.runs.length - shown.length)} more`, attrs: { type: 'button' }, hidden: shown.length >= this.runs.length });
    more.addEventListener('click', () => {
      this.shownRuns += RUNS_PAGE;
      this.draw();
    });
    return h(
      'div',
      {},
      finishedRunsTable(shown),
      more,
    );
  }

  destroy(): void {
    for (const undo of this.cleanup) undo();
    this.refresh.cancel();
  }
}

function tile(label: string, value: string, note: string): HTMLElement {
  return h('div', { class: 'tile-stat' }, h('span', { class: 'tile-label', text: label }), h('strong', { class: 'tile-value', text: value }), h('span', { class: 'muted small', text: note }));
}

function rateCell(rate: number | null): HTMLElement {
  if (rate === null) return h('td', { class: 'num muted', text: '— (none judged)' });
  const bar = h('span', { class: 'rate-bar' }, h('span', { class: 'rate-fill' }));
  (bar.firstElementChild as HTMLElement).style.width = `${Math.round((rate ?? 0) * 100)}%`;
  return h('td', { class: 'num' }, bar, ` ${formatPercent(rate)}`);
}

function groupTable(groups: GroupStats[], heading: string, filter: 'scenario' | 'board'): HTMLElement {
  if (!groups.length) return h('p', { class: 'muted', text: 'No runs.' });
  return dataTable(
    [heading, 'Runs', 'Pass rate', 'Failed', 'Infra', 'Last verdicts'],
    groups.map((g) =>
      h(
        'tr',
        { data: { [filter]: g.key } },
        h('td', {}, h('a', { text: g.key, attrs: { href: links.history(new URLSearchParams({ [filter]: g.key })) } })),
        h('td', { class: 'num', text: String(g.runs) }),
        rateCell(g.passRate),
        h('td', { class: 'num', text: String(g.failed) }),
        h('td', { class: 'num', text: String(g.infra) }),
        h('td', {}, verdictStrip(g.recent)),
      ),
    ),
  );
}

function flakyTable(flaky: ReturnType<typeof flakyScenarios>): HTMLElement {
  if (!flaky.length) return h('p', { class: 'muted', text: 'None: every scenario either always passed or always failed in this range.' });
  return dataTable(
    ['Scenario', 'Passed', 'Failed', 'Flips', 'Failed on', 'Last verdicts'],
    flaky.map((f) =>
      h(
        'tr',
        { data: { flaky: f.scenario } },
        h('td', {}, h('a', { text: f.scenario, attrs: { href: links.history(new URLSearchParams({ scenario: f.scenario })) } })),
        h('td', { class: 'num', text: String(f.passed) }),
        h('td', { class: 'num', text: String(f.failed) }),
        h('td', { class: 'num', text: `${f.flips} (${formatPercent(f.flipRate)})` }),
        h('td', { class: 'wrap', text: f.failingBoards.join(', ') }),
        h('td', {}, verdictStrip(f.recent)),
      ),
    ),
  );
}

function infraTable(boards: ReturnType<typeof infraBoards>): HTMLElement {
  if (!boards.length) return h('p', { class: 'muted', text: 'None: the rig itself failed no run in this range.' });
  return dataTable(
    ['Board', 'Infra errors', 'Of runs', 'Last reason', 'Last'],
    boards.map((b) =>
      h(
        'tr',
        { data: { infraBoard: b.boardId } },
        h('td', {}, h('a', { text: b.boardId, attrs: { href: links.board(b.boardId) } })),
        h('td', { class: 'num', text: String(b.infraErrors) }),
        h('td', { class: 'num', text: `${b.runs} (${formatPercent(b.rate)})` }),
        h('td', { class: 'wrap', text: b.lastReason ?? '—' }),
        h('td', { text: formatDateTime(b.lastAt) }),
      ),
    ),
  );
}
