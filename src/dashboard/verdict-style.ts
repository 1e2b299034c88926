import type { RunStatus, Verdict } from './api-types.js';
import { h } from './dom.js';

/**
 * How each verdict of the failure taxonomy looks: an icon and a word as well as
 * a colour, so nobody has to tell red from green; failures also get a hatched
 * background (styles.css, `.tone-*`).
 */
export interface OutcomeStyle {
  label: string;
  icon: string;
  tone: string;
  /** What the verdict means, for tooltips and the report. */
  meaning: string;
}

export const VERDICT_STYLES: Record<Verdict, OutcomeStyle> = {
  passed: { label: 'Passed', icon: '✓', tone: 'pass', meaning: 'every step did what the scenario expects' },
  'test-failed': { label: 'Test failed', icon: '✗', tone: 'fail', meaning: 'the board ran, but did not do what the scenario expects' },
  'device-fault': { label: 'Device fault', icon: '⚡', tone: 'fault', meaning: 'the board misbehaved: crashed, hung or answered wrongly' },
  'infra-error': { label: 'Infra error', icon: '⚙', tone: 'infra', meaning: 'the rig failed (host, link, daemon), not the board; the test was not judged' },
  timeout: { label: 'Timeout', icon: '⏱', tone: 'timeout', meaning: 'a step did not finish in time' },
  cancelled: { label: 'Cancelled', icon: '⊘', tone: 'neutral', meaning: 'someone stopped the run' },
  'not-applicable': { label: 'Not applicable', icon: '–', tone: 'neutral', meaning: 'the board cannot do what the scenario needs' },
};

const STATUS_STYLES: Record<Exclude<RunStatus, 'finished'>, OutcomeStyle> = {
  queued: { label: 'Queued', icon: '…', tone: 'queued', meaning: 'waiting for its board' },
  running: { label: 'Running', icon: '▶', tone: 'running', meaning: 'steps are running now' },
};

export function outcomeStyle(status: RunStatus | 'pending', verdict: Verdict | null): OutcomeStyle {
  if (verdict) return VERDICT_STYLES[verdict];
  if (status === 'queued' || status === 'running') return STATUS_STYLES[status];
  return { label: status === 'pending' ? 'Pending' : 'Unknown', icon: '·', tone: 'pending', meaning: 'not started yet' };
}

/** `✓ Passed` as a badge; `data-verdict` lets tests and styles find it. */
export function outcomeBadge(status: RunStatus | 'pending', verdict: Verdict | null, extraClass = ''): HTMLSpanElement {
  return styleBadge(outcomeStyle(status, verdict), { verdict: verdict ?? status }, extraClass);
}

/** Any style as a badge: icon, word and tone, its meaning as the tooltip; `data` says what it stands for. */
export function styleBadge(style: OutcomeStyle, data: Record<string, string>, extraClass = ''): HTMLSpanElement {
  return h(
    'span',
    { class: `badge tone-${style.tone} ${extraClass}`.trim(), title: style.meaning, data },
    h('span', { class: 'badge-icon', text: style.icon, attrs: { 'aria-hidden': 'true' } }),
    style.label,
  );
}

export function isFailure(verdict: Verdict | null): boolean {
  return verdict === 'test-failed' || verdict === 'device-fault' || verdict === 'timeout' || verdict === 'infra-error';
}
