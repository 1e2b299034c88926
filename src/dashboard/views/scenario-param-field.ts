import type { ScenarioParamDeclaration } from '../api-types.js';
import { h, setText } from '../dom.js';
import { checkParamInput, paramHint, type ParamInput } from '../scenario-param-rules.js';

/**
 * One declared scenario parameter in the start-run form: its name, what it is
 * for, what it accepts, the default as the placeholder, and a message under
 * it when the value does not fit (checked here first, or refused by the
 * daemon). Booleans and enumerations are a choice with "default" first, so
 * leaving a field alone never sends a value.
 */
export class ScenarioParamField {
  readonly element: HTMLElement;
  private readonly control: HTMLInputElement | HTMLSelectElement;
  private readonly error: HTMLElement;

  constructor(
    readonly name: string,
    private readonly declaration: ScenarioParamDeclaration,
  ) {
    const id = `run-param-${name}`;
    const hintId = `${id}-hint`;
    const errorId = `${id}-error`;
    const fallback = declaration.default === undefined ? null : String(declaration.default);
    const choices = declaration.enum ?? (declaration.type === 'boolean' ? [true, false] : null);
    if (choices) {
      this.control = h(
        'select',
        { id, data: { param: name } },
        h('option', { text: fallback === null ? (declaration.required ? 'choose…' : 'not set') : `default (${fallback})`, attrs: { value: '' } }),
        ...choices.map((choice) => h('option', { text: String(choice), attrs: { value: String(choice) } })),
      );
    } else {
      const inputmode = declaration.type === 'integer' ? 'numeric' : declaration.type === 'number' ? 'decimal' : null;
      this.control = h('input', { id, data: { param: name }, attrs: { type: 'text', placeholder: fallback ?? (declaration.required ? 'required' : ''), autocomplete: 'off', inputmode } });
    }
    this.control.setAttribute('aria-describedby', `${hintId} ${errorId}`);
    if (declaration.required && declaration.default === undefined) this.control.setAttribute('aria-required', 'true');
    const hint = paramHint(declaration);
    this.error = h('p', { id: errorId, class: 'field-error', hidden: true });
    this.element = h(
      'div',
      { class: 'field param', data: { paramField: name } },
      h('label', { text: name, attrs: { for: id } }),
      this.control,
      h('p', { id: hintId, class: 'hint param-hint', text: [declaration.description, hint].filter(Boolean).join(' · '), title: declaration.description }),
      this.error,
    );
    // Checked when the run is started (checking on leaving the field would move the button under a click);
    // a message goes as soon as the value changes.
    this.control.addEventListener('input', () => this.showError(null));
    this.control.addEventListener('change', () => this.showError(null));
  }

  /** Checks the field and shows what is wrong with it. */
  check(): ParamInput {
    const result = checkParamInput(this.name, this.declaration, this.control.value);
    this.showError(result.ok ? null : result.message);
    return result;
  }

  showError(message: string | null): void {
    this.error.hidden = message === null;
    setText(this.error, message ?? '');
    if (message === null) this.control.removeAttribute('aria-invalid');
    else this.control.setAttribute('aria-invalid', 'true');
  }

  focus(): void {
    this.control.focus();
  }
}
