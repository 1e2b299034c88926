import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { runToJson } from '../../src/daemon/json-report.js';
import { EmulatedBoardDriver } from '../../src/device/emulated/emulated-board-driver.js';
import { loadSigningRoles } from '../../src/pki/signing-roles.js';
import { runScenario } from '../../src/scenario/runner.js';
import { queuedRunRecord, type RunRecord } from '../../src/scenario/run-record.js';
import { parseScenario } from '../../src/scenario/scenario.js';
import { StepLibrary } from '../../src/scenario/step-library.js';
import { BUILTIN_STEPS } from '../../src/scenario/steps/index.js';
import { EmulatorProcess } from '../helpers/emulator-process.js';

/** The collect-device-log step: GET /log through the board's REST endpoint, decoded, attached, checked. */
const APP_ID = '4d2f8b63-5b5c-4e1b-8c8f-6b2a3f4e5d6c';

describe('scenario step collect-device-log on an emulated board', function () {
  this.timeout(120_000);
  let emulator: EmulatorProcess;
  let board: EmulatedBoardDriver;
  let workDir: string;
  const library = new StepLibrary(BUILTIN_STEPS);

  before(async () => {
    emulator = await EmulatorProcess.start({ boards: 1, poweredOff: false });
    board = await EmulatedBoardDriver.connect({ id: 'emu-1', tags: ['emulated'], tenant: null }, emulator.boards[0]!);
    workDir = mkdtempSync(join(tmpdir(), 'sphere-rig-device-log-run-'));
  });

  after(async () => {
    await board?.close();
    await emulator?.stop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  async function run(yaml: string): Promise<RunRecord> {
    const keys = await loadSigningRoles(join(emulator.stateDir, 'keys'));
    const scenario = parseScenario(yaml, 'inline.yaml', library);
    const record = queuedRunRecord({ id: `run-${scenario.name}`, scenario: scenario.name, scenarioDigest: '', boardId: 'emu-1' });
    return runScenario({ record, scenario, board, library, services: { signingKeys: async () => keys, workDir } });
  }

  const scenario = (expectations: string) => `
name: device-log-${expectations ? 'expect' : 'plain'}
setup:
  - type: build-capability
    artefact: servicing
    capabilities: [13]
  - type: build-app
    artefact: crasher
    appName: Log Crasher
    componentId: ${APP_ID}
    behaviour: { crash: { afterMs: 10, signal: 11 } }
steps:
  - type: expect-state
    state: ready
  - type: install
    artefact: crasher
  - type: collect-device-log
    capability: servicing
    within: 20000
${expectations}
`;

  it('attaches the decoded log to the run record and its JSON report, and passes when every expected entry is there', async () => {
    const record = await run(
      scenario(`    expect:
      - { module: appman_init, message: LoggerStarted }
      - { module: gatewayd, message: 169, match: 'osversion: 22\\.11' }
      - { module: appman, message: ProcessSignaled, match: 'signal_number: 11' }`),
    );
    expect(record.verdict, `${record.reason}`).to.equal('passed');
    const step = record.steps.find((s) => s.type === 'collect-device-log')!;
    expect(step.measurements.map((m) => [m.name, m.passed])).to.deep.include.members([
      ['appman_init/LoggerStarted entries', true],
      ['gatewayd/169 ~ osversion: 22\\.11 entries', true],
      ['appman/ProcessSignaled ~ signal_number: 11 entries', true],
    ]);
    const capture = record.deviceLog![0]!;
    expect(capture).to.include({ bytes: 16 * 4096, omitted: 0 });
    expect(capture.entries.length).to.equal(capture.entryCount);
    const crash = capture.entries.find((e) => e.module === 'appman' && e.messageName === 'ProcessSignaled');
    expect(crash).to.deep.include({ priority: 'Warning', messageId: 111, params: { app_id: APP_ID, signal_number: 11, signal_code: 0 } });
    const report = JSON.parse(runToJson(record)) as RunRecord;
    expect(report.deviceLog![0]!.entries.some((e) => e.module === 'appman_init' && e.messageName === 'LoggerStarted')).to.equal(true);
  });

  it('fails (test-failed) when an expected entry is missing, naming it, and still attaches the log', async () => {
    const record = await run(
      scenario(`    expect:
      - { module: rebooter, message: FailedReboot }`).replace('within: 20000', 'within: 0'),
    );
    expect(record.verdict).to.equal('test-failed');
    expect(record.reason).to.match(/rebooter\/FailedReboot entries/);
    expect(record.deviceLog).to.have.length(1);
  });
});
