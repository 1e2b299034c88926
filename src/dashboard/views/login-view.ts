import { h } from '../dom.js';

/**
 * Asks for an API token when the page has none (or the daemon refused it). The
 * token stays in this tab's sessionStorage only.
 */
export function loginView(problem: string | null, onToken: (token: string) => void): HTMLElement {
  const input = h('input', { id: 'login-token', attrs: { type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' } });
  const form = h(
    'form',
    { class: 'panel login', attrs: { 'aria-labelledby': 'login-title' } },
    h('h2', { id: 'login-title', text: 'Sign in to the rig' }),
    problem ? h('p', { class: 'warn-text', attrs: { role: 'alert' }, text: problem }) : null,
    h('div', { class: 'field' }, h('label', { text: 'API token', attrs: { for: 'login-token' } }), input),
    h(
      'p',
      { class: 'hint' },
      'The daemon wrote an admin token to ',
      h('code', { text: '<state>/admin.token' }),
      ' when it first started. Ask an admin for a viewer or operator token of your own. Links of the form ',
      h('code', { text: '…/#token=…' }),
      ' sign in directly.',
    ),
    h('button', { class: 'button primary', text: 'Sign in', attrs: { type: 'submit' } }),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (token) onToken(token);
  });
  window.setTimeout(() => input.focus(), 0);
  return form;
}
