import { h, replaceChildren, setText } from '../dom.js';
import { formatClock, formatCount } from '../format.js';
import type { ViewContext } from '../view-context.js';

/**
 * Says whether the page is live, catching up after a gap (and by how much) or
 * offline (since when, and when it tries again), in the header and, when not
 * live, in a banner over the page.
 */
const BEHIND_LAG_MS = 2000;

export class ConnectionStatus {
  readonly pill = h('span', { class: 'connection badge', attrs: { role: 'status' } });
  readonly banner = h('div', { class: 'banner', hidden: true, attrs: { role: 'alert' } });
  private readonly ticker: number;

  constructor(
    private readonly context: ViewContext,
    private readonly retryNow: () => void,
  ) {
    context.model.changes.on('connection', () => this.draw());
    // "retrying in 3 s" counts down without events.
    this.ticker = window.setInterval(() => this.context.model.stream.phase === 'offline' && this.draw(), 1000);
    this.draw();
  }

  private draw(): void {
    const s = this.context.model.stream;
    let tone = 'neutral';
    let text = 'Connecting…';
    let banner: Array<Node | string> | null = null;
    switch (s.phase) {
      case 'live':
        if (s.lagMs > BEHIND_LAG_MS) {
          tone = 'timeout';
          text = `◐ Live, ${Math.round(s.lagMs / 1000)} s behind`;
        } else {
          tone = 'pass';
          text = '● Live';
        }
        break;
      case 'replaying':
        tone = 'timeout';
        text = `↻ Catching up: ${formatCount(s.behind)} events behind`;
        banner = [h('p', { text: `Catching up with ${formatCount(s.behind)} events the page missed; what you see may be a little old.` })];
        break;
      case 'offline': {
        tone = 'fail';
        const wait = s.retryAt ? Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000)) : null;
        text = `⚠ Offline${wait !== null ? ` · retry in ${wait} s` : ' · retrying'}`;
        const retry = h('button', { class: 'button subtle', text: 'Retry now', attrs: { type: 'button' } });
        retry.addEventListener('click', this.retryNow);
        banner = [
          h(
            'p',
            {},
            h('strong', { text: 'Offline. ' }),
            `Lost the connection to the daemon${s.offlineSince ? ` at ${formatClock(s.offlineSince).slice(0, 8)}` : ''}${s.reason ? `: ${s.reason}` : ''}. `,
            'The page shows what it knew then and reconnects by itself, carrying on from the last event it saw.',
          ),
          retry,
        ];
        break;
      }
      case 'stopped':
        text = 'Not connected';
        break;
      case 'connecting':
        break;
    }
    this.pill.className = `connection badge tone-${tone}`;
    this.pill.dataset.phase = s.phase;
    setText(this.pill, text);
    this.pill.title = s.lastSeq !== null ? `last event #${s.lastSeq}` : '';
    this.banner.hidden = banner === null;
    this.banner.className = `banner tone-${tone}`;
    // Rebuild the banner only when its words change, so "Retry now" keeps focus.
    const words = banner ? banner.map((part) => (typeof part === 'string' ? part : part.textContent)).join('') : '';
    if (words !== this.banner.dataset.words) {
      this.banner.dataset.words = words;
      replaceChildren(this.banner, ...(banner ?? []));
    }
  }

  destroy(): void {
    window.clearInterval(this.ticker);
  }
}
