import type { Board } from '../api-types.js';
import { healthBadges } from '../board-health-style.js';
import { h } from '../dom.js';
import { formatDateTime } from '../format.js';
import { links } from '../router.js';
import { outcomeBadge } from '../verdict-style.js';
import { fact } from './fact-list.js';

/** The board page's health facts: status and why, since when, and the last health check with a link to its run. */
export function healthFacts(board: Board): Node[] {
  const health = board.health;
  const last = health.lastCheck;
  return [
    ...fact(
      'Health',
      h(
        'span',
        { class: 'health-facts' },
        ...healthBadges(health, 'small'),
        h('span', { class: 'health-reason', text: ` ${health.reason ?? 'no reason given'}` }),
        h('span', { class: 'muted', text: ` · since ${formatDateTime(health.since)}` }),
      ),
    ),
    ...fact(
      'Last check',
      last
        ? h('span', { class: 'last-check', data: { run: last.runId } }, outcomeBadge('finished', last.verdict, 'small'), ' ', h('a', { text: `run ${last.runId.slice(0, 8)}`, attrs: { href: links.run(last.runId) } }), h('span', { class: 'muted', text: ` · ${formatDateTime(last.endedAt)}` }))
        : h('span', { class: 'muted', text: 'never checked' }),
    ),
  ];
}
