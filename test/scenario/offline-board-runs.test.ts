import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BoardIdentity } from '../../src/device/board.js';
import { OfflineBoard } from '../../src/device/offline-board.js';
import { generateSigningRoles, type RoleKeys } from '../../src/pki/signing-roles.js';
import { queuedRunRecord, type RunRecord } from '../../src/scenario/run-record.js';
import type { RunServices } from '../../src/scenario/run-context.js';
import { runScenario } from '../../src/scenario/runner.js';
import { parseScenario } from '../../src/scenario/scenario.js';
import { StepLibrary } from '../../src/scenario/step-library.js';
import { BUILTIN_STEPS } from '../../src/scenario/steps/index.js';

/** Runs on boards the runner needs no emulator for: what it records and what steps refuse before touching the board. */
describe('scenario runs on a board without an emulator', function () {
  this.timeout(60_000);
  const library = new StepLibrary(BUILTIN_STEPS);
  let keys: RoleKeys[];
  let services: RunServices;

  before(async () => {
    keys = await generateSigningRoles();
    services = { signingKeys: async () => keys, workDir: mkdtempSync(join(tmpdir(), 'sphere-rig-run-')) };
  });

  after(() => rmSync(services.workDir, { recursive: true, force: true }));

  const identity = (driver: BoardIdentity['driver']): BoardIdentity => ({ id: `${driver}-1`, driver, deviceId: null, usbSerial: null, tags: [], tenant: null });

  function run(board: OfflineBoard, yaml: string): Promise<RunRecord> {
    const scenario = parseScenario(yaml, 'inline.yaml', library);
    const record = queuedRunRecord({ id: 'run-1', scenario: scenario.name, scenarioDigest: '', boardId: board.identity.id });
    return runScenario({ record, scenario, board, library, services, versions: { daemonVersion: '1.2.3', emulatorVersion: '9.9.9' } });
  }

  it('records no emulator version for a run on a real (mt3620) board, and the emulator\'s for an emulated one', async () => {
    const yaml = 'name: nothing\nsteps:\n  - type: wait\n    ms: 0\n';
    const real = await run(new OfflineBoard(identity('mt3620'), 'not plugged in'), yaml);
    expect(real.verdict).to.equal('passed');
    expect(real.provenance).to.include({ daemonVersion: '1.2.3', emulatorVersion: null });
    const emulated = await run(new OfflineBoard(identity('emulated'), 'emulator stopped'), yaml);
    expect(emulated.provenance).to.include({ daemonVersion: '1.2.3', emulatorVersion: '9.9.9' });
  });

  it('refuses recover withCapability, as an infrastructure error, when the rig does not know the board\'s device ID', async () => {
    const record = await run(
      new OfflineBoard(identity('mt3620'), 'not plugged in'),
      'name: recover-with-capability\nsteps:\n  - type: recover\n    osVersion: "22.11"\n    securityVersion: 1\n    withCapability: [11]\n',
    );
    expect(record.verdict).to.equal('infra-error');
    const step = record.steps[0]!;
    expect(step).to.include({ type: 'recover', verdict: 'infra-error', errorCode: 'device-id-unknown', attempts: 1 });
    expect(step.message).to.match(/withCapability needs the board's device ID/);
  });
});
