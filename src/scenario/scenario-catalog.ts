import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../util/failure.js';
import { parseScenario, type Scenario } from './scenario.js';
import type { StepLibrary } from './step-library.js';

/** The built-in scenarios ship in fixtures/scenarios/; a rig may add a folder of its own. */
export const BUILTIN_SCENARIO_DIR = fileURLToPath(new URL('../../fixtures/scenarios/', import.meta.url));

export class ScenarioCatalog {
  readonly #scenarios = new Map<string, Scenario>();

  constructor(
    private readonly library: StepLibrary,
    dirs: readonly string[] = [BUILTIN_SCENARIO_DIR],
  ) {
    for (const dir of dirs) this.loadDir(dir);
  }

  loadDir(dir: string): void {
    if (!existsSync(dir)) throw new InputError('scenario-dir-missing', `${dir}: no such scenario folder`);
    for (const file of readdirSync(dir).sort()) {
      if (!/\.ya?ml$|\.json$/.test(file)) continue;
      const path = join(dir, file);
      this.add(parseScenario(readFileSync(path, 'utf8'), path, this.library));
    }
  }

  add(scenario: Scenario): void {
    this.#scenarios.set(scenario.name, scenario);
  }

  get(name: string): Scenario {
    const scenario = this.#scenarios.get(name);
    if (!scenario) throw new InputError('scenario-unknown', `unknown scenario '${name}' (known: ${this.names().join(', ')})`);
    return scenario;
  }

  names(): string[] {
    return [...this.#scenarios.keys()].sort();
  }

  list(): Scenario[] {
    return this.names().map((n) => this.#scenarios.get(n)!);
  }
}
