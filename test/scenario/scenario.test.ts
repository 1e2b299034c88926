import { expect } from 'chai';
import { parseScenario } from '../../src/scenario/scenario.js';
import { StepLibrary } from '../../src/scenario/step-library.js';
import { BUILTIN_STEPS } from '../../src/scenario/steps/index.js';
import { InputError } from '../../src/util/failure.js';

describe('scenario YAML', () => {
  const library = new StepLibrary(BUILTIN_STEPS);
  const parse = (yaml: string) => parseScenario(yaml, 'fuzzed.yaml', library);

  function refusal(yaml: string): InputError {
    try {
      parse(yaml);
    } catch (error) {
      expect(error).to.be.instanceOf(InputError);
      return error as InputError;
    }
    return expect.fail('the scenario was accepted') as never;
  }

  // Found by `npm run fuzz -- --target scenario-yaml`: an alias inside the node it names made
  // templatesIn recurse until the stack overflowed (seconds later) and the error messages'
  // JSON.stringify throw a TypeError, instead of an InputError.
  it('refuses a YAML alias inside the node it names, naming where, instead of overflowing the stack', () => {
    const cases: Array<[string, string]> = [
      ['name: a\nparams:\n  x: &a [*a]\nsteps:\n  - type: wait\n    ms: 0\n', '$.params.x[0]'],
      ['name: a\nparams:\n  x: { type: string, description: d, default: &d [*d] }\nsteps:\n  - type: wait\n    ms: 0\n', '$.params.x.default[0]'],
      ['name: a\nsteps:\n  - type: wait\n    ms: &m { k: *m }\n', '$.steps[0].ms.k'],
      ['name: a\nsteps: &s\n  - type: wait\n    ms: 0\n  - type: set-os-trust\n    trusted: *s\n', '$.steps[1].trusted'],
      ['name: a\nsteps:\n  - &step { type: power-cycle, again: *step }\n', '$.steps[0].again'],
    ];
    for (const [yaml, where] of cases) {
      const started = Date.now();
      const error = refusal(yaml);
      expect(error.code, yaml).to.equal('scenario-invalid');
      expect(error.message).to.equal(`fuzzed.yaml: at ${where}: a YAML alias refers to a node that contains it; a scenario cannot contain itself`);
      expect(Date.now() - started).to.be.below(1000);
    }
  });

  it('still accepts aliases that only share a node', () => {
    const scenario = parse(
      [
        'name: shared',
        'steps:',
        '  - type: fault',
        '    kind: timings',
        '    timings: &t { healthWindowMs: 300, watchdogMs: 500 }',
        '  - type: fault',
        '    kind: timings',
        '    timings: *t',
      ].join('\n'),
    );
    expect(scenario.steps.map((s) => s.timings)).to.deep.equal([
      { healthWindowMs: 300, watchdogMs: 500 },
      { healthWindowMs: 300, watchdogMs: 500 },
    ]);
  });
});
