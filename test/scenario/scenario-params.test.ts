import { expect } from 'chai';
import { parseScenario, resolveTemplates, type Scenario, type StepDefinition } from '../../src/scenario/scenario.js';
import { ScenarioCatalog } from '../../src/scenario/scenario-catalog.js';
import { checkResolvedSteps, resolveRunParams } from '../../src/scenario/scenario-params.js';
import { StepLibrary } from '../../src/scenario/step-library.js';
import { BUILTIN_STEPS } from '../../src/scenario/steps/index.js';
import { InputError } from '../../src/util/failure.js';

/** The InputError `fn` throws (failing the test when it throws nothing or something else). */
function inputErrorOf(fn: () => unknown): InputError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(InputError);
    return error as InputError;
  }
  return expect.fail('expected an InputError') as never;
}

/** What the runner hands a step's type: its fields without the common ones, templates resolved. */
function ownParams(step: StepDefinition, params: Record<string, unknown>): Record<string, unknown> {
  const { type: _t, name: _n, timeoutMs: _tm, retries: _r, continueOnFailure: _c, ...own } = step;
  return resolveTemplates(own, params);
}

describe('scenario parameters', () => {
  const library = new StepLibrary(BUILTIN_STEPS);
  const parse = (yaml: string, source = 'inline.yaml'): Scenario => parseScenario(yaml, source, library);
  const catalog = new ScenarioCatalog(library);

  describe('declarations', () => {
    it('reads the declared form and the shorthand default, inferring the shorthand type', () => {
      const scenario = parse(
        [
          'name: p',
          'params:',
          '  count: { type: integer, description: how many, minimum: 1, maximum: 9, required: true }',
          '  mode: { type: string, description: which mode, enum: [fast, slow], default: fast }',
          '  label: hello',
          '  retries: 3',
          '  ratio: 2.5',
          '  verbose: false',
          'steps:',
          '  - type: wait',
          '    ms: 0',
        ].join('\n'),
      );
      expect(scenario.params).to.deep.equal({
        count: { type: 'integer', description: 'how many', required: true, minimum: 1, maximum: 9 },
        mode: { type: 'string', description: 'which mode', required: false, enum: ['fast', 'slow'], default: 'fast' },
        label: { type: 'string', description: '', required: false, default: 'hello' },
        retries: { type: 'integer', description: '', required: false, default: 3 },
        ratio: { type: 'number', description: '', required: false, default: 2.5 },
        verbose: { type: 'boolean', description: '', required: false, default: false },
      });
      expect(parse('name: none\nsteps:\n  - type: wait\n    ms: 0\n').params).to.deep.equal({});
    });

    it('refuses a bad declaration, naming the file and the field', () => {
      const withParams = (block: string) => `name: p\nparams:\n${block}\nsteps:\n  - type: wait\n    ms: 0\n`;
      const cases: Array<[string, RegExp]> = [
        ['  n: { type: int, description: d }', /p\.yaml: at \$\.params\.n\.type: must be one of string, integer, number, boolean, got "int"/],
        ['  n: { type: integer }', /p\.yaml: at \$\.params\.n\.description: must be a non-empty string/],
        ['  n: { type: integer, description: d, default: abc }', /p\.yaml: at \$\.params\.n\.default: must be an integer, got "abc"/],
        ['  n: { type: integer, description: d, minimum: 5, default: 2 }', /p\.yaml: at \$\.params\.n\.default: must be an integer >= 5, got 2/],
        ['  n: { type: integer, description: d, required: true, default: 2 }', /p\.yaml: at \$\.params\.n\.required: a parameter with a default is not required/],
        ['  n: { type: string, description: d, minimum: 1 }', /p\.yaml: at \$\.params\.n\.minimum: only an integer or number parameter has a minimum/],
        ['  n: { type: string, description: d, pattern: "(" }', /p\.yaml: at \$\.params\.n\.pattern: not a valid regular expression/],
        ['  n: { type: string, description: d, enum: [a, 2] }', /p\.yaml: at \$\.params\.n\.enum\[1\]: must be a string, got 2/],
        ['  n: { type: string, description: d, defualt: x }', /p\.yaml: at \$\.params\.n\.defualt: unknown field/],
        ['  n: null', /p\.yaml: at \$\.params\.n: a shorthand default must be a string, number or boolean, got null/],
      ];
      for (const [block, message] of cases) {
        const error = inputErrorOf(() => parse(withParams(block), 'p.yaml'));
        expect(error.code, block).to.equal('scenario-invalid');
        expect(error.message, block).to.match(message);
      }
    });

    it('refuses a template naming an undeclared parameter, naming the step field', () => {
      const error = inputErrorOf(() =>
        parse('name: p\nparams:\n  ms: { type: integer, description: d, default: 1 }\nsteps:\n  - type: wait\n    ms: 0\n  - type: wait\n    ms: "{{params.msec}}"\n', 'p.yaml'),
      );
      expect(error.code).to.equal('scenario-invalid');
      expect(error.message).to.match(/p\.yaml: at \$\.steps\[1\]\.ms: \{\{params\.msec\}\} names no declared parameter \(declared: ms\)/);
    });

    it('still checks the fields of a step that holds no template, and does not call a templated required field missing', () => {
      const head = 'name: p\nparams:\n  id: { type: string, description: d }\nsteps:\n  - type: build-app\n    artefact: a\n    appName: A\n    componentId: "{{params.id}}"\n';
      expect(() => parse(head)).to.not.throw();
      const error = inputErrorOf(() => parse(`${head}    development: yes-please\n`));
      expect(error.code).to.equal('step-params-invalid');
      expect(error.message).to.match(/inline\.yaml: at \$\.steps\[0\] \(build-app\): at \$\.development: must be boolean/);
    });
  });

  describe('values of a run', () => {
    const recovery = () => catalog.get('recovery');
    const powerCut = () => catalog.get('power-cut-update');

    it('refuses an unknown parameter, listing the scenario\'s declared ones (or saying it takes none)', () => {
      const unknown = inputErrorOf(() => resolveRunParams(powerCut(), { foo: 'bar' }));
      expect(unknown.code).to.equal('param-unknown');
      expect(unknown.message).to.match(/scenario power-cut-update: unknown parameter foo; its parameters are sample \(integer\)/);
      const none = inputErrorOf(() => resolveRunParams(catalog.get('boot-smoke'), { sample: '3' }));
      expect(none.code).to.equal('param-unknown');
      expect(none.message).to.match(/scenario boot-smoke: unknown parameter sample; it takes no parameters/);
    });

    it('refuses a value that is not of the declared type or outside its bounds', () => {
      const abc = inputErrorOf(() => resolveRunParams(powerCut(), { sample: 'abc' }));
      expect(abc.code).to.equal('param-invalid');
      expect(abc.message).to.equal('scenario power-cut-update: parameter sample must be an integer >= 1 and <= 100000, got "abc"');
      expect(inputErrorOf(() => resolveRunParams(powerCut(), { sample: 2.5 })).message).to.match(/parameter sample must be an integer/);
      expect(inputErrorOf(() => resolveRunParams(powerCut(), { sample: '0' })).message).to.match(/parameter sample must be an integer >= 1 .*, got "0"/);
    });

    it('coerces a value given as text to the declared type', () => {
      expect(resolveRunParams(powerCut(), { sample: '3' })).to.deep.equal({ sample: 3 });
      const scenario = parse(
        'name: p\nparams:\n  ratio: { type: number, description: r }\n  on: { type: boolean, description: o }\n  label: { type: string, description: l }\nsteps:\n  - type: wait\n    ms: 0\n',
      );
      expect(resolveRunParams(scenario, { ratio: '2.5', on: 'false', label: 7 })).to.deep.equal({ ratio: 2.5, on: false, label: '7' });
      expect(inputErrorOf(() => resolveRunParams(scenario, { on: 'yes' })).message).to.match(/scenario p: parameter on must be true or false, got "yes"/);
    });

    it('refuses an OS version that does not match recovery\'s pattern', () => {
      const error = inputErrorOf(() => resolveRunParams(recovery(), { osVersion: 'abc' }));
      expect(error.code).to.equal('param-invalid');
      expect(error.message).to.match(/scenario recovery: parameter osVersion must be a string matching .*, got "abc"/);
      expect(resolveRunParams(recovery(), { osVersion: '26.03' })).to.deep.equal({ osVersion: '26.03' });
    });

    it('fills in defaults, and refuses a missing required parameter', () => {
      expect(resolveRunParams(recovery(), {})).to.deep.equal({ osVersion: '25.01' });
      const scenario = parse('name: p\nparams:\n  ms: { type: integer, description: how long, required: true }\nsteps:\n  - type: wait\n    ms: "{{params.ms}}"\n');
      const error = inputErrorOf(() => resolveRunParams(scenario, {}));
      expect(error.code).to.equal('param-invalid');
      expect(error.message).to.match(/scenario p: parameter ms is required/);
    });

    it('leaves power-cut-update\'s optional sample out of its sweep step when not given, so every cut point is checked', () => {
      const scenario = powerCut();
      const sweep = scenario.steps.find((s) => s.type === 'power-cut-sweep')!;
      const none = resolveRunParams(scenario, {});
      expect(none).to.deep.equal({});
      expect(ownParams(sweep, none)).to.deep.equal({ from: 'blue', to: 'green' });
      expect(() => checkResolvedSteps(scenario, none, library)).to.not.throw();
      const four = resolveRunParams(scenario, { sample: '4' });
      expect(ownParams(sweep, four)).to.deep.equal({ from: 'blue', to: 'green', sample: 4 });
      expect(() => checkResolvedSteps(scenario, four, library)).to.not.throw();
    });

    it('powers the board back on first in power-cut-update\'s teardown', () => {
      expect(powerCut().teardown?.[0]).to.deep.equal({ name: 'power back on', type: 'power', on: true });
    });
  });

  describe('steps after substitution', () => {
    it('refuses a step that fits its schema only as written, naming the scenario, step and field', () => {
      const scenario = parse(
        'name: p\nparams:\n  id: { type: string, description: component ID, default: not-a-guid }\nsteps:\n  - type: wait\n    ms: 0\n  - type: build-app\n    artefact: a\n    appName: A\n    componentId: "{{params.id}}"\n',
      );
      const error = inputErrorOf(() => checkResolvedSteps(scenario, resolveRunParams(scenario, {}), library));
      expect(error.code).to.equal('step-params-invalid');
      expect(error.message).to.match(/scenario p: at \$\.steps\[1\] \(build-app\): at \$\.componentId: must match pattern/);
    });

    it('refuses a required step field whose parameter has no value', () => {
      const scenario = parse('name: p\nparams:\n  ms: { type: integer, description: how long }\nsteps:\n  - type: wait\n    ms: "{{params.ms}}"\n');
      const error = inputErrorOf(() => checkResolvedSteps(scenario, resolveRunParams(scenario, {}), library));
      expect(error.code).to.equal('step-params-invalid');
      expect(error.message).to.match(/scenario p: at \$\.steps\[0\] \(wait\): at \$: must have required property 'ms'/);
      expect(() => checkResolvedSteps(scenario, resolveRunParams(scenario, { ms: '5' }), library)).to.not.throw();
    });

    it('refuses a template inside a longer string whose parameter has no value, instead of keeping it as written', () => {
      const scenario = parse("name: p\nparams:\n  v: { type: string, description: version }\nsteps:\n  - type: expect-console\n    pattern: 'OS {{params.v}} up'\n");
      const error = inputErrorOf(() => checkResolvedSteps(scenario, resolveRunParams(scenario, {}), library));
      expect(error.code).to.equal('step-params-invalid');
      expect(error.message).to.match(/scenario p: at \$\.steps\[0\] \(expect-console\): at \$\.pattern: parameter v has no value/);
    });
  });

  describe('built-in scenarios', () => {
    for (const scenario of catalog.list()) {
      it(`${scenario.name} loads, and its defaults resolve and fit its steps`, () => {
        for (const [name, spec] of Object.entries(scenario.params)) expect(spec.description, `${scenario.name}: ${name}`).to.not.equal('');
        checkResolvedSteps(scenario, resolveRunParams(scenario, {}), library);
      });
    }
  });
});
