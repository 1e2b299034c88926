import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { EmulatedBoardDriver } from '../../src/device/emulated/emulated-board-driver.js';
import { rawSignerFor } from '../../src/pki/raw-signer.js';
import { findSigningRole, loadSigningRoles, SIGNING_ROLES } from '../../src/pki/signing-roles.js';
import { runScenario, type RunObserver } from '../../src/scenario/runner.js';
import { queuedRunRecord, type RunRecord } from '../../src/scenario/run-record.js';
import { parseScenario } from '../../src/scenario/scenario.js';
import { ScenarioCatalog } from '../../src/scenario/scenario-catalog.js';
import { resolveRunParams } from '../../src/scenario/scenario-params.js';
import { StepLibrary } from '../../src/scenario/step-library.js';
import { defineStep, type StepType } from '../../src/scenario/step-type.js';
import { BUILTIN_STEPS } from '../../src/scenario/steps/index.js';
import { RigError } from '../../src/util/failure.js';
import { EmulatorProcess } from '../helpers/emulator-process.js';

/** Test-only step types that fail in controlled ways, to pin the runner's rules. */
let flakyCalls = 0;
const TEST_STEPS = [
  defineStep<{ times: number }>({
    type: 'flaky-infra',
    description: 'fails with infra-error the first `times` calls',
    schema: { required: ['times'], properties: { times: { type: 'integer' } } },
    defaultTimeoutMs: 1000,
    run: async ({ times }) => {
      flakyCalls += 1;
      if (flakyCalls <= times) throw new RigError('infra-error', 'flaky', `flaky call ${flakyCalls}`);
    },
  }),
  defineStep<{ failureClass: string }>({
    type: 'fail',
    description: 'fails with a given class',
    schema: { required: ['failureClass'], properties: { failureClass: { type: 'string' } } },
    defaultTimeoutMs: 1000,
    run: async ({ failureClass }) => {
      throw new RigError(failureClass as never, 'forced', `forced ${failureClass}`);
    },
  }),
  defineStep<Record<string, never>>({
    type: 'never-ends',
    description: 'ignores its signal and never ends',
    schema: { properties: {} },
    defaultTimeoutMs: 200,
    run: () => new Promise<void>(() => undefined),
  }),
  defineStep<{ value: number }>({
    type: 'measure',
    description: 'records a measurement with limits 0..10',
    schema: { required: ['value'], properties: { value: { type: 'number' } } },
    defaultTimeoutMs: 1000,
    run: async ({ value }, context) => {
      context.measure('value', value, { unit: 'V', min: 0, max: 10 });
    },
  }),
  defineStep<{ steps: number }>({
    type: 'counts',
    description: 'notes "k of n done" for each of its steps',
    schema: { required: ['steps'], properties: { steps: { type: 'integer' } } },
    defaultTimeoutMs: 1000,
    run: async ({ steps }, context) => {
      for (let k = 1; k <= steps; k++) context.note(`${k} of ${steps} done`);
    },
  }),
] as unknown as StepType<never>[];

