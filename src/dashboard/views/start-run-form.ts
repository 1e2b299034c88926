import { ApiError } from '../api-client.js';
import type { ParamValue } from '../api-types.js';
import { unavailableForRuns } from '../board-health-style.js';
import { h, replaceChildren, setText } from '../dom.js';
import { links, navigate } from '../router.js';
import type { View, ViewContext } from '../view-context.js';
import { ScenarioParamField } from './scenario-param-field.js';

/**
 * Start a scenario on the boards selected on their cards, or on every board
 * with some tags (one run per board, queued behind whatever the board runs).
 * Each declared parameter gets a field (see ScenarioParamField), checked here
 * before sending; only the fields filled in are sent. Boards that may not take
 * runs (unhealthy, retired, in maintenance) cannot be selected, and the tags
 * target says which of its boards they are.
 */
/** The daemon's refusals of a run's parameters, shown beside the fields. */
const PARAM_ERRORS = new Set(['param-unknown', 'param-invalid', 'step-params-invalid']);

interface SubmittedRun {
  id: string;
  scenario: string;
  boardId: string;
  status: string;
}

export class StartRunForm implements View {
  readonly element: HTMLFormElement;
  private readonly scenario = h('select', { id: 'run-scenario', attrs: { name: 'scenario', required: true } });
  private readonly description = h('p', { class: 'hint scenario-description' });
  private readonly selectedLabel = h('span');
  private readonly targetSelected = h('input', { attrs: { type: 'radio', name: 'target', value: 'selected', checked: true } });
  private readonly targetTags = h('input', { attrs: { type: 'radio', name: 'target', value: 'tags' } });
  private readonly tags = h('input', { id: 'run-tags', attrs: { type: 'text', name: 'tags', placeholder: 'e.g. emulated', list: 'known-tags', autocomplete: 'off', 'aria-label': 'Tags (comma-separated)' } });
  private readonly knownTags = h('datalist', { id: 'known-tags' });
  private readonly params = h('div', { class: 'params' });
  private paramFields: ScenarioParamField[] = [];
  private readonly tagsNote = h('p', { class: 'hint tags-note' });
  private readonly submit = h('button', { class: 'button primary', text: 'Start run', attrs: { type: 'submit' } });
  private readonly status = h('p', { class: 'form-status', attrs: { role: 'status', 'aria-live': 'polite' } });
  private readonly cleanup: Array<() => void> = [];

