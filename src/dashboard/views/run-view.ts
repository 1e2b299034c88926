import type { RunRecord, StepRecord } from '../api-types.js';
import { h, replaceChildren } from '../dom.js';
import { formatDateTime, formatDuration, shortId } from '../format.js';
import { links } from '../router.js';
import { runDurationMs } from '../run-duration.js';
import { outcomeBadge, VERDICT_STYLES } from '../verdict-style.js';
import type { View, ViewContext } from '../view-context.js';
import { viewKey } from '../view-context.js';
import { cancelRunButton } from './cancel-run-button.js';
import { ConsolePanel } from './console-panel.js';
import { copyButton } from './copy-button.js';
import { ErrorReportsSection } from './error-reports-section.js';
import { MeasurementsTable } from './measurements-table.js';
import { ProvenanceSection } from './provenance-section.js';
import { reportDownloads } from './report-downloads.js';
import { runKindTag } from './run-kind-tag.js';
import { currentStepIndex, StepTimeline } from './step-timeline.js';

/**
 * One run, live while it runs and its report once it has ended: verdict in the
 * failure taxonomy, steps, measurements, the board's console (streaming, then
 * the run's excerpt) with the lines steps matched marked, provenance, error
 * reports, and the JUnit/JSON downloads.
 */
export class RunView implements View {
  readonly element: HTMLElement;
  /** What the header says, redrawn on every update; the actions beside it are not (see drawActions). */
  private readonly headInfo = h('div', { class: 'run-head-info' });
  private readonly actions = h('div', { class: 'run-actions' });
  // Moving a focused button in the DOM blurs it: the actions stay put while the info around them is redrawn.
  private readonly head = h('header', { class: 'run-head' }, this.headInfo, this.actions);
  private readonly verdictNote = h('div', { class: 'verdict-note' });
  private readonly timeline = new StepTimeline();
  private readonly measurements = new MeasurementsTable();
  private readonly console: ConsolePanel;
  private readonly provenance = new ProvenanceSection();
  private readonly errorReports = new ErrorReportsSection();
  private actionsFor = '';
  private excerptShown = '';
  private readonly key = viewKey('run');
  private readonly cleanup: Array<() => void> = [];
  private ticker: number | undefined;

  constructor(
    private readonly context: ViewContext,
    private readonly runId: string,
  ) {
    this.console = new ConsolePanel(context);
    this.element = h(
      'div',
      { class: 'view run-view', data: { run: runId } },
      h('p', { class: 'crumbs' }, h('a', { text: '← Runs', attrs: { href: links.runs() } })),
      this.head,
      this.verdictNote,
      h(
        'div',
        { class: 'run-body' },
        h('section', { class: 'panel run-main', attrs: { 'aria-label': 'Steps' } }, h('h3', { text: 'Steps' }), this.timeline.element),
        this.console.element,
      ),
      h('section', { class: 'panel', attrs: { 'aria-label': 'Measurements' } }, h('h3', { text: 'Measurements against their limits' }), this.measurements.element),
      h('section', { class: 'panel', attrs: { 'aria-label': 'Provenance' } }, h('h3', { text: 'Provenance' }), this.provenance.element),
      h('section', { class: 'panel', attrs: { 'aria-label': 'Error reports' } }, h('h3', { text: 'Error reports from the board' }), this.errorReports.element),
    );
    // A step's "◆ console" button shows the line it matched.
    this.timeline.element.addEventListener('click', (event) => {
      const button = (event.target as HTMLElement).closest<HTMLElement>('button.match-jump');
      if (!button) return;
      if (!this.console.reveal(Number(button.dataset.seq))) context.toast('info', 'That line is not in the console view (clear the search, or it was trimmed).');
    });
    const redraw = () => context.frames.schedule(this.key, () => this.draw());
    this.cleanup.push(context.model.changes.on(`run:${runId}`, redraw), context.model.changes.on('identity', redraw), context.sync.watchRun(runId));
    // Elapsed times of a running step move on without events.
    this.ticker = window.setInterval(() => this.record()?.status === 'running' && redraw(), 1000);
    this.draw();
  }

  private record(): RunRecord | undefined {
    return this.context.model.records.get(this.runId);
  }

  private draw(): void {
    const record = this.record();
    if (!record) {
      const problem = this.context.model.recordProblems.get(this.runId);
      const retry = h('button', { class: 'button subtle', text: 'Try again', attrs: { type: 'button' } });
      retry.addEventListener('click', () => void this.context.sync.loadRecord(this.runId));
      replaceChildren(
        this.headInfo,
        h('h2', { text: `Run ${shortId(this.runId)}` }),
        problem ? h('p', { class: 'problem', attrs: { role: 'alert' } }, `This run ${problem}. `, retry) : h('p', { class: 'muted', text: 'Loading…' }),
      );
      return;
    }
    this.element.dataset.status = record.status;
    this.element.dataset.verdict = record.verdict ?? record.status;
    this.drawHead(record);
    this.drawVerdictNote(record);
    this.timeline.draw(record);
    this.measurements.draw(record);
    this.provenance.draw(record);
    this.errorReports.draw(record);
    this.drawConsole(record);
  }

