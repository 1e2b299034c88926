import { expect } from 'chai';
import { ControlError } from '../../src/device/emulated/control-client.js';
import { startBootedBoard } from '../helpers/booted-board.js';
import { disconnect, type ConnectedBoard, type EmulatorProcess } from '../helpers/emulator-process.js';
import { b64, type RigKeys } from '../helpers/rig-keys.js';
import { readFixture, TEST_APP } from '../helpers/fixtures.js';

const APP_ID = '3c1e7a52-4a4b-4d0a-9b7e-5a1f2e3d4c5b';

interface Info {
  state: string;
  osVersion: string | null;
  activeSlot: string | null;
  fuses: Record<string, number>;
  apps: Array<{ componentId: string; imageId: string; state: string; trial: boolean }>;
  flash: { operationCount: number; operationsSinceMark: number };
}

describe('emulated board: updates, trial boots, rollback and anti-rollback', function () {
  this.timeout(120_000);
  let emulator: EmulatorProcess;
  let board: ConnectedBoard;
  let keys: RigKeys;
  const info = async () => (await board.control.request('info', {})) as unknown as Info;

  beforeEach(async () => {
    ({ emulator, keys, board } = await startBootedBoard({ healthWindowMs: 50, watchdogMs: 20, appRestartMs: 10 }));
  });

  afterEach(async () => {
    await disconnect(board);
    await emulator.stop();
  });

  it('installs an OS update in the inactive slot, trial-boots it and raises the fuses only on commit', async () => {
    const before = await info();
    expect(Object.values(before.fuses)).to.deep.equal([]);
    const since = board.console.mark();
    const result = await board.control.request('install', { images: b64(keys.osSet('22.12', 2)) });
    expect(result).to.include({ kind: 'os', restartingSystem: true, slot: 'b' });
    await board.console.expect('[ROM] trial boot of slot b (2 tries left)', { timeoutMs: 10_000, since });
    await board.console.expect('[OS] update committed: OS 22.12 in slot b', { timeoutMs: 10_000, since });
    const after = await info();
    expect(after).to.include({ osVersion: '22.12', activeSlot: 'b' });
    expect(Object.values(after.fuses)).to.have.length(10);
    expect(Object.values(after.fuses).every((v) => v === 2)).to.equal(true);
  });

  it('refuses an image set below the fuse counter and changes nothing', async () => {
    await board.control.request('install', { images: b64(keys.osSet('22.12', 2)) });
    await board.console.expect('[OS] update committed: OS 22.12 in slot b', { timeoutMs: 10_000 });
    await board.control.request('flash-mark', {});
    const error = await board.control.request('install', { images: b64(keys.osSet('22.10', 1)) }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(ControlError);
    expect((error as ControlError).code).to.equal('device-error-7340056');
    expect((error as ControlError).message).to.match(/security version 1 is below the fuse counter 2/);
    const after = await info();
    expect(after).to.include({ osVersion: '22.12', activeSlot: 'b' });
    expect(after.flash.operationsSinceMark).to.equal(0);
  });

  it('rolls back an OS update whose auto-start app crashes in the health window, without raising the fuse', async () => {
    // An app that dies 100 ms after each start: committed itself (window 20 ms), fatal to a 500 ms window.
    await board.control.request('timings', { healthWindowMs: 20 });
    const crasher = keys.app({ name: 'Crasher', componentId: APP_ID, behaviour: { crash: { afterMs: 100, signal: 11 } } });
    await board.control.request('install', { images: b64([crasher]) });
    await board.console.expect(`[OS] app ${APP_ID} update committed`, { timeoutMs: 10_000 });
    await board.control.request('timings', { healthWindowMs: 500 });
    const since = board.console.mark();
    await board.control.request('install', { images: b64(keys.osSet('22.12', 2)) });
    await board.console.expect(/^\[OS\] health check failed: app 3c1e7a52/, { timeoutMs: 10_000, since });
    await board.control.request('reset', {});
    await board.console.expect('[ROM] rolling back to slot a: trial of slot b failed its health check', { timeoutMs: 10_000, since });
    await board.console.expect('[OS] services up', { timeoutMs: 10_000, since: board.console.mark() - 1 });
    const after = await info();
    expect(after).to.include({ osVersion: '22.11', activeSlot: 'a' });
    expect(after.fuses, 'no OS fuse rose').to.deep.equal({});
    const report = (await board.control.request('error-report', {})) as { events: Array<{ eventClass: string; description: string; count: number }> };
    const crash = report.events.find((e) => e.eventClass === 'AppCrash');
    expect(crash?.description).to.match(new RegExp(`^AppCrash \\(exit_status=0; signal_status=11; signal_code=0; component_id=${APP_ID}; image_id=[0-9a-f-]{36}\\)$`));
    expect(report.events.some((e) => e.eventClass === 'Rollback' && e.description === 'Rollback (from_slot=b; to_slot=a)')).to.equal(true);
  });

  it('rolls back an app update that crashes in its health window to the previous app image', async () => {
    const v1 = keys.app({ name: 'Idle', componentId: APP_ID, securityVersion: 1 });
    await board.control.request('install', { images: b64([v1]) });
    await board.console.expect(`[OS] app ${APP_ID} update committed`, { timeoutMs: 10_000 });
    const v1Image = (await info()).apps[0]!.imageId;
    await board.control.request('timings', { healthWindowMs: 500 });
    const v2 = keys.app({ name: 'Idle v2', componentId: APP_ID, securityVersion: 2, behaviour: { crash: { afterMs: 10, signal: 6 } } });
    const since = board.console.mark();
    await board.control.request('install', { images: b64([v2]) });
    await board.console.expect(/health check failed/, { timeoutMs: 10_000, since });
    await board.control.request('reset', {});
    await board.console.expect(`[OS] app ${APP_ID} rolled back to its previous image`, { timeoutMs: 10_000, since });
    await board.console.expect(`[APP] ${APP_ID} started`, { timeoutMs: 10_000, since: board.console.mark() - 1 });
    const after = await info();
    expect(after.apps.map((a) => a.imageId)).to.deep.equal([v1Image]);
    expect(after.fuses[APP_ID]).to.equal(1);
  });

  it('refuses a test-signed app without AppDevelopment and runs it with the capability', async () => {
    const devApp = keys.app({ name: 'Dev', componentId: APP_ID, development: true }, 'development-app');
    const refused = await board.control.request('install', { images: b64([devApp]) }).catch((e: unknown) => e);
    expect((refused as ControlError).code).to.equal('device-error-7340047');
    expect((await info()).apps).to.deep.equal([]);
    const { deviceId } = await info().then((i) => i as unknown as { deviceId: string });
    await board.control.request('install', { images: b64([keys.capability(deviceId, [11])]) });
    const since = board.console.mark();
    await board.control.request('install', { images: b64([devApp]) });
    await board.console.expect(`[APP] ${APP_ID} started`, { timeoutMs: 10_000, since });
    // A real SDK-built package, signed with Microsoft's SDK test key, runs (idle) too.
    await board.control.request('install', { images: b64([readFixture(TEST_APP)]) });
    await board.console.expect('[APP] 1689d8b2-c835-2e27-27ad-e894d6d15fa9 started', { timeoutMs: 10_000, since });
  });

  it('ignores a capability image bound to another device', async () => {
    const other = keys.capability('ab'.repeat(64), [11]);
    const error = await board.control.request('install', { images: b64([other]) }).catch((e: unknown) => e);
    expect((error as ControlError).code).to.equal('device-error-7340047');
    expect((await info()) as unknown as { capabilities: number[] }).to.deep.include({ capabilities: [] });
  });
});
