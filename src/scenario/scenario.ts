import { createHash } from 'node:crypto';
import { Ajv } from 'ajv';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { InputError } from '../util/failure.js';
import { describeAjvErrors } from '../util/schema-errors.js';

/**
 * A scenario: an immutable, declarative test description (YAML), executed by the
 * runner on one board. Steps name a type from the step library; their other
 * fields are that step's parameters, checked against the step's own schema
 * when the scenario is loaded, so a typo fails before any board is touched.
 *
 *   name: boot-smoke
 *   description: cold boot reaches services up
 *   timeoutMs: 120000            # whole run
 *   params: { osVersion: "22.11" }   # defaults; a run may override them
 *   steps:
 *     - type: power-cycle
 *     - type: expect-console
 *       name: services up
 *       pattern: '\[OS\] services up'
 *       timeoutMs: 20000
 *       retries: 0               # retried only on infra-error
 *   teardown:
 *     - type: power
 *       on: true
 *
 * String values may use {{params.NAME}}, replaced at run time.
 */
export interface StepDefinition {
  type: string;
  name?: string;
  timeoutMs?: number;
  retries?: number;
  /** Keep going with later steps when this one fails. */
  continueOnFailure?: boolean;
  [param: string]: unknown;
}

export interface ScenarioDefinition {
  name: string;
  description?: string;
  timeoutMs?: number;
  tags?: string[];
  params?: Record<string, unknown>;
  setup?: StepDefinition[];
  steps: StepDefinition[];
  teardown?: StepDefinition[];
}

export interface Scenario extends ScenarioDefinition {
  /** sha256 of the source text: provenance of what ran. */
  digest: string;
  source: string;
}

const stepSchema = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { type: 'string', minLength: 1 },
    name: { type: 'string', maxLength: 200 },
    timeoutMs: { type: 'integer', minimum: 1, maximum: 86_400_000 },
    retries: { type: 'integer', minimum: 0, maximum: 10 },
    continueOnFailure: { type: 'boolean' },
  },
} as const;

const scenarioSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'steps'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$', maxLength: 100 },
    description: { type: 'string' },
    timeoutMs: { type: 'integer', minimum: 1, maximum: 86_400_000 },
    tags: { type: 'array', items: { type: 'string' } },
    params: { type: 'object' },
    setup: { type: 'array', items: stepSchema },
    steps: { type: 'array', minItems: 1, items: stepSchema },
    teardown: { type: 'array', items: stepSchema },
  },
} as const;

const validateScenario = new Ajv({ allErrors: true }).compile<ScenarioDefinition>(scenarioSchema);

export interface StepParamChecker {
  /** Throws InputError naming the step when its parameters are wrong. */
  check(step: StepDefinition, where: string): void;
}

/** Parse and validate a scenario's YAML (or JSON) text; `source` names it in errors. */
export function parseScenario(text: string, source: string, steps: StepParamChecker): Scenario {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos ? ` (line ${error.linePos[0].line})` : '';
    throw new InputError('scenario-unparseable', `${source}${where}: not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (!validateScenario(value)) throw new InputError('scenario-invalid', describeAjvErrors(validateScenario.errors, source));
  const definition = value;
  for (const [phase, list] of [['setup', definition.setup], ['steps', definition.steps], ['teardown', definition.teardown]] as const) {
    (list ?? []).forEach((step, i) => steps.check(step, `${source}: at $.${phase}[${i}]`));
  }
  return { ...definition, digest: `sha256:${createHash('sha256').update(text).digest('hex')}`, source };
}

/** Replace {{params.NAME}} in every string of a step's parameters. */
export function resolveTemplates<T>(value: T, params: Record<string, unknown>): T {
  if (typeof value === 'string') {
    const whole = /^\{\{params\.([\w-]+)\}\}$/.exec(value);
    if (whole) return (params[whole[1]!] ?? value) as T;
    return value.replace(/\{\{params\.([\w-]+)\}\}/g, (m, name: string) => (name in params ? String(params[name]) : m)) as T;
  }
  if (Array.isArray(value)) return value.map((v) => resolveTemplates(v, params)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveTemplates(v, params)])) as T;
  }
  return value;
}
