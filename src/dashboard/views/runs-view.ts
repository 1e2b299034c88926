import { h, replaceChildren } from '../dom.js';
import { formatDuration } from '../format.js';
import type { LiveRun } from '../rig-model.js';
import { links } from '../router.js';
import { runDurationMs } from '../run-duration.js';
import { outcomeBadge } from '../verdict-style.js';
import type { View, ViewContext } from '../view-context.js';
import { viewKey } from '../view-context.js';
import { dataTable } from './data-table.js';
import { finishedRunsTable } from './finished-runs-table.js';
import { runKindTag } from './run-kind-tag.js';

/** Runs now: what runs and waits on which board and how far it got, then the latest finished runs. */
export class RunsView implements View {
  readonly element: HTMLElement;
  private readonly active = h('div');
  private readonly recent = h('div');
  private readonly key = viewKey('runs');
  private readonly cleanup: Array<() => void> = [];
  private readonly ticker: number;

  constructor(private readonly context: ViewContext) {
    this.element = h(
      'div',
      { class: 'view runs-view' },
      h('div', { class: 'view-head' }, h('h2', { text: 'Runs' })),
      h('section', { class: 'panel', attrs: { 'aria-label': 'Active runs' } }, h('h3', { text: 'Running and queued' }), this.active),
      h('section', { class: 'panel', attrs: { 'aria-label': 'Recently finished' } }, h('h3', { text: 'Recently finished' }), this.recent),
    );
    const redraw = () => context.frames.schedule(this.key, () => this.draw());
    this.cleanup.push(context.model.changes.on('runs', redraw));
    this.ticker = window.setInterval(() => context.model.activeRuns().length && redraw(), 1000);
    this.draw();
  }

  private draw(): void {
    const runs = [...this.context.model.runs.values()];
    const active = runs.filter((r) => r.status !== 'finished').sort((a, b) => (a.status === b.status ? time(a.queuedAt) - time(b.queuedAt) : a.status === 'running' ? -1 : 1));
    const finished = runs.filter((r) => r.status === 'finished').sort((a, b) => time(b.endedAt ?? b.queuedAt) - time(a.endedAt ?? a.queuedAt)).slice(0, 40);
    replaceChildren(
      this.active,
      active.length
        ? dataTable(['Scenario', 'Board', 'Status', 'Progress', 'Running for'], active.map((run) => this.activeRow(run)))
        : h('p', { class: 'muted', text: 'Nothing is running. Start a scenario from the Rig page.' }),
    );
    replaceChildren(
      this.recent,
      finished.length ? finishedRunsTable(finished) : h('p', { class: 'muted', text: 'No finished runs yet.' }),
    );
  }

  private activeRow(run: LiveRun): HTMLElement {
    const record = this.context.model.records.get(run.id);
    const total = record?.steps.length ?? run.stepCount ?? 0;
    const done = record ? record.steps.filter((s) => s.status === 'finished').length : run.stepsEnded;
    return h(
      'tr',
      { data: { run: run.id, status: run.status, kind: run.kind ?? 'scenario' } },
      h('td', {}, h('a', { text: run.scenario, attrs: { href: links.run(run.id) } }), runKindTag(run)),
      h('td', {}, h('a', { text: run.boardId, attrs: { href: links.board(run.boardId) } })),
      h('td', {}, outcomeBadge(run.status, null, 'small'), run.status === 'queued' && run.waiting ? h('span', { class: 'waiting-reason', text: ` ${run.waiting}`, title: 'Why it has not started' }) : null),
      h(
        'td',
        {},
        total ? h('progress', { attrs: { max: total, value: done, 'aria-label': `${done} of ${total} steps` } }) : null,
        total ? ` ${done}/${total}` : '',
        run.currentStep ? h('span', { class: 'muted', text: ` · ${run.currentStep.name}` }) : null,
      ),
      h('td', { class: 'num', text: formatDuration(runDurationMs(run, Date.now())) }),
    );
  }

  destroy(): void {
    for (const undo of this.cleanup) undo();
    window.clearInterval(this.ticker);
    this.context.frames.cancel(this.key);
  }
}

function time(iso: string | null | undefined): number {
  return Date.parse(iso ?? '') || 0;
}
