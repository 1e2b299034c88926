import { InputError } from '../util/failure.js';
import type { Scenario, StepDefinition } from './scenario.js';
import type { StepLibrary } from './step-library.js';

/**
 * A scenario's parameters: what it declares under `params:`, the values a run
 * gives them (checked and coerced before the run is queued), and their
 * `{{params.NAME}}` uses in step fields.
 *
 *   params:
 *     sample:
 *       type: integer
 *       description: cut points to check (all when not given)
 *       minimum: 1
 *     componentId:
 *       type: string
 *       description: the app's component ID
 *       pattern: '^[0-9a-f-]{36}$'
 *       default: 4c5d6e7f-8091-4aab-9cde-3f4a5b6c7d8e
 *     osVersion: '25.01'        # shorthand: a default, its type inferred
 */
export type ParamType = 'string' | 'integer' | 'number' | 'boolean';

export interface ParamSpec {
  type: ParamType;
  description: string;
  required: boolean;
  default?: string | number | boolean;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  enum?: Array<string | number | boolean>;
}

type ParamValue = string | number | boolean;

const PARAM_TYPES: readonly ParamType[] = ['string', 'integer', 'number', 'boolean'];
const DECLARATION_FIELDS = new Set(['type', 'description', 'required', 'default', 'minimum', 'maximum', 'pattern', 'enum']);
/** Names a template can reach: the same characters `{{params.NAME}}` matches. */
const PARAM_NAME = /^[\w-]+$/;
const TEMPLATE = /\{\{params\.([\w-]+)\}\}/g;
const WHOLE_TEMPLATE = /^\{\{params\.([\w-]+)\}\}$/;
/** A number written in decimal (as a CLI flag or a form field sends it). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Normalise a scenario's raw `params:` block; `source` names the file in errors.
 * Each entry is a declaration object or, as older scenarios wrote it, a bare default.
 */
export function parseParamDeclarations(raw: Record<string, unknown> | undefined, source: string): Record<string, ParamSpec> {
  const specs: Record<string, ParamSpec> = {};
  for (const [name, value] of Object.entries(raw ?? {})) {
    const at = `${source}: at $.params.${name}`;
    if (!PARAM_NAME.test(name)) throw invalidScenario(`${at}: a parameter name may hold only letters, digits, '_' and '-'`);
    specs[name] = value !== null && typeof value === 'object' && !Array.isArray(value) ? declaredSpec(value as Record<string, unknown>, at) : shorthandSpec(value, at);
  }
  return specs;
}

function shorthandSpec(value: unknown, at: string): ParamSpec {
  if (typeof value === 'string') return { type: 'string', description: '', required: false, default: value };
  if (typeof value === 'boolean') return { type: 'boolean', description: '', required: false, default: value };
  if (typeof value === 'number' && Number.isFinite(value)) return { type: Number.isInteger(value) ? 'integer' : 'number', description: '', required: false, default: value };
  // A null default says nothing of the type a run may give, so it must be declared.
  throw invalidScenario(
    `${at}: a shorthand default must be a string, number or boolean, got ${JSON.stringify(value)}; ` +
      `for a parameter without a default declare it as { type, description }`,
  );
}

