import type { ConsoleLine } from '../api-types.js';
import { h } from '../dom.js';
import { saveBlob } from '../save-blob.js';
import type { ViewContext } from '../view-context.js';

/**
 * "Download console": the board's console as the daemon keeps it (up to 10,000
 * lines, more than the page holds), saved as `<board>-console-<time>.txt`, one
 * line each: host receive time (ISO, UTC) and text, like a run's console text.
 */
const LINES = 10_000;

export function consoleDownloadButton(context: ViewContext, boardId: string): HTMLButtonElement {
  const button = h('button', { class: 'button', text: 'Download console', attrs: { type: 'button' }, data: { download: 'board-console' }, title: `The last ${LINES.toLocaleString('en-US')} console lines of ${boardId} as a text file` });
  button.addEventListener('click', () => {
    button.disabled = true;
    void context.api
      .get<ConsoleLine[]>(`/api/v1/boards/${encodeURIComponent(boardId)}/console?limit=${LINES}`)
      .then((lines) => saveBlob(new Blob([consoleText(lines)], { type: 'text/plain;charset=utf-8' }), consoleFileName(boardId, new Date())))
      .catch((error: unknown) => context.toast('error', `Console of ${boardId} not downloaded: ${(error as Error).message}`))
      .finally(() => (button.disabled = false));
  });
  return button;
}

export function consoleText(lines: readonly ConsoleLine[]): string {
  return lines.map((line) => `${new Date(line.timestamp).toISOString()} ${line.text}\n`).join('');
}

/** `emu-1-console-2026-11-20T10-03-27Z.txt`: sortable, and no colons (not allowed in Windows file names). */
export function consoleFileName(boardId: string, at: Date): string {
  const time = at.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-');
  return `${boardId.replace(/[^\w.-]+/g, '_')}-console-${time}.txt`;
}