describe('scenario runner on an emulated board', function () {
  this.timeout(600_000);
  let emulator: EmulatorProcess;
  let board: EmulatedBoardDriver;
  const library = new StepLibrary([...BUILTIN_STEPS, ...TEST_STEPS]);
  let services: { signingKeys: () => ReturnType<typeof loadSigningRoles>; workDir: string };

  before(async () => {
    emulator = await EmulatorProcess.start({ boards: 1, poweredOff: false });
    board = await EmulatedBoardDriver.connect({ id: 'emu-1', tags: ['emulated'], tenant: null }, emulator.boards[0]!);
    const keys = await loadSigningRoles(join(emulator.stateDir, 'keys'));
    services = { signingKeys: async () => keys, workDir: mkdtempSync(join(tmpdir(), 'sphere-rig-run-')) };
  });

  after(async () => {
    await board?.close();
    await emulator?.stop();
  });

  let runCount = 0;
  function newRecord(scenario: string, params: Record<string, unknown> = {}): RunRecord {
    runCount += 1;
    return queuedRunRecord({ id: `run-${runCount}`, scenario, scenarioDigest: '', boardId: 'emu-1', params });
  }

  async function run(yaml: string, options: { signal?: AbortSignal; params?: Record<string, unknown>; observer?: RunObserver } = {}): Promise<RunRecord> {
    const scenario = parseScenario(yaml, 'inline.yaml', library);
    return runScenario({ record: newRecord(scenario.name, options.params), scenario, board, library, services, signal: options.signal, observer: options.observer });
  }

  describe('rules', () => {
    it('retries a step only on infrastructure errors, and says how many attempts it took', async () => {
      flakyCalls = 0;
      const passed = await run('name: retry\nsteps:\n  - type: flaky-infra\n    times: 2\n    retries: 2\n');
      expect(passed.verdict).to.equal('passed');
      expect(passed.steps[0]!.attempts).to.equal(3);
      const failed = await run('name: no-retry\nsteps:\n  - type: fail\n    failureClass: test-failed\n    retries: 3\n');
      expect(failed.verdict).to.equal('test-failed');
      expect(failed.steps[0]!.attempts).to.equal(1);
    });

    it('tells the observer each progress note of a running step, as it is made', async () => {
      const seen: string[] = [];
      const observer: RunObserver = {
        stepStarted: (_r, step) => seen.push(`started ${step.name}`),
        stepProgress: (_r, step, message) => seen.push(`${step.status} ${step.name}: ${message}`),
        stepEnded: (_r, step) => seen.push(`ended ${step.name}: ${step.message}`),
      };
      const record = await run('name: progress\nsteps:\n  - type: counts\n    name: count\n    steps: 3\n', { observer });
      expect(record.verdict).to.equal('passed');
      expect(seen).to.deep.equal(['started count', 'running count: 1 of 3 done', 'running count: 2 of 3 done', 'running count: 3 of 3 done', 'ended count: 3 of 3 done']);
    });

    it('stops at the first failure, skips the rest, and always runs teardown', async () => {
      const record = await run(
        'name: stop\nsteps:\n  - type: fail\n    failureClass: device-fault\n  - type: measure\n    value: 1\nteardown:\n  - type: measure\n    value: 2\n',
      );
      expect(record.verdict).to.equal('device-fault');
      expect(record.steps.map((s) => s.status)).to.deep.equal(['finished', 'skipped', 'finished']);
      expect(record.steps[2]!.verdict).to.equal('passed');
      expect(record.reason).to.match(/forced device-fault/);
    });

    it('times out a step that never ends, even one that ignores its signal', async () => {
      const record = await run('name: slow\nsteps:\n  - type: never-ends\n');
      expect(record.verdict).to.equal('timeout');
      expect(record.steps[0]!.message).to.match(/timed out after 200 ms/);
    });

    it('fails a step whose measurement is outside its limits, with value, unit and limits recorded', async () => {
      const record = await run('name: measure\nsteps:\n  - type: measure\n    value: 11\n');
      expect(record.verdict).to.equal('test-failed');
      expect(record.steps[0]!.measurements[0]).to.deep.include({ name: 'value', value: 11, unit: 'V', passed: false });
      expect(record.steps[0]!.measurements[0]!.limits).to.deep.include({ min: 0, max: 10 });
    });

    it('ends cancelled when its signal is aborted, and still runs teardown', async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const record = await run('name: cancel\nsteps:\n  - type: wait\n    ms: 60000\nteardown:\n  - type: measure\n    value: 1\n', { signal: controller.signal });
      expect(record.verdict).to.equal('cancelled');
      expect(record.steps[1]!.verdict).to.equal('passed');
    });

    it('refuses a scenario with an unknown step type or bad parameters, naming the file and path', () => {
      expect(() => parseScenario('name: x\nsteps:\n  - type: levitate\n', 'x.yaml', library)).to.throw(/x\.yaml: at \$\.steps\[0\]: unknown step type 'levitate'/);
      expect(() => parseScenario('name: x\nsteps:\n  - type: power\n    on: maybe\n', 'x.yaml', library)).to.throw(/x\.yaml: at \$\.steps\[0\] \(power\): at \$\.on: must be boolean/);
      expect(() => parseScenario('name: x\nsteps: [\n', 'x.yaml', library)).to.throw(/x\.yaml \(line \d+\): not valid YAML/);
    });
  });

  describe('built-in scenarios', () => {
    const catalog = () => new ScenarioCatalog(library);

    for (const name of ['boot-smoke', 'update-rollback', 'downgrade', 'crash-report']) {
      it(`${name} passes`, async () => {
        const scenario = catalog().get(name);
        // As the daemon does at submission: declared defaults filled in.
        const record = await runScenario({ record: newRecord(name, resolveRunParams(scenario, {})), scenario, board, library, services });
        expect(record.verdict, `${record.reason}\n${JSON.stringify(record.steps.map((s) => [s.name, s.verdict, s.message]))}`).to.equal('passed');
        expect(record.provenance?.board.deviceId).to.match(/^[0-9a-f]{128}$/);
        // Every signed artefact names its signer by subject and by the SHA-1 thumbprint of one of the rig's certificates.
        const keys = await services.signingKeys();
        const thumbprints = SIGNING_ROLES.map((role) => rawSignerFor(findSigningRole(keys, role)).thumbprint.toString('hex'));
        for (const artefact of record.provenance!.artefacts.filter((a) => a.signer)) {
          expect(artefact.signerThumbprint, artefact.name).to.be.oneOf(thumbprints);
        }
        if (name === 'update-rollback') expect(record.provenance!.artefacts.filter((a) => a.signerThumbprint)).to.not.be.empty;
      });
    }

    it('power-cut-update passes on a sample of cut points and says how many it checked', async () => {
      const scenario = catalog().get('power-cut-update');
      const record = await runScenario({ record: newRecord('power-cut-update', resolveRunParams(scenario, { sample: '8' })), scenario, board, library, services });
      expect(record.verdict, record.reason ?? '').to.equal('passed');
      const sweep = record.steps.find((s) => s.type === 'power-cut-sweep')!;
      expect(sweep.measurements.find((m) => m.name === 'cut points checked')?.value).to.equal(8);
      expect(sweep.message).to.match(/checked 8 of \d+ cut points/);
    });
  });
});