  constructor(
    private readonly context: ViewContext,
    private readonly selection: () => string[],
  ) {
    this.element = h(
      'form',
      { class: 'start-run', attrs: { 'aria-label': 'Start a scenario' } },
      h('div', { class: 'field' }, h('label', { text: 'Scenario', attrs: { for: 'run-scenario' } }), this.scenario),
      h(
        'fieldset',
        { class: 'field target' },
        h('legend', { text: 'On' }),
        h('label', { class: 'inline' }, this.targetSelected, this.selectedLabel),
        h('label', { class: 'inline' }, this.targetTags, 'boards tagged'),
        this.tags,
        this.knownTags,
      ),
      this.params,
      h('div', { class: 'field submit' }, this.submit),
      this.description,
      this.tagsNote,
      this.status,
    );
    this.scenario.addEventListener('change', () => this.drawScenario());
    this.tags.addEventListener('focus', () => (this.targetTags.checked = true));
    this.tags.addEventListener('input', () => {
      this.targetTags.checked = true;
      this.selectionChanged();
    });
    for (const radio of [this.targetSelected, this.targetTags]) radio.addEventListener('change', () => this.selectionChanged());
    this.element.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.start();
    });
    this.cleanup.push(
      context.model.changes.on('scenarios', () => this.drawScenarios()),
      context.model.changes.on('boards', () => this.drawTags()),
    );
    this.drawScenarios();
    this.drawTags();
    this.selectionChanged();
  }

  /** The selection on the cards changed. */
  selectionChanged(): void {
    const count = this.selection().length;
    setText(this.selectedLabel, `selected boards (${count})`);
    const tags = this.tagList();
    this.submit.disabled = !this.scenario.value || (this.targetSelected.checked ? count === 0 : tags.length === 0);
    this.drawTagsNote(tags);
  }

  /** Boards with the tags that will not get the run, and why. */
  private drawTagsNote(tags: string[]): void {
    const left = this.targetTags.checked && tags.length
      ? [...this.context.model.boards.values()].filter((b) => tags.every((t) => b.tags.includes(t))).flatMap((b) => {
          const why = unavailableForRuns(b.health);
          return why ? [`${b.id} (${why})`] : [];
        })
      : [];
    setText(this.tagsNote, left.length ? `Not sent to ${left.join(', ')}.` : '');
  }

  private tagList(): string[] {
    return this.tags.value.split(',').map((t) => t.trim()).filter(Boolean);
  }

  private drawScenarios(): void {
    const current = this.scenario.value;
    replaceChildren(
      this.scenario,
      h('option', { text: 'Choose a scenario…', attrs: { value: '' } }),
      ...this.context.model.scenarios.map((s) => h('option', { text: s.name, attrs: { value: s.name } })),
    );
    this.scenario.value = this.context.model.scenarios.some((s) => s.name === current) ? current : '';
    this.drawScenario();
  }

  private drawTags(): void {
    const tags = new Set<string>();
    for (const board of this.context.model.boards.values()) for (const tag of board.tags) tags.add(tag);
    replaceChildren(this.knownTags, ...[...tags].sort().map((t) => h('option', { attrs: { value: t } })));
  }

  private drawScenario(): void {
    const scenario = this.context.model.scenarios.find((s) => s.name === this.scenario.value);
    setText(this.description, scenario ? `${scenario.description} (${scenario.steps.length} steps${scenario.tags.length ? `; ${scenario.tags.join(', ')}` : ''})` : '');
    this.paramFields = Object.entries(scenario?.params ?? {}).map(([name, declaration]) => new ScenarioParamField(name, declaration));
    replaceChildren(this.params, ...this.paramFields.map((field) => field.element));
    this.selectionChanged();
  }

  /** The parameters filled in, typed as declared, or what is wrong with the first that does not fit (every field says its own). */
  private paramValues(): { values: Record<string, ParamValue> } | { problem: string } {
    const values: Record<string, ParamValue> = {};
    let problem: string | null = null;
    for (const field of this.paramFields) {
      const result = field.check();
      if (!result.ok) {
        if (problem === null) field.focus();
        problem ??= result.message;
      } else if (result.value !== undefined) values[field.name] = result.value;
    }
    return problem === null ? { values } : { problem };
  }

  /** A refused parameter (param-invalid names it in its details) gets the daemon's message under its field too. */
  private showParamRefusal(error: ApiError): void {
    const named = error.details.param;
    for (const field of this.paramFields) if (field.name === named) field.showError(error.message);
  }

  private async start(): Promise<void> {
    const scenario = this.scenario.value;
    if (!scenario) return;
    const checked = this.paramValues();
    if ('problem' in checked) {
      setText(this.status, `Not started: ${checked.problem}`);
      return;
    }
    const params = checked.values;
    const body = Object.keys(params).length ? { params } : {};
    this.submit.disabled = true;
    setText(this.status, 'Starting…');
    const refusal = (error: unknown) => (error instanceof ApiError && error.status === 403 ? 'your token may not start runs (viewer role)' : (error as Error).message);
    try {
      let runs: SubmittedRun[];
      const refused: string[] = [];
      if (this.targetTags.checked) {
        runs = (await this.context.api.post<{ runs: SubmittedRun[] }>('/api/v1/runs', { scenario, tags: this.tagList(), ...body })).runs;
      } else {
        // One request per board: some may be refused while the others are already queued, so each is reported.
        const boards = this.selection();
        const answers = await Promise.allSettled(boards.map((boardId) => this.context.api.post<{ runs: SubmittedRun[] }>('/api/v1/runs', { scenario, boardId, ...body })));
        runs = answers.flatMap((a) => (a.status === 'fulfilled' ? a.value.runs : []));
        // Parameters refused for one board are refused for all: say it once, beside the field.
        const paramRefusal = answers.find((a): a is PromiseRejectedResult => a.status === 'rejected' && a.reason instanceof ApiError && PARAM_ERRORS.has(a.reason.code));
        if (!runs.length && paramRefusal) throw paramRefusal.reason;
        answers.forEach((a, i) => a.status === 'rejected' && refused.push(`${boards[i]}: ${refusal(a.reason)}`));
        if (!runs.length) throw new Error(refused.join('; '));
      }
      this.context.model.setRuns(runs.map((r) => ({ ...r, status: r.status === 'running' ? 'running' : 'queued', verdict: null, reason: null, startedAt: null, endedAt: null, queuedAt: new Date().toISOString() })));
      this.context.sync.activeRuns();
      const started = `Started ${scenario} on ${runs.map((r) => r.boardId).join(', ')}`;
      setText(this.status, refused.length ? `${started}; refused on ${refused.join('; ')}` : started);
      if (refused.length) this.context.toast('error', `Not started on ${refused.join('; ')}`);
      this.context.toast('info', `Started ${scenario} on ${runs.length === 1 ? runs[0]!.boardId : `${runs.length} boards`}`);
      navigate(runs.length === 1 && !refused.length ? links.run(runs[0]!.id) : links.runs());
    } catch (error) {
      if (error instanceof ApiError && PARAM_ERRORS.has(error.code)) this.showParamRefusal(error);
      const message = refusal(error);
      setText(this.status, `Not started: ${message}`);
      this.context.toast('error', `Not started: ${message}`);
    } finally {
      this.selectionChanged();
    }
  }

  destroy(): void {
    for (const undo of this.cleanup) undo();
  }
}
