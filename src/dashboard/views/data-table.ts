import { h } from '../dom.js';

/** A plain table with column headings; rows are built by the caller. */
export function dataTable(headings: string[], rows: HTMLElement[], caption?: string): HTMLTableElement {
  return h(
    'table',
    { class: 'data-table' },
    caption ? h('caption', { text: caption }) : null,
    h('thead', {}, h('tr', {}, ...headings.map((t) => h('th', { text: t, attrs: { scope: 'col' } })))),
    h('tbody', {}, ...rows),
  );
}
