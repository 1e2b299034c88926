import type { Measurement, RunRecord } from '../api-types.js';
import { h, replaceChildren } from '../dom.js';

/**
 * Every measurement of a run against its limits: the value, the limits it had
 * to be within, and whether it was (with a word and an icon, not colour only).
 */
export class MeasurementsTable {
  readonly element = h('div', { class: 'measurements' });

  draw(record: RunRecord): void {
    const rows = record.steps.flatMap((step) => step.measurements.map((m) => ({ step: `${step.index + 1}. ${step.name}`, m })));
    if (!rows.length) {
      replaceChildren(this.element, h('p', { class: 'muted', text: 'No measurements yet.' }));
      return;
    }
    replaceChildren(
      this.element,
      h(
        'table',
        { class: 'data-table' },
        h('thead', {}, h('tr', {}, ...['Step', 'Measurement', 'Value', 'Limits', 'Result'].map((t) => h('th', { text: t, attrs: { scope: 'col' } })))),
        h(
          'tbody',
          {},
          ...rows.map(({ step, m }) =>
            h(
              'tr',
              { class: m.passed ? '' : 'row-problem', data: { measurement: m.name } },
              h('td', { class: 'muted', text: step }),
              h('td', { text: m.name }),
              h('td', { class: 'num', text: withUnit(m.value, m.unit) }),
              h('td', { class: 'num', text: limitsText(m) }),
              h('td', {}, m.passed ? h('span', { class: 'status-text tone-pass', text: '✓ within' }) : h('span', { class: 'status-text tone-fail', text: '✗ outside' })),
            ),
          ),
        ),
      ),
    );
  }
}

function withUnit(value: Measurement['value'], unit?: string): string {
  return `${typeof value === 'number' ? value.toLocaleString('en-US') : String(value)}${unit ? ` ${unit}` : ''}`;
}

export function limitsText(m: Measurement): string {
  const l = m.limits;
  if (!l) return '—';
  if (l.equals !== undefined) return `= ${withUnit(l.equals, m.unit)}`;
  if (l.min !== undefined && l.max !== undefined) return `${l.min} … ${withUnit(l.max, m.unit)}`;
  if (l.min !== undefined) return `≥ ${withUnit(l.min, m.unit)}`;
  if (l.max !== undefined) return `≤ ${withUnit(l.max, m.unit)}`;
  return '—';
}
