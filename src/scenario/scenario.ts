import { createHash } from 'node:crypto';
import { Ajv } from 'ajv';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { InputError } from '../util/failure.js';
import { describeAjvErrors } from '../util/schema-errors.js';
import { jsonPath, parseParamDeclarations, templatesIn, type ParamSpec } from './scenario-params.js';

// Where the runner and older callers have always found it.
export { resolveTemplates } from './scenario-params.js';

/**
 * A scenario: an immutable, declarative test description (YAML), executed by the
 * runner on one board. Steps name a type from the step library; their other
 * fields are that step's parameters, checked against the step's own schema
 * when the scenario is loaded, so a typo fails before any board is touched.
 *
 *   name: boot-smoke
 *   description: cold boot reaches services up
 *   timeoutMs: 120000            # whole run
 *   params:                      # declared, checked before a run is queued (scenario-params.ts)
 *     osVersion: { type: string, description: OS to expect, default: '22.11' }
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
 * String values may use {{params.NAME}} of a declared parameter, replaced at run time.
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
  /** As written: declarations, or (older scenarios) bare defaults. */
  params?: Record<string, unknown>;
  setup?: StepDefinition[];
  steps: StepDefinition[];
  teardown?: StepDefinition[];
}

export interface Scenario extends Omit<ScenarioDefinition, 'params'> {
  /** The parameter declarations, normalised (shorthand defaults become full declarations). */
  params: Record<string, ParamSpec>;
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
  // An alias inside the node it names makes a structure that contains itself; a scenario is a tree.
  const recursive = recursivePath(value);
  if (recursive) {
    throw new InputError('scenario-invalid', `${source}: at ${jsonPath(recursive)}: a YAML alias refers to a node that contains it; a scenario cannot contain itself`);
  }
  if (!validateScenario(value)) throw new InputError('scenario-invalid', describeAjvErrors(validateScenario.errors, source));
  const definition = value;
  const params = parseParamDeclarations(definition.params, source);
  for (const [phase, list] of [['setup', definition.setup], ['steps', definition.steps], ['teardown', definition.teardown]] as const) {
    (list ?? []).forEach((step, i) => {
      const where = `${source}: at $.${phase}[${i}]`;
      const undeclared = templatesIn(step).find((t) => !Object.hasOwn(params, t.name));
      if (undeclared) {
        const declared = Object.keys(params);
        throw new InputError(
          'scenario-invalid',
          `${source}: at ${jsonPath(undeclared.path, `$.${phase}[${i}]`)}: {{params.${undeclared.name}}} names no declared parameter ` +
            `(${declared.length ? `declared: ${declared.join(', ')}` : 'the scenario declares none'})`,
        );
      }
      steps.check(step, where);
    });
  }
  return { ...definition, params, digest: `sha256:${createHash('sha256').update(text).digest('hex')}`, source };
}

/**
 * The path to the first value that contains itself (YAML `&a [*a]`), or undefined
 * for a tree. Aliases that merely share a node are fine; each node is walked once.
 */
function recursivePath(root: unknown): Array<string | number> | undefined {
  const open = new Set<object>();
  const done = new WeakSet<object>();
  const walk = (value: unknown, path: Array<string | number>): Array<string | number> | undefined => {
    if (value === null || typeof value !== 'object' || done.has(value)) return undefined;
    if (open.has(value)) return path;
    open.add(value);
    const entries: Array<[string | number, unknown]> = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    for (const [key, child] of entries) {
      const found = walk(child, [...path, key]);
      if (found) return found;
    }
    open.delete(value);
    done.add(value);
    return undefined;
  };
  return walk(root, []);
}
