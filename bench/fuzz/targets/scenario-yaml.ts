import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseScenario, type Scenario } from '../../../src/scenario/scenario.js';
import { checkResolvedSteps, resolveRunParams, type ParamSpec } from '../../../src/scenario/scenario-params.js';
import { StepLibrary } from '../../../src/scenario/step-library.js';
import { BUILTIN_STEPS } from '../../../src/scenario/steps/index.js';
import { InputError } from '../../../src/util/failure.js';
import { INTERESTING_NUMBERS, wordsOf } from '../mutate.js';
import type { Random } from '../random.js';
import { repoFilesIn, repoPath } from '../seed-files.js';
import type { FuzzTarget } from '../target.js';
import { mutateYaml, YAML_TOKENS } from '../yaml-mutate.js';

/**
 * Scenarios: parseScenario with the built-in step library on mutations of
 * fixtures/scenarios/*.yaml (and the test fixtures' scenarios); a scenario that
 * loads then has its run parameters resolved (none given) and its steps checked
 * with them. A third of the inputs instead give mutated run parameters to a
 * fixture scenario that declares some: resolveRunParams + checkResolvedSteps, as
 * a run request does before it is queued. Those inputs are
 *   #fuzz-params <fixture file name>\n<the parameters as JSON>
 * Documented refusals are InputErrors with these codes.
 */
export const SCENARIO_ERROR_CODES: ReadonlySet<string> = new Set([
  'scenario-unparseable',
  'scenario-invalid',
  'step-params-invalid',
  'step-type-unknown',
  'param-unknown',
  'param-invalid',
]);

const PARAMS_PREFIX = '#fuzz-params ';
const SEED_FOLDERS = ['fixtures/scenarios', 'test/daemon/fixtures/scenarios', 'test/daemon/fixtures/health-scenarios', 'test/cli/fixtures/scenarios'];

interface ScenarioSeed {
  name: string;
  text: string;
}

function scenarioSeeds(): ScenarioSeed[] {
  return SEED_FOLDERS.flatMap((folder) => repoFilesIn(folder, '.yaml')).map((file) => ({ name: basename(file), text: readFileSync(repoPath(file), 'utf8') }));
}

const PARAM_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'x', 'sample', 'componentId', 'osVersion', '', 'a-b', 'a.b', 'é'];

const ODD_VALUES: readonly unknown[] = [
  null, true, false, 0, -0, 1, -1, 0.5, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, -1e308, 5e-324,
  '', ' ', 'true', 'false', 'TRUE', 'null', ' 7 ', '7.', '.5', '1e3', '1e309', '-1e309', '0x10', 'NaN', 'Infinity', '--1', '+5', '1_0',
  '{{params.sample}}', '{{params.__proto__}}', '\u0000', '\ud800', 'é', 'x'.repeat(5000), '4c5d6e7f-8091-4aab-9cde-3f4a5b6c7d8e',
  [], [1], {}, { a: 1 }, [[[]]],
];

/** A value in the neighbourhood of what `spec` accepts, or anything odd. */
function valueFor(rng: Random, spec: ParamSpec | undefined): unknown {
  if (!spec || rng.chance(0.4)) return rng.pick(ODD_VALUES);
  const near: unknown[] = [];
  if (spec.default !== undefined) near.push(spec.default, String(spec.default));
  if (spec.enum) near.push(...spec.enum, ...spec.enum.map(String));
  for (const bound of [spec.minimum, spec.maximum]) {
    if (bound !== undefined) near.push(bound, bound - 1, bound + 1, String(bound), bound + 0.5);
  }
  if (spec.type === 'boolean') near.push(true, false, 'true', 'false');
  if (spec.type === 'integer' || spec.type === 'number') near.push(rng.pick(INTERESTING_NUMBERS), Number(rng.pick(INTERESTING_NUMBERS)));
  if (spec.type === 'string') near.push('x', rng.pick(INTERESTING_NUMBERS));
  return near.length ? rng.pick(near) : rng.pick(ODD_VALUES);
}

/** JSON of an object whose own keys may include '__proto__' (as JSON.parse of a request body gives). */
function paramsJson(rng: Random, scenario: Scenario): string {
  const entries: Array<[string, unknown]> = [];
  for (const [name, spec] of Object.entries(scenario.params)) if (rng.chance(0.7)) entries.push([name, valueFor(rng, spec)]);
  for (let i = 0, n = rng.chance(0.3) ? rng.smallCount(3) : 0; i < n; i++) entries.push([rng.pick(PARAM_NAMES), valueFor(rng, undefined)]);
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',')}}`;
}

export const scenarioYamlTarget: FuzzTarget = {
  name: 'scenario-yaml',
  async prepare() {
    const library = new StepLibrary(BUILTIN_STEPS);
    const seeds = scenarioSeeds();
    if (seeds.length === 0) throw new Error('scenario-yaml: no seed scenarios found');
    const texts = seeds.map((s) => s.text);
    const dictionary = [...YAML_TOKENS, ...wordsOf(texts), ...library.names()];
    const withParams = new Map<string, Scenario>();
    for (const seed of seeds) {
      const scenario = parseScenario(seed.text, seed.name, library);
      if (Object.keys(scenario.params).length) withParams.set(seed.name, scenario);
    }
    const paramScenarios = [...withParams.values()];

    const check = (scenario: Scenario, given: Record<string, unknown>): void => {
      checkResolvedSteps(scenario, resolveRunParams(scenario, given), library);
    };

    return {
      seedCount: seeds.length,
      generate: (rng) => {
        if (paramScenarios.length && rng.chance(1 / 3)) {
          const scenario = rng.pick(paramScenarios);
          return Buffer.from(`${PARAMS_PREFIX}${scenario.source}\n${paramsJson(rng, scenario)}`, 'utf8');
        }
        return Buffer.from(mutateYaml(rng, rng.pick(texts), texts, { dictionary }), 'utf8');
      },
      run: (input) => {
        const text = input.toString('utf8');
        if (text.startsWith(PARAMS_PREFIX)) {
          const newline = text.indexOf('\n');
          const scenario = withParams.get(text.slice(PARAMS_PREFIX.length, newline));
          if (scenario) {
            check(scenario, JSON.parse(text.slice(newline + 1)) as Record<string, unknown>);
            return;
          }
        }
        check(parseScenario(text, 'fuzz-scenario.yaml', library), {});
      },
      isRejection: (error) => error instanceof InputError && SCENARIO_ERROR_CODES.has(error.code),
    };
  },
};
