import type { RunSummary } from '../api-types.js';
import { h } from '../dom.js';

/** Marks a health-check run in lists of runs: it is the rig checking a board, not a test of the product. */
export function runKindTag(run: Pick<RunSummary, 'kind'>): HTMLElement | null {
  if (run.kind !== 'health-check') return null;
  return h('span', { class: 'kind-tag', text: '♥ health check', title: 'A health check of the board (power on, boot, attest), run by the rig; not counted as flaky', data: { kind: 'health-check' } });
}
