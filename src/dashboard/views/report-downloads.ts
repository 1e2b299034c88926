import { h } from '../dom.js';
import { saveBlob } from '../save-blob.js';
import type { ViewContext } from '../view-context.js';

/**
 * JUnit and JSON downloads of a run. The files need the token, which a plain
 * link cannot send: the page fetches them and saves the answer as a blob.
 */
export function reportDownloads(context: ViewContext, runId: string, scenario: string): HTMLElement {
  const item = (label: string, path: string, fallback: string, kind: string) => {
    const button = h('button', { class: 'button', text: label, attrs: { type: 'button' }, data: { download: kind } });
    button.addEventListener('click', () => {
      button.disabled = true;
      void context.api
        .download(path, fallback)
        .then(({ blob, filename }) => saveBlob(blob, filename))
        .catch((error: unknown) => context.toast('error', `${label} not downloaded: ${(error as Error).message}`))
        .finally(() => (button.disabled = false));
    });
    return button;
  };
  const id = encodeURIComponent(runId);
  return h(
    'div',
    { class: 'downloads', attrs: { role: 'group', 'aria-label': 'Downloads' } },
    item('JUnit XML', `/api/v1/runs/${id}/junit`, `${scenario}-${runId}.xml`, 'junit'),
    item('JSON report', `/api/v1/runs/${id}/report.json`, `${scenario}-${runId}.json`, 'json'),
    item('Console text', `/api/v1/runs/${id}/console`, `${scenario}-${runId}-console.txt`, 'console'),
  );
}
