import type { RunRecord, StepRecord } from '../api-types.js';
import { h, replaceChildren } from '../dom.js';
import { formatDuration } from '../format.js';
import { progressOf } from '../step-progress.js';
import { outcomeBadge, styleBadge, type OutcomeStyle } from '../verdict-style.js';

/**
 * A run's steps in order, grouped by phase: what each did, how long it took
 * (with a bar against the longest step), its verdict and message, and a
 * progress bar for a long step whose note says how far it is.
 */
const PHASE_TITLES: Record<StepRecord['phase'], string> = { setup: 'Setup', main: 'Steps', teardown: 'Teardown' };
const NOT_RUN: OutcomeStyle = { label: 'Not run', icon: '⤼', tone: 'pending', meaning: 'an earlier step failed or the run was stopped' };

export class StepTimeline {
  readonly element = h('ol', { class: 'step-timeline', attrs: { 'aria-label': 'Steps' } });

  draw(record: RunRecord, now = Date.now()): void {
    const current = currentStepIndex(record);
    if (!record.steps.length) {
      const note = record.status === 'queued' ? 'Queued: the steps appear when the board is free.' : 'This run has no steps (it never started).';
      replaceChildren(this.element, h('li', { class: 'phase', text: note }));
      return;
    }
    const rows: Node[] = [];
    let phase: StepRecord['phase'] | null = null;
    for (const step of record.steps) {
      if (step.phase !== phase) {
        phase = step.phase;
        rows.push(h('li', { class: 'phase', text: PHASE_TITLES[phase], attrs: { 'aria-hidden': 'true' } }));
      }
      rows.push(this.row(step, record, step.index === current, now));
    }
    replaceChildren(this.element, ...rows);
    sizeBars(this.element, record, now);
  }

  private row(step: StepRecord, record: RunRecord, running: boolean, now: number): HTMLElement {
    const status = running ? 'running' : step.status;
    const duration = running ? elapsed(step, record, now) : step.durationMs;
    const progress = progressOf(step.message);
    const notRun = status === 'skipped' || (status === 'pending' && record.status === 'finished');
    const badge = step.verdict
      ? outcomeBadge('finished', step.verdict, 'small')
      : notRun
        ? styleBadge(NOT_RUN, { verdict: 'not-run' }, 'small')
        : outcomeBadge(running ? 'running' : 'pending', null, 'small');
    return h(
      'li',
      { class: `step status-${status}`, data: { index: String(step.index), status, verdict: step.verdict ?? status }, attrs: { 'aria-current': running ? 'step' : null } },
      h('span', { class: 'step-index', text: String(step.index + 1) }),
      h(
        'div',
        { class: 'step-main' },
        h('span', { class: 'step-name', text: step.name }),
        step.name !== step.type ? h('span', { class: 'step-type', text: step.type }) : null,
        step.attempts > 1 ? h('span', { class: 'step-type', text: `${step.attempts} attempts` }) : null,
        step.matchedConsoleLines.length
          ? h('button', { class: 'match-jump', text: '◆ console', title: 'Show the console line this step matched', attrs: { type: 'button' }, data: { seq: String(step.matchedConsoleLines[step.matchedConsoleLines.length - 1]) } })
          : null,
        step.message ? h('p', { class: `step-message${step.verdict && step.verdict !== 'passed' ? ' problem' : ''}`, text: step.errorCode ? `${step.message} [${step.errorCode}]` : step.message }) : null,
        progress
          ? h(
              'div',
              { class: 'progress', attrs: { role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': progress.total, 'aria-valuenow': progress.done, 'aria-label': `${step.name} progress` } },
              h('div', { class: 'progress-fill' }),
            )
          : null,
      ),
      h('span', { class: 'step-duration' }, h('span', { class: 'duration-track', attrs: { 'aria-hidden': 'true' } }, h('span', { class: 'duration-bar' })), h('span', { text: formatDuration(duration) })),
      badge,
    );
  }
}

/** Bar widths are set through the CSSOM, which the page's Content-Security-Policy allows (style attributes it does not). */
function sizeBars(timeline: HTMLElement, record: RunRecord, now = Date.now()): void {
  const current = currentStepIndex(record);
  const durations = record.steps.map((s) => (s.index === current ? elapsed(s, record, now) : (s.durationMs ?? 0)));
  const longest = Math.max(1, ...durations);
  for (const row of timeline.querySelectorAll<HTMLElement>('li.step')) {
    const index = Number(row.dataset.index);
    const bar = row.querySelector<HTMLElement>('.duration-bar');
    if (bar) bar.style.width = `${Math.max(2, Math.round(((durations[index] ?? 0) / longest) * 100))}%`;
    const fill = row.querySelector<HTMLElement>('.progress-fill');
    const progress = progressOf(record.steps[index]?.message);
    if (fill && progress) fill.style.width = `${Math.round(progress.fraction * 100)}%`;
  }
}

/** The step running now: the first one not finished while the run runs. */
export function currentStepIndex(record: RunRecord): number {
  if (record.status !== 'running') return -1;
  const running = record.steps.find((s) => s.status === 'running');
  if (running) return running.index;
  return record.steps.find((s) => s.status === 'pending')?.index ?? -1;
}

function elapsed(step: StepRecord, record: RunRecord, now: number): number {
  const previous = record.steps.slice(0, step.index).reverse().find((s) => s.endedAt)?.endedAt;
  const started = Date.parse(step.startedAt ?? previous ?? record.startedAt ?? '') || now;
  return Math.max(0, now - started);
}
