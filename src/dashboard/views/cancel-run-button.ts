import { h, replaceChildren } from '../dom.js';
import type { ViewContext } from '../view-context.js';

/**
 * "Cancel run…", then "Cancel it / Keep running": a run may hold a board for an
 * hour, so one stray click must not end it. The teardown still runs.
 */
export function cancelRunButton(context: ViewContext, runId: string): HTMLElement {
  const area = h('span', { class: 'cancel-run' });
  const ask = () => {
    const confirm = h('button', { class: 'button danger', text: 'Yes, cancel it', attrs: { type: 'button' }, data: { confirm: 'cancel' } });
    const keep = h('button', { class: 'button subtle', text: 'Keep running', attrs: { type: 'button' } });
    confirm.addEventListener('click', () => void cancel(confirm));
    keep.addEventListener('click', idle);
    replaceChildren(area, h('span', { class: 'confirm-question', text: 'Cancel this run? Its teardown still runs.' }), ' ', confirm, ' ', keep);
    confirm.focus();
  };
  const idle = () => {
    const start = h('button', { class: 'button danger-outline', text: 'Cancel run…', attrs: { type: 'button' }, data: { action: 'cancel' } });
    start.addEventListener('click', ask);
    replaceChildren(area, start);
  };
  const cancel = async (button: HTMLButtonElement) => {
    button.disabled = true;
    try {
      await context.api.post(`/api/v1/runs/${encodeURIComponent(runId)}/cancel`);
      context.toast('info', 'Cancel requested; the run stops after its teardown');
      replaceChildren(area, h('span', { class: 'muted', text: 'Cancelling…' }));
      context.sync.activeRuns();
      context.sync.run(runId);
    } catch (error) {
      context.toast('error', `Not cancelled: ${(error as Error).message}`);
      idle();
    }
  };
  idle();
  return area;
}
