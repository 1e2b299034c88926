import { expect } from 'chai';
import { disconnect, EmulatorProcess, type ConnectedBoard, powerOnAndWaitForServices } from '../helpers/emulator-process.js';
import { b64, RigKeys } from '../helpers/rig-keys.js';

const APP_ID = '5f3c2b1a-0e9d-4c8b-a7f6-e5d4c3b2a190';

describe('emulated board: app faults, hangs, clock and speed', function () {
  this.timeout(60_000);
  let emulator: EmulatorProcess;
  let board: ConnectedBoard;

  afterEach(async () => {
    await disconnect(board);
    await emulator.stop();
  });

  async function up(speed: 'fast' | 'real' = 'fast'): Promise<void> {
    emulator = await EmulatorProcess.start({ boards: 1, speed });
    board = await emulator.connect(0);
  }

  it('restarts a killed app as the OS does and reports the crash', async () => {
    await up();
    await board.control.request('timings', { healthWindowMs: 10, appRestartMs: 10 });
    await powerOnAndWaitForServices(board);
    const keys = await RigKeys.of(emulator.stateDir);
    await board.control.request('install', { images: b64([keys.app({ name: 'Victim', componentId: APP_ID })]) });
    await board.console.expect(`[OS] app ${APP_ID} update committed`, { timeoutMs: 10_000 });
    const since = board.console.mark();
    await board.control.request('kill-app', { componentId: APP_ID, signal: 9 });
    await board.console.expect(`[APP] ${APP_ID} crashed with signal 9`, { timeoutMs: 10_000, since });
    await board.console.expect(`[APP] ${APP_ID} restarted`, { timeoutMs: 10_000, since });
    const report = (await board.control.request('error-report', {})) as { events: Array<{ eventClass: string; count: number; description: string }> };
    const crash = report.events.find((e) => e.eventClass === 'AppCrash');
    expect(crash?.count).to.equal(1);
    expect(crash?.description).to.contain('signal_status=9');
  });

  it('hangs at a boot stage and is reset by the watchdog', async () => {
    await up();
    await board.control.request('timings', { watchdogMs: 50 });
    await board.control.request('hang', { stage: 'SM' });
    const since = board.console.mark();
    await board.control.request('power', { on: true });
    await board.console.expect('[WDT] watchdog reset', { timeoutMs: 10_000, since });
    const lines = board.console.lines(since).map((l) => l.text);
    expect(lines.some((l) => l.startsWith('[PLUTON] verified SecurityMonitor '))).to.equal(true);
    expect(lines.some((l) => l.startsWith('[SM]'))).to.equal(false);
    await board.control.request('hang', { stage: null });
    await board.console.expect('[OS] services up', { timeoutMs: 10_000, since });
  });

  it('jumps board time forward on request', async () => {
    await up();
    const before = (await board.control.request('clock', {})) as { boardTime: string };
    const after = (await board.control.request('clock', { advanceMs: 25 * 3600_000 })) as { boardTime: string; offsetMs: number };
    expect(Date.parse(after.boardTime) - Date.parse(before.boardTime)).to.be.at.least(25 * 3600_000);
    expect(after.offsetMs).to.equal(25 * 3600_000);
  });

  it('keeps real-board boot timings under --speed real', async () => {
    await up('real');
    const since = board.console.mark();
    const started = Date.now();
    await board.control.request('power', { on: true });
    await board.console.expect('[OS] services up', { timeoutMs: 20_000, since });
    const elapsed = Date.now() - started;
    // 18 lines before services up at 150 ms each.
    expect(elapsed).to.be.at.least(2_500);
    const lines = board.console.lines(since);
    expect(lines.at(-1)!.timestamp - lines[0]!.timestamp).to.be.at.least(2_400);
  });
});
