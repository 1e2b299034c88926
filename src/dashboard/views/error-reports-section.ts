import type { ErrorReportDocument, RunRecord } from '../api-types.js';
import { h, replaceChildren } from '../dom.js';
import { formatDateTime } from '../format.js';

/** The error reports collected from the board during the run, in the fields of Azure Sphere's export. */
export class ErrorReportsSection {
  readonly element = h('div', { class: 'error-reports' });

  draw(record: RunRecord): void {
    if (!record.errorReports.length) {
      replaceChildren(this.element, h('p', { class: 'muted', text: record.status === 'finished' ? 'This run collected no error reports.' : 'Collected when the run ends.' }));
      return;
    }
    replaceChildren(this.element, ...record.errorReports.map((report) => this.report(report as ErrorReportDocument)));
  }

  private report(report: ErrorReportDocument): HTMLElement {
    if (!Array.isArray(report?.events)) return h('pre', { class: 'raw', text: JSON.stringify(report, null, 2) });
    if (!report.events.length) return h('p', { class: 'muted', text: 'The board reported no events.' });
    return h(
      'table',
      { class: 'data-table' },
      h('caption', { text: `${report.events.length} event kinds${report.deviceId ? ` from ${report.deviceId.slice(0, 16)}…` : ''}` }),
      h('thead', {}, h('tr', {}, ...['Class', 'Type', 'Category', 'Count', 'Description', 'First', 'Last'].map((t) => h('th', { text: t, attrs: { scope: 'col' } })))),
      h(
        'tbody',
        {},
        ...report.events.map((e) =>
          h(
            'tr',
            { class: e.eventType === 'Unplanned' ? 'row-problem' : '', data: { eventClass: e.eventClass ?? '' } },
            h('td', { text: e.eventClass ?? '—' }),
            h('td', { text: e.eventType === 'Unplanned' ? '⚠ Unplanned' : (e.eventType ?? '—') }),
            h('td', { text: e.category ?? '—' }),
            h('td', { class: 'num', text: String(e.count ?? '—') }),
            h('td', { class: 'wrap', text: e.description ?? '' }),
            h('td', { text: formatDateTime(e.startTime) }),
            h('td', { text: formatDateTime(e.endTime) }),
          ),
        ),
      ),
    );
  }
}
