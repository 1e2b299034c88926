import { h } from '../dom.js';

/** Short messages about what the operator just did (and system warnings), read out politely by screen readers. */
const MAX_TOASTS = 4;

export class Toasts {
  readonly element = h('div', { class: 'toasts', attrs: { 'aria-live': 'polite', 'aria-relevant': 'additions' } });

  show(level: 'info' | 'warn' | 'error', message: string): void {
    const close = h('button', { class: 'toast-close', text: '×', attrs: { type: 'button', 'aria-label': 'Dismiss' } });
    const toast = h('div', { class: `toast toast-${level}`, data: { level } }, h('span', { text: `${level === 'info' ? 'ℹ' : '⚠'} ${message}` }), close);
    close.addEventListener('click', () => toast.remove());
    this.element.append(toast);
    while (this.element.childElementCount > MAX_TOASTS) this.element.firstElementChild!.remove();
    window.setTimeout(() => toast.remove(), level === 'info' ? 6000 : 12_000);
  }
}
