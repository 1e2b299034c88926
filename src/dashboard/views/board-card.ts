import type { Board } from '../api-types.js';
import { healthBadges, unavailableForRuns } from '../board-health-style.js';
import { boardStateBadge } from '../board-state-style.js';
import { h, replaceChildren } from '../dom.js';
import { formatDateTime, formatRelative, shortId } from '../format.js';
import { links } from '../router.js';
import { outcomeBadge } from '../verdict-style.js';
import type { View, ViewContext } from '../view-context.js';
import { viewKey } from '../view-context.js';
import { BoardActions } from './board-actions.js';
import { BoardHealthControls } from './board-health-controls.js';
import { ConsoleTail } from './console-tail.js';
import { copyButton } from './copy-button.js';
import { fact } from './fact-list.js';
import { problemDetails } from './problem-details.js';
import { RecoverButton } from './recover-button.js';

/**
 * One board on the rig page: state and health, OS, apps, device ID,
 * attestation, who holds it, what it runs and last ran, its latest console
 * lines, and (for operators) power, reset, health check, maintenance and recovery, and
 * the box that picks it for the start-run form. The facts redraw when the
 * board changes; the buttons and the selection box stay put, so keyboard
 * focus is never lost to a redraw.
 */
export class BoardCard implements View {
  readonly element: HTMLElement;
  private readonly badges = h('span', { class: 'card-badges' });
  private readonly facts = h('dl', { class: 'facts' });
  private readonly actions = h('div', { class: 'card-actions' });
  private readonly select: HTMLInputElement;
  private readonly boardActions: BoardActions;
  private readonly healthControls: BoardHealthControls;
  private readonly recover: RecoverButton;
  private readonly tail: ConsoleTail;
  private readonly key = viewKey('card');
  private drawnSignature = '';
  private readonly cleanup: Array<() => void> = [];

  constructor(
    private readonly context: ViewContext,
    readonly boardId: string,
    private readonly onSelect: (boardId: string, selected: boolean) => void,
  ) {
    const titleId = `board-title-${boardId}`;
    this.select = h('input', { class: 'select-board', attrs: { type: 'checkbox', 'aria-label': `Select ${boardId} for a run` }, hidden: true });
    this.select.addEventListener('change', () => onSelect(boardId, this.select.checked));
    this.tail = new ConsoleTail(context, boardId);
    this.boardActions = new BoardActions(context, boardId, ['power-on', 'power-cycle', 'reset'], { hideInapplicable: true });
    this.healthControls = new BoardHealthControls(context, boardId);
    this.recover = new RecoverButton(context, boardId);
    this.actions.append(
      h('a', { class: 'button subtle console-link', text: 'Console', attrs: { href: links.board(boardId), 'aria-label': `Console and details of ${boardId}` } }),
      ...this.boardActions.buttons,
      ...this.healthControls.buttons,
      this.recover.element,
    );
    this.element = h(
      'article',
      { class: 'board-card', data: { board: boardId }, attrs: { 'aria-labelledby': titleId } },
      h('header', { class: 'card-head' }, h('span', { class: 'card-title' }, this.select, h('h3', { id: titleId }, h('a', { text: boardId, attrs: { href: links.board(boardId) }, title: `${boardId}: details and whole console` }))), this.badges),
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
    replaceChildren(this.badges, boardStateBadge(board), ...healthBadges(board.health));
    this.element.dataset.state = board.runningRun ? 'running' : board.state;
    this.element.dataset.health = board.health.status;
    // Redraw the facts only when they changed, so a focused copy button keeps its focus.
    const signature = JSON.stringify([board, Math.floor(Date.now() / 60_000)]);
    if (signature !== this.drawnSignature) {
      this.drawnSignature = signature;
      replaceChildren(this.facts, ...boardFacts(board));
    }
    this.boardActions.update(board);
    this.healthControls.update(board);
    this.recover.update(board);
    this.drawSelect(board);
  }

  /** Only operators pick boards (for the start-run form); a board that may not take runs cannot be picked. */
  private drawSelect(board: Board): void {
    this.select.hidden = !this.context.model.canOperate();
    const unavailable = unavailableForRuns(board.health);
    this.select.disabled = unavailable !== null;
    this.select.title = unavailable ? `Not offered for runs: ${unavailable}` : '';
    if (unavailable && this.select.checked) {
      this.select.checked = false;
      this.onSelect(this.boardId, false);
    }
  }

  destroy(): void {
    for (const undo of this.cleanup) undo();
    this.tail.destroy();
    this.recover.destroy();
    this.context.frames.cancel(this.key);
  }
}

/** The facts of a board, as term/description pairs (the card and the board page). */
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
  if (board.waiting) nodes.push(...fact('Waiting', h('span', { class: 'warn-text', text: board.waiting, title: `Why queued runs of ${board.id} do not start` })));
  nodes.push(...fact('Last run', lastRunSummary(board)));
  if (board.offlineReason) nodes.push(...fact('Offline', problemDetails('offline', board.offlineReason)));
  if (board.error) nodes.push(...fact('Problem', problemDetails('error', board.error)));
  return nodes;
}

/** The board's last verdict (scenario runs only), linked to its run. */
function lastRunSummary(board: Board): HTMLElement {
  const last = board.lastRun;
  if (!last) return h('span', { class: 'muted', text: 'none yet' });
  return h(
    'span',
    { class: 'last-run', data: { run: last.id }, title: `${last.scenario}: ${last.verdict}${last.reason ? ` — ${last.reason}` : ''} (${formatDateTime(last.endedAt)})` },
    outcomeBadge('finished', last.verdict, 'small'),
    ' ',
    h('a', { text: last.scenario, attrs: { href: links.run(last.id) } }),
    h('span', { class: 'detail', text: ` · ${formatRelative(Date.parse(last.endedAt))}` }),
  );
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
  if (auth.lastError) return h('span', { class: 'status-text tone-fail' }, '✗ not attested', problemDetails('attestation', auth.lastError));
  return h('span', { class: 'status-text tone-fail', text: '✗ not attested' });
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
