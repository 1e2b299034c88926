import { explainBoardProblem, type BoardProblemSource } from '../board-problem-text.js';
import { h } from '../dom.js';

/** A problem as a sentence; the daemon's own words one click away (a <details>), to copy into a bug report. */
export function problemDetails(source: BoardProblemSource, raw: string): HTMLDetailsElement {
  const { sentence, detail } = explainBoardProblem(source, raw);
  return h(
    'details',
    { class: 'problem-details', data: { problem: source } },
    h('summary', { class: 'problem', text: sentence, title: sentence }),
    h('code', { class: 'raw-detail', text: detail }),
  );
}