  private drawHead(record: RunRecord): void {
    const duration = runDurationMs(record, Date.now());
    const current = currentStepIndex(record);
    const done = record.steps.filter((s) => s.status === 'finished').length;
    const progress =
      record.status === 'running'
        ? h(
            'p',
            { class: 'run-progress' },
            h('progress', { attrs: { max: record.steps.length, value: done, 'aria-label': 'Steps done' } }),
            ` ${done} of ${record.steps.length} steps done${current >= 0 ? ` · now: ${record.steps[current]!.name}` : ''}`,
          )
        : record.status === 'queued'
          ? h('p', { class: 'run-progress waiting-reason' }, h('strong', { text: 'Waiting: ' }), record.waiting ?? 'for its board')
          : null;
    replaceChildren(
      this.headInfo,
      h(
        'div',
        { class: 'run-title' },
        h('h2', {}, record.scenario, h('span', { class: 'muted', text: ' on ' }), h('a', { text: record.boardId, attrs: { href: links.board(record.boardId) } })),
        outcomeBadge(record.status, record.verdict, 'large run-verdict'),
        runKindTag(record),
      ),
      h(
        'dl',
        { class: 'run-meta' },
        h('dt', { text: 'Run' }),
        h('dd', {}, h('code', { text: shortId(record.id, 8, 4), title: record.id }), ' ', copyButton(record.id, 'run ID')),
        h('dt', { text: 'Requested by' }),
        h('dd', { text: record.requestedBy ?? '—' }),
        h('dt', { text: 'Queued' }),
        h('dd', { text: formatDateTime(record.queuedAt ?? null) }),
        h('dt', { text: 'Started' }),
        h('dd', { text: formatDateTime(record.startedAt) }),
        h('dt', { text: record.status === 'finished' ? 'Took' : 'Running for' }),
        h('dd', { text: formatDuration(duration) }),
      ),
      progress,
    );
    this.drawActions(record);
  }

  /** The cancel button and downloads are rebuilt only when what they offer changes (keeps focus in place). */
  private drawActions(record: RunRecord): void {
    const operator = this.context.model.canOperate();
    const want = `${record.status}:${operator}`;
    if (want === this.actionsFor) return;
    this.actionsFor = want;
    replaceChildren(
      this.actions,
      record.status !== 'finished' && operator ? cancelRunButton(this.context, record.id) : null,
      record.status === 'finished' ? reportDownloads(this.context, record.id, record.scenario) : null,
    );
  }

  private drawVerdictNote(record: RunRecord): void {
    if (record.status !== 'finished' || !record.verdict) {
      replaceChildren(this.verdictNote);
      this.verdictNote.hidden = true;
      return;
    }
    this.verdictNote.hidden = false;
    const style = VERDICT_STYLES[record.verdict];
    const counts = new Map<string, number>();
    for (const step of record.steps) {
      const label = step.verdict ? VERDICT_STYLES[step.verdict].label : 'Not run';
      counts.set(label, (counts.get(label) ?? 0) + 1);
    }
    this.verdictNote.className = `verdict-note tone-${style.tone}`;
    replaceChildren(
      this.verdictNote,
      h('p', { class: 'verdict-line' }, h('strong', { text: `${style.icon} ${style.label}` }), ` — ${style.meaning}.`),
      record.reason ? h('p', { class: 'reason' }, h('strong', { text: 'Why: ' }), record.reason) : null,
      h('p', { class: 'muted', text: `Steps: ${[...counts].map(([label, n]) => `${n} ${label.toLowerCase()}`).join(' · ')}` }),
    );
  }

  private drawConsole(record: RunRecord): void {
    const matched = new Map<number, string>();
    for (const step of record.steps) for (const seq of step.matchedConsoleLines) matched.set(seq, stepLabel(step));
    if (record.status === 'finished') {
      const shown = `${record.id}:${record.console.length}:${record.console[record.console.length - 1]?.seq ?? 0}`;
      if (shown !== this.excerptShown) {
        this.excerptShown = shown;
        this.console.showExcerpt(record.console, `Console · ${record.boardId} · during this run`);
      }
    } else {
      // Lines from when the run started; the runner takes its console mark just before.
      const started = record.startedAt ? Date.parse(record.startedAt) : Date.now();
      this.console.showLive(record.boardId, started - 100, `Console · ${record.boardId} · live`);
    }
    this.console.setMatched(matched);
  }

  destroy(): void {
    for (const undo of this.cleanup) undo();
    window.clearInterval(this.ticker);
    this.console.destroy();
    this.context.frames.cancel(this.key);
  }
}

function stepLabel(step: StepRecord): string {
  return `step ${step.index + 1} · ${step.name}`;
}
