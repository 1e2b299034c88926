import type { Board } from '../api-types.js';
import { boardStateBadge } from '../board-state-style.js';
import { h, replaceChildren } from '../dom.js';
import { formatDateTime, formatRelative, shortId } from '../format.js';
import { links } from '../router.js';
import type { View, ViewContext } from '../view-context.js';
import { viewKey } from '../view-context.js';
import { BoardActions } from './board-actions.js';
import { ConsoleTail } from './console-tail.js';
import { copyButton } from './copy-button.js';

/**
 * One board on the rig page: state, OS, apps, device ID, attestation, who holds
 * it, what it runs, its latest console lines, and (for operators) power-cycle
 * and reset. The facts redraw when the board changes; the buttons and the
 * selection box stay put, so keyboard focus is never lost to a redraw.
 */
export class BoardCard implements View {
  readonly element: HTMLElement;
  private readonly badge = h('span', { class: 'card-state' });
  private readonly facts = h('dl', { class: 'facts' });
  private readonly actions = h('div', { class: 'card-actions' });
  private readonly select: HTMLInputElement;
  private readonly boardActions: BoardActions;
  private readonly tail: ConsoleTail;
  private readonly key = viewKey('card');
  private drawnSignature = '';
  private readonly cleanup: Array<() => void> = [];

  constructor(
    private readonly context: ViewContext,
    readonly boardId: string,
    onSelect: (boardId: string, selected: boolean) => void,
  ) {
    const titleId = `board-title-${boardId}`;
    this.select = h('input', { class: 'select-board', attrs: { type: 'checkbox', 'aria-label': `Select ${boardId} for a run` } });
    this.select.addEventListener('change', () => onSelect(boardId, this.select.checked));
    this.tail = new ConsoleTail(context, boardId);
    this.boardActions = new BoardActions(context, boardId, ['power-cycle', 'reset']);
    this.actions.append(h('a', { class: 'button subtle console-link', text: 'Console', attrs: { href: links.board(boardId), 'aria-label': `Console and details of ${boardId}` } }), ...this.boardActions.buttons);
    this.element = h(
      'article',
      { class: 'board-card', data: { board: boardId }, attrs: { 'aria-labelledby': titleId } },
      h('header', { class: 'card-head' }, h('span', { class: 'card-title' }, this.select, h('h3', { id: titleId }, h('a', { text: boardId, attrs: { href: links.board(boardId) }, title: `${boardId}: details and whole console` }))), this.badge),
      this.facts,
      this.tail.element,
      this.actions,
    );
    const redraw = () => context.frames.schedule(this.key, () => this.draw());
    this.cleanup.push(context.model.changes.on(`board:${boardId}`, redraw), context.model.changes.on('identity', redraw));
    this.draw();
  }

  setSelected(selected: boolean): void {
    this.select.checked = selected;
  }

  private draw(): void {
    const board = this.context.model.boards.get(this.boardId);
    if (!board) return;
    replaceChildren(this.badge, boardStateBadge(board));
    this.element.dataset.state = board.runningRun ? 'running' : board.state;
    // Redraw the facts only when they changed, so a focused copy button keeps its focus.
    const signature = JSON.stringify([board, Math.floor(Date.now() / 60_000)]);
    if (signature !== this.drawnSignature) {
      this.drawnSignature = signature;
      replaceChildren(this.facts, ...boardFacts(board));
    }
    this.boardActions.update(board);
  }

  destroy(): void {
    for (const undo of this.cleanup) undo();
    this.tail.destroy();
    this.context.frames.cancel(this.key);
  }
}

/** A term and its value; `data-fact` lets the compact layout keep only the key facts. */
function fact(term: string, ...value: Array<Node | string>): Node[] {
  const key = term.toLowerCase().replace(/\s+/g, '-');
  return [h('dt', { text: term, data: { fact: key } }), h('dd', { data: { fact: key } }, ...value)];
}

/** The facts of a board, as term/description pairs. */
export function boardFacts(board: Board): Node[] {
  const nodes: Node[] = [];
  nodes.push(...fact('Kind', `${board.driver === 'mt3620' ? 'MT3620 board' : 'emulated'}${board.tenant ? ` · tenant ${board.tenant}` : ''}`));
  nodes.push(...fact('Tags', board.tags.length ? board.tags.join(', ') : '—'));
  nodes.push(...fact('OS', board.osVersion ?? '—'));
  nodes.push(
    ...fact(
      'Device',
      ...(board.deviceId
        ? [h('code', { class: 'device-id', text: shortId(board.deviceId, 10, 4), title: board.deviceId, data: { full: board.deviceId } }), ' ', copyButton(board.deviceId, `device ID of ${board.id}`)]
        : [board.usbSerial ? `USB ${board.usbSerial}` : '—']),
    ),
  );
  nodes.push(...fact('Attestation', attestationSummary(board)));
  nodes.push(...fact('Apps', appsSummary(board)));
  nodes.push(...fact('Held by', leaseSummary(board)));
  if (board.runningRun || board.queuedRuns) {
    const run = board.runningRun;
    nodes.push(
      ...fact(
        'Run',
        ...(run ? [h('a', { text: run.scenario, attrs: { href: links.run(run.id) } })] : ['—']),
        board.queuedRuns ? ` (+${board.queuedRuns} queued)` : '',
      ),
    );
  }
  if (board.error) nodes.push(...fact('Problem', h('span', { class: 'warn-text', text: board.error })));
  return nodes;
}

function attestationSummary(board: Board): HTMLElement {
  const auth = board.attestation?.deviceAuth;
  if (!board.attestation || !auth) return h('span', { class: 'muted', text: board.attestation?.configured === false ? 'not configured' : '—' });
  const expires = auth.expiresAt ?? null;
  if (auth.ready && expires !== null) {
    const left = expires - Date.now();
    if (left <= 0) return h('span', { class: 'status-text tone-fail', text: '✗ certificate expired', title: `expired ${formatDateTime(expires)}` });
    const soon = left < 3_600_000;
    return h(
      'span',
      { class: `status-text ${soon ? 'tone-timeout' : 'tone-pass'}`, title: `device certificate valid until ${formatDateTime(expires)}` },
      `${soon ? '⚠' : '✓'} attested`,
      h('span', { class: 'detail', text: ` · expires ${formatRelative(expires)}` }),
    );
  }
  return h('span', { class: 'status-text tone-fail', text: `✗ not attested${auth.lastError ? `: ${auth.lastError}` : ''}` });
}

function appsSummary(board: Board): HTMLElement | string {
  if (!board.apps.length) return '—';
  const shown = board.apps.slice(0, 2).map((app) => `${app.name ?? shortId(app.componentId)} (${app.state}${app.trial ? ', trial' : ''})`);
  const more = board.apps.length - shown.length;
  return h('span', { text: `${shown.join(', ')}${more > 0 ? ` +${more} more` : ''}`, title: board.apps.map((a) => `${a.name ?? a.componentId}: ${a.state}`).join('\n') });
}

function leaseSummary(board: Board): HTMLElement | string {
  const lease = board.lease;
  if (!lease) return h('span', { class: 'muted', text: 'free' });
  if (lease.holder.startsWith('run:')) {
    const runId = lease.holder.slice(4);
    return h('a', { text: `run ${runId.slice(0, 8)}`, attrs: { href: links.run(runId) } });
  }
  const who = lease.holder.replace(/^manual:/, '');
  return `${who} (${lease.kind}${lease.expiresAt ? `, until ${formatDateTime(lease.expiresAt).slice(11)}` : ''})`;
}
