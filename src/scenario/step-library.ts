import { Ajv, type ValidateFunction } from 'ajv';
import { InputError } from '../util/failure.js';
import { describeAjvErrors } from '../util/schema-errors.js';
import type { StepDefinition, StepParamChecker } from './scenario.js';
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

  check(step: StepDefinition, where: string): void {
    const entry = this.#types.get(step.type);
    if (!entry) throw new InputError('step-type-unknown', `${where}: unknown step type '${step.type}' (known: ${this.names().join(', ')})`);
    const params = Object.fromEntries(Object.entries(step).filter(([key]) => !COMMON_FIELDS.has(key)));
    // Templated values are checked after substitution, at run time.
    if (JSON.stringify(params).includes('{{params.')) return;
    if (!entry.validate(params)) throw new InputError('step-params-invalid', describeAjvErrors(entry.validate.errors, `${where} (${step.type})`));
  }
}
