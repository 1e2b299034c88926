import { VERDICTS } from '../api-types.js';
import { h } from '../dom.js';
import { links, navigate } from '../router.js';
import { VERDICT_STYLES } from '../verdict-style.js';
import type { ViewContext } from '../view-context.js';

/**
 * The history filters: scenario, board, verdict and a time range. They live in
 * the URL (`#/history?scenario=...`), so a filtered view can be shared.
 */
export const FILTER_NAMES = ['scenario', 'board', 'verdict', 'since', 'until'] as const;

export function historyFilters(context: ViewContext, query: URLSearchParams): HTMLFormElement {
  const select = (name: string, label: string, options: Array<[string, string]>) => {
    const id = `history-${name}`;
    const element = h('select', { id, attrs: { name } }, h('option', { text: `any ${label.toLowerCase()}`, attrs: { value: '' } }), ...options.map(([value, text]) => h('option', { text, attrs: { value } })));
    element.value = query.get(name) ?? '';
    return h('div', { class: 'field' }, h('label', { text: label, attrs: { for: id } }), element);
  };
  const time = (name: string, label: string) => {
    const id = `history-${name}`;
    const input = h('input', { id, attrs: { type: 'datetime-local', name } });
    const value = query.get(name);
    if (value) input.value = toLocalInput(value);
    return h('div', { class: 'field' }, h('label', { text: label, attrs: { for: id } }), input);
  };
  const scenarios = context.model.scenarios.map((s): [string, string] => [s.name, s.name]);
  const boards = [...context.model.boards.keys()].sort().map((b): [string, string] => [b, b]);
  const form = h(
    'form',
    { class: 'filters', attrs: { 'aria-label': 'Filter runs' } },
    select('scenario', 'Scenario', scenarios),
    select('board', 'Board', boards),
    select('verdict', 'Verdict', VERDICTS.map((v) => [v, `${VERDICT_STYLES[v].icon} ${VERDICT_STYLES[v].label}`])),
    time('since', 'From'),
    time('until', 'Until'),
    h('div', { class: 'field submit' }, h('button', { class: 'button primary', text: 'Apply', attrs: { type: 'submit' } }), ' ', h('a', { class: 'button subtle', text: 'Clear', attrs: { href: links.history() } })),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const next = new URLSearchParams();
    for (const name of FILTER_NAMES) {
      const value = String(data.get(name) ?? '');
      if (!value) continue;
      next.set(name, name === 'since' || name === 'until' ? new Date(value).toISOString() : value);
    }
    navigate(links.history(next));
  });
  return form;
}

/** An ISO time as a datetime-local input wants it (local time, minutes). */
function toLocalInput(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