function declaredSpec(raw: Record<string, unknown>, at: string): ParamSpec {
  for (const field of Object.keys(raw)) {
    if (!DECLARATION_FIELDS.has(field)) throw invalidScenario(`${at}.${field}: unknown field (a declaration may have ${[...DECLARATION_FIELDS].join(', ')})`);
  }
  const type = raw.type;
  if (!PARAM_TYPES.includes(type as ParamType)) throw invalidScenario(`${at}.type: must be one of ${PARAM_TYPES.join(', ')}, got ${JSON.stringify(type)}`);
  if (typeof raw.description !== 'string' || !raw.description.trim()) throw invalidScenario(`${at}.description: must be a non-empty string saying what the parameter is`);
  if (raw.required !== undefined && typeof raw.required !== 'boolean') throw invalidScenario(`${at}.required: must be true or false`);
  const spec: ParamSpec = { type: type as ParamType, description: raw.description, required: raw.required === true };

  for (const bound of ['minimum', 'maximum'] as const) {
    if (raw[bound] === undefined) continue;
    if (spec.type !== 'integer' && spec.type !== 'number') throw invalidScenario(`${at}.${bound}: only an integer or number parameter has a ${bound}`);
    if (typeof raw[bound] !== 'number' || !Number.isFinite(raw[bound])) throw invalidScenario(`${at}.${bound}: must be a number`);
    spec[bound] = raw[bound];
  }
  if (spec.minimum !== undefined && spec.maximum !== undefined && spec.minimum > spec.maximum) {
    throw invalidScenario(`${at}.maximum: must not be below the minimum (${spec.minimum})`);
  }
  if (raw.pattern !== undefined) {
    if (spec.type !== 'string') throw invalidScenario(`${at}.pattern: only a string parameter has a pattern`);
    if (typeof raw.pattern !== 'string') throw invalidScenario(`${at}.pattern: must be a regular expression (a string)`);
    try {
      new RegExp(raw.pattern, 'u');
    } catch (error) {
      throw invalidScenario(`${at}.pattern: not a valid regular expression: ${(error as Error).message}`);
    }
    spec.pattern = raw.pattern;
  }
  if (raw.enum !== undefined) {
    if (!Array.isArray(raw.enum) || raw.enum.length === 0) throw invalidScenario(`${at}.enum: must be a non-empty list of values`);
    raw.enum.forEach((value, i) => {
      if (!hasType(spec.type, value)) throw invalidScenario(`${at}.enum[${i}]: must be ${typeDescription(spec.type)}, got ${JSON.stringify(value)}`);
    });
    spec.enum = raw.enum as ParamValue[];
  }
  if (raw.default !== undefined) {
    if (spec.required) throw invalidScenario(`${at}.required: a parameter with a default is not required (drop one of them)`);
    if (!fits(spec, raw.default)) throw invalidScenario(`${at}.default: must be ${describeSpec(spec)}, got ${JSON.stringify(raw.default)}`);
    spec.default = raw.default as ParamValue;
  }
  return spec;
}

/**
 * The parameters of one run of `scenario`: the values given, coerced to their
 * declared types and checked, with declared defaults filled in. Only names that
 * have a value are in the result (an optional parameter without one is absent).
 */
export function resolveRunParams(scenario: Scenario, given: Record<string, unknown>): Record<string, unknown> {
  const declared = scenario.params;
  const unknown = Object.keys(given).filter((name) => !Object.hasOwn(declared, name));
  if (unknown.length) {
    const names = Object.entries(declared).map(([name, spec]) => `${name} (${spec.type}${spec.required ? ', required' : ''})`);
    const which = `unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`;
    throw new InputError(
      'param-unknown',
      `scenario ${scenario.name}: ${which}; ${names.length ? `its parameters are ${names.join(', ')}` : 'it takes no parameters'}`,
      { scenario: scenario.name, unknown, declared: Object.keys(declared) },
    );
  }
  const resolved: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(declared)) {
    const raw = given[name];
    if (raw === undefined) {
      if (spec.default !== undefined) resolved[name] = spec.default;
      else if (spec.required) {
        throw new InputError('param-invalid', `scenario ${scenario.name}: parameter ${name} is required (${describeSpec(spec)}: ${spec.description})`, {
          scenario: scenario.name,
          param: name,
        });
      }
      continue;
    }
    const value = coerce(spec.type, raw);
    if (!fits(spec, value)) {
      throw new InputError('param-invalid', `scenario ${scenario.name}: parameter ${name} must be ${describeSpec(spec)}, got ${JSON.stringify(raw)}`, {
        scenario: scenario.name,
        param: name,
        value: raw,
      });
    }
    resolved[name] = value;
  }
  return resolved;
}

/**
 * Substitute `params` (from resolveRunParams) into every step of `scenario` and
 * check each against its step type's schema, so a value that only fits the
 * parameter's declaration but not the step fails before the run is queued.
 */
export function checkResolvedSteps(scenario: Scenario, params: Record<string, unknown>, library: StepLibrary): void {
  for (const [phase, steps] of [['setup', scenario.setup], ['steps', scenario.steps], ['teardown', scenario.teardown]] as const) {
    (steps ?? []).forEach((step, i) => {
      const where = `scenario ${scenario.name}: at $.${phase}[${i}]`;
      const resolved = resolveTemplates(ownParamsOf(step), params);
      const [left] = templatesIn(resolved);
      if (left) throw new InputError('step-params-invalid', `${where} (${step.type}): at ${jsonPath(left.path)}: parameter ${left.name} has no value (give it, or declare a default)`);
      library.checkResolved(step.type, resolved, where);
    });
  }
}

