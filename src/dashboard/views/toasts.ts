import { h } from '../dom.js';

/**
 * Short messages about what the operator just did (and system warnings), read
 * out politely by screen readers. They never cover a console panel: the stack
 * sits in the first corner of the window (bottom right, top right, bottom
 * left, top left) where it overlaps no `.console-panel`, chosen again when a
 * toast comes or goes, the window scrolls or resizes, or the view changes
 * (a sticky console moves as the page scrolls). Should every corner overlap
 * one (a narrow window), the least overlapping corner wins.
 */
const MAX_TOASTS = 4;
const AVOIDED = '.console-panel';
/** Distance from the window's edges; at the top, below the sticky header (48 px). */
const EDGE_PX = 16;
const TOP_PX = 60;

type Corner = 'bottom-right' | 'top-right' | 'bottom-left' | 'top-left';
const CORNERS: readonly Corner[] = ['bottom-right', 'top-right', 'bottom-left', 'top-left'];

export class Toasts {
  readonly element = h('div', { class: 'toasts', attrs: { 'aria-live': 'polite', 'aria-relevant': 'additions' } });
  private placing = false;

  constructor() {
    const later = () => this.placeSoon();
    window.addEventListener('scroll', later, { passive: true });
    window.addEventListener('resize', later);
    window.addEventListener('hashchange', later);
  }

  show(level: 'info' | 'warn' | 'error', message: string): void {
    const close = h('button', { class: 'toast-close', text: '×', attrs: { type: 'button', 'aria-label': 'Dismiss' } });
    const toast = h('div', { class: `toast toast-${level}`, data: { level } }, h('span', { text: `${level === 'info' ? 'ℹ' : '⚠'} ${message}` }), close);
    const remove = () => {
      toast.remove();
      this.placeSoon();
    };
    close.addEventListener('click', remove);
    this.element.append(toast);
    while (this.element.childElementCount > MAX_TOASTS) this.element.firstElementChild!.remove();
    this.place();
    this.placeSoon();
    window.setTimeout(remove, level === 'info' ? 6000 : 12_000);
  }

  /** Once per frame at most, and only while there are toasts. */
  private placeSoon(): void {
    if (this.placing || !this.element.childElementCount) return;
    this.placing = true;
    window.requestAnimationFrame(() => {
      this.placing = false;
      this.place();
    });
  }

  private place(): void {
    if (!this.element.childElementCount) return;
    const obstacles = [...document.querySelectorAll(AVOIDED)].map((e) => e.getBoundingClientRect()).filter((r) => r.width > 0 && r.height > 0);
    const { width, height } = this.element.getBoundingClientRect();
    let best: { corner: Corner; overlap: number } | null = null;
    for (const corner of CORNERS) {
      const area = cornerRect(corner, width, height);
      const overlap = obstacles.reduce((sum, r) => sum + overlapArea(area, r), 0);
      if (!best || overlap < best.overlap) best = { corner, overlap };
      if (overlap === 0) break;
    }
    const corner = best!.corner;
    if (this.element.dataset.corner === corner) return;
    this.element.dataset.corner = corner;
    const style = this.element.style;
    style.top = corner.startsWith('top') ? `${TOP_PX}px` : 'auto';
    style.bottom = corner.startsWith('bottom') ? `${EDGE_PX}px` : 'auto';
    style.left = corner.endsWith('left') ? `${EDGE_PX}px` : 'auto';
    style.right = corner.endsWith('right') ? `${EDGE_PX}px` : 'auto';
  }
}

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** Where the stack would be in `corner`, in the viewport fixed positions use (without scroll bars). */
function cornerRect(corner: Corner, width: number, height: number): Box {
  const viewport = document.documentElement;
  const top = corner.startsWith('top') ? TOP_PX : viewport.clientHeight - EDGE_PX - height;
  const left = corner.endsWith('left') ? EDGE_PX : viewport.clientWidth - EDGE_PX - width;
  return { left, top, right: left + width, bottom: top + height };
}

function overlapArea(a: Box, b: Box): number {
  const width = Math.min(a.right, b.right) - Math.max(a.left, b.left);
  const height = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
  return width > 0 && height > 0 ? width * height : 0;
}
