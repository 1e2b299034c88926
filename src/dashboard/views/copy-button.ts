import { h } from '../dom.js';

/** A small button that copies a value (a device ID, a run ID) and says so. */
export function copyButton(value: string, what: string): HTMLButtonElement {
  const button = h('button', { class: 'copy-button', text: 'Copy', attrs: { type: 'button', 'aria-label': `Copy ${what}` }, title: `Copy the full ${what}` });
  button.addEventListener('click', () => {
    void copyText(value).then(
      (ok) => {
        button.textContent = ok ? 'Copied' : 'Copy failed';
        window.setTimeout(() => (button.textContent = 'Copy'), 1500);
      },
    );
  });
  return button;
}

async function copyText(value: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(value);
    return true;
  } catch {
    // No clipboard API (or no permission): select and copy the old way.
    const area = h('textarea', { class: 'visually-hidden', attrs: { readonly: true } });
    area.value = value;
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}
