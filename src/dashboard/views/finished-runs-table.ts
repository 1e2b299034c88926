import type { RunSummary } from '../api-types.js';
import { h } from '../dom.js';
import { formatDateTime, formatDuration } from '../format.js';
import { links } from '../router.js';
import { runDurationMs } from '../run-duration.js';
import { outcomeBadge } from '../verdict-style.js';
import { dataTable } from './data-table.js';
import { runKindTag } from './run-kind-tag.js';

/** Finished runs, one row each: when, what (health checks marked), where, the verdict, how long and why (Runs and History pages). */
export function finishedRunsTable(runs: readonly RunSummary[]): HTMLTableElement {
  return dataTable(
    ['Ended', 'Scenario', 'Board', 'Verdict', 'Took', 'Why'],
    runs.map((run) =>
      h(
        'tr',
        { data: { run: run.id, verdict: run.verdict ?? '', kind: run.kind ?? 'scenario' } },
        h('td', { text: formatDateTime(run.endedAt ?? run.queuedAt ?? null) }),
        h('td', {}, h('a', { text: run.scenario, attrs: { href: links.run(run.id) } }), runKindTag(run)),
        h('td', {}, h('a', { text: run.boardId, attrs: { href: links.board(run.boardId) } })),
        h('td', {}, outcomeBadge(run.status, run.verdict, 'small')),
        h('td', { class: 'num', text: formatDuration(runDurationMs(run)) }),
        h('td', { class: 'wrap muted', text: run.reason ?? '' }),
      ),
    ),
  );
}
