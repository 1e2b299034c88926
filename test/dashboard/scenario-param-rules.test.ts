import { expect } from 'chai';
import type { ScenarioParamDeclaration } from '../../src/dashboard/api-types.js';
import { checkParamInput, paramHint } from '../../src/dashboard/scenario-param-rules.js';

const declared = (fields: Partial<ScenarioParamDeclaration>): ScenarioParamDeclaration => ({ type: 'string', description: '', required: false, ...fields });

describe('dashboard: start-run form parameter checks', () => {
  it('leaves an empty optional field unset (not sent), and asks for a required one without default', () => {
    expect(checkParamInput('osVersion', declared({ default: '22.11' }), '  ')).to.deep.equal({ ok: true, value: undefined });
    expect(checkParamInput('osVersion', declared({ required: true, default: '22.11' }), '')).to.deep.equal({ ok: true, value: undefined });
    expect(checkParamInput('imageSet', declared({ required: true }), '')).to.deep.equal({ ok: false, message: 'imageSet is required' });
  });

  it('types integers, numbers and booleans, and names the field when the value does not fit', () => {
    const count = declared({ type: 'integer', minimum: 1, maximum: 10 });
    expect(checkParamInput('count', count, ' 7 ')).to.deep.equal({ ok: true, value: 7 });
    expect(checkParamInput('count', count, '2.5')).to.deep.equal({ ok: false, message: 'count must be a whole number' });
    expect(checkParamInput('count', count, 'x')).to.deep.equal({ ok: false, message: 'count must be a whole number' });
    expect(checkParamInput('count', count, '11')).to.deep.equal({ ok: false, message: 'count must be between 1 and 10' });
    expect(checkParamInput('count', declared({ type: 'integer', minimum: 0 }), '-1')).to.deep.equal({ ok: false, message: 'count must be at least 0' });
    expect(checkParamInput('ratio', declared({ type: 'number', maximum: 1 }), '0.25')).to.deep.equal({ ok: true, value: 0.25 });
    expect(checkParamInput('ratio', declared({ type: 'number', maximum: 1 }), '1.5')).to.deep.equal({ ok: false, message: 'ratio must be at most 1' });
    expect(checkParamInput('trial', declared({ type: 'boolean' }), 'false')).to.deep.equal({ ok: true, value: false });
  });

  it('checks patterns (unanchored, as JSON Schema) and enumerations', () => {
    const version = declared({ pattern: '^\\d+\\.\\d+$' });
    expect(checkParamInput('osVersion', version, '22.11')).to.deep.equal({ ok: true, value: '22.11' });
    expect(checkParamInput('osVersion', version, 'latest')).to.deep.equal({ ok: false, message: 'osVersion must match the pattern ^\\d+\\.\\d+$' });
    expect(checkParamInput('slot', declared({ enum: ['a', 'b'] }), 'c')).to.deep.equal({ ok: false, message: 'slot must be one of a, b' });
    expect(checkParamInput('level', declared({ type: 'integer', enum: [1, 2] }), '2')).to.deep.equal({ ok: true, value: 2 });
  });

  it('says in a few words what a field accepts', () => {
    expect(paramHint(declared({ type: 'integer', minimum: 1, maximum: 10 }))).to.equal('whole number, 1–10');
    expect(paramHint(declared({ pattern: '^\\d+$', required: true }))).to.equal('matches ^\\d+$, required');
    expect(paramHint(declared({ default: 'x' }))).to.equal('');
  });
});