/** A step's own parameters: what the runner hands its step type. */
function ownParamsOf(step: StepDefinition): Record<string, unknown> {
  const { type: _t, name: _n, timeoutMs: _tm, retries: _r, continueOnFailure: _c, ...own } = step;
  return own;
}

/**
 * Replace `{{params.NAME}}` in every string of a step's parameters. A string that
 * is one whole template takes the parameter's value with its type (an integer
 * stays an integer); an object field whose whole template names a parameter
 * without a value is dropped, so the step sees it as not given. A template inside
 * a longer string with no value is left as written; checkResolvedSteps refuses it.
 */
export function resolveTemplates<T>(value: T, params: Record<string, unknown>): T {
  if (typeof value === 'string') {
    const whole = WHOLE_TEMPLATE.exec(value);
    if (whole) return (valueOf(params, whole[1]!) ?? value) as T;
    return value.replace(TEMPLATE, (m, name: string) => {
      const v = valueOf(params, name);
      return v === undefined ? m : String(v);
    }) as T;
  }
  if (Array.isArray(value)) return value.map((v) => resolveTemplates(v, params)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).flatMap(([k, v]) => {
        const whole = typeof v === 'string' ? WHOLE_TEMPLATE.exec(v) : null;
        if (whole && valueOf(params, whole[1]!) === undefined) return [];
        return [[k, resolveTemplates(v, params)]];
      }),
    ) as T;
  }
  return value;
}

export interface TemplateUse {
  /** Where the string holding it is, from the value's root: ['expect', 0, 'match']. */
  path: Array<string | number>;
  name: string;
  /** The string is this template and nothing else. */
  whole: boolean;
}

/** Every `{{params.NAME}}` in the strings of `value`. */
export function templatesIn(value: unknown, path: Array<string | number> = []): TemplateUse[] {
  if (typeof value === 'string') {
    const whole = WHOLE_TEMPLATE.test(value);
    return [...value.matchAll(TEMPLATE)].map((m) => ({ path, name: m[1]!, whole }));
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => templatesIn(v, [...path, i]));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => templatesIn(v, [...path, k]));
  return [];
}

/** `['expect', 0, 'match']` as `$.expect[0].match`. */
export function jsonPath(path: ReadonlyArray<string | number>, root = '$'): string {
  return path.reduce<string>((at, key) => (typeof key === 'number' ? `${at}[${key}]` : `${at}.${key}`), root);
}

function valueOf(params: Record<string, unknown>, name: string): unknown {
  // Own properties only: {{params.constructor}} is not a parameter.
  return Object.hasOwn(params, name) && params[name] !== null ? params[name] : undefined;
}

/** A value given as text (a CLI flag, a form field) in the declared type; others unchanged. */
function coerce(type: ParamType, value: unknown): unknown {
  if (type === 'string') return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
  if (typeof value !== 'string') return value;
  if (type === 'boolean') return value === 'true' ? true : value === 'false' ? false : value;
  return DECIMAL.test(value.trim()) ? Number(value.trim()) : value;
}

/** Whether `value` (already coerced) is what `spec` declares. */
function fits(spec: ParamSpec, value: unknown): boolean {
  return (
    hasType(spec.type, value) &&
    (spec.enum === undefined || spec.enum.includes(value as ParamValue)) &&
    (spec.minimum === undefined || (value as number) >= spec.minimum) &&
    (spec.maximum === undefined || (value as number) <= spec.maximum) &&
    (spec.pattern === undefined || new RegExp(spec.pattern, 'u').test(value as string))
  );
}

function hasType(type: ParamType, value: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
  }
}

function typeDescription(type: ParamType): string {
  return { string: 'a string', integer: 'an integer', number: 'a number', boolean: 'true or false' }[type];
}

/** "an integer >= 1 and <= 100000", "a string matching /^x$/", "one of \"a\", \"b\"". */
function describeSpec(spec: ParamSpec): string {
  if (spec.enum) return `one of ${spec.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  const bounds = [spec.minimum !== undefined ? `>= ${spec.minimum}` : '', spec.maximum !== undefined ? `<= ${spec.maximum}` : ''].filter(Boolean).join(' and ');
  const pattern = spec.pattern !== undefined ? ` matching /${spec.pattern}/` : '';
  return `${typeDescription(spec.type)}${bounds ? ` ${bounds}` : ''}${pattern}`;
}

function invalidScenario(message: string): InputError {
  return new InputError('scenario-invalid', message);
}
