import { Ajv, type ValidateFunction } from 'ajv';
import { InputError } from '../util/failure.js';
import { describeAjvErrors } from '../util/schema-errors.js';
import type { StepDefinition, StepParamChecker } from './scenario.js';
import { templatesIn } from './scenario-params.js';
import type { StepType } from './step-type.js';

const COMMON_FIELDS = new Set(['type', 'name', 'timeoutMs', 'retries', 'continueOnFailure']);

/** The registry of step types; checks each step's parameters against its type's schema. */
export class StepLibrary implements StepParamChecker {
  readonly #types = new Map<string, { type: StepType<never>; validate: ValidateFunction }>();
  readonly #ajv = new Ajv({ allErrors: true });

  constructor(types: ReadonlyArray<StepType<never>>) {
    for (const type of types) {
      if (this.#types.has(type.type)) throw new InputError('step-type-duplicate', `step type ${type.type} is defined twice`);
      this.#types.set(type.type, { type, validate: this.#ajv.compile({ additionalProperties: false, ...type.schema, type: 'object' }) });
    }
  }

  get(name: string): StepType<never> {
    const entry = this.#types.get(name);
    if (!entry) throw new InputError('step-type-unknown', `unknown step type '${name}' (known: ${this.names().join(', ')})`);
    return entry.type;
  }

  names(): string[] {
    return [...this.#types.keys()].sort();
  }

  describe(): Array<{ type: string; description: string; schema: Record<string, unknown> }> {
    return [...this.#types.values()].map(({ type }) => ({ type: type.type, description: type.description, schema: type.schema }));
  }

  /**
   * Load-time check of a step as written. Fields holding a `{{params.NAME}}`
   * template are left out (their values come with the run, see checkResolved);
   * every other field is checked now.
   */
  check(step: StepDefinition, where: string): void {
    const entry = this.#entry(step.type, where);
    const params = Object.fromEntries(Object.entries(step).filter(([key]) => !COMMON_FIELDS.has(key)));
    const { rest, left } = withoutTemplatedFields(params);
    if (entry.validate(rest)) return;
    // A templated field that the schema requires is not missing, only not known yet.
    const errors = entry.validate.errors!.filter(
      (e) => !(e.keyword === 'required' && left.has(`${e.instancePath}/${String((e.params as { missingProperty?: string }).missingProperty)}`)),
    );
    if (errors.length) throw new InputError('step-params-invalid', describeAjvErrors(errors, `${where} (${step.type})`));
  }

  /** Check a step's own parameters after substitution (no templates left), e.g. before a run is queued. */
  checkResolved(type: string, params: Record<string, unknown>, where: string): void {
    const entry = this.#entry(type, where);
    if (!entry.validate(params)) throw new InputError('step-params-invalid', describeAjvErrors(entry.validate.errors, `${where} (${type})`));
  }

  #entry(type: string, where: string): { type: StepType<never>; validate: ValidateFunction } {
    const entry = this.#types.get(type);
    if (!entry) throw new InputError('step-type-unknown', `${where}: unknown step type '${type}' (known: ${this.names().join(', ')})`);
    return entry;
  }
}

/**
 * A copy of `params` without the fields that hold templates, and the JSON
 * pointers of those left out. A templated item of a list takes its whole list
 * with it, so the indexes of what is checked stay as written.
 */
function withoutTemplatedFields(params: Record<string, unknown>): { rest: Record<string, unknown>; left: Set<string> } {
  const rest = structuredClone(params);
  const left = new Set<string>();
  for (const { path } of templatesIn(params)) {
    const cut = [...path];
    while (typeof cut.at(-1) === 'number') cut.pop();
    const key = cut.pop() as string | undefined;
    if (key === undefined) continue;
    const parent = cut.reduce<unknown>((at, k) => (at as Record<string | number, unknown> | undefined)?.[k], rest) as Record<string, unknown> | undefined;
    if (parent) delete parent[key];
    left.add(`/${[...cut, key].join('/')}`);
  }
  return { rest, left };
}
