import type { Verdict } from '../api-types.js';
import { h } from '../dom.js';
import { VERDICT_STYLES } from '../verdict-style.js';

/** The last verdicts of a scenario or board as a row of small icon tiles, oldest first. */
export function verdictStrip(verdicts: readonly Verdict[]): HTMLElement {
  return h(
    'span',
    { class: 'verdict-strip', attrs: { 'aria-label': `last ${verdicts.length} verdicts, oldest first: ${verdicts.map((v) => VERDICT_STYLES[v].label).join(', ')}` } },
    ...verdicts.map((v) => h('span', { class: `tile tone-${VERDICT_STYLES[v].tone}`, text: VERDICT_STYLES[v].icon, title: VERDICT_STYLES[v].label, attrs: { 'aria-hidden': 'true' } })),
  );
}
