import { expect } from 'chai';
import { readDeviceLog } from '../../../src/device/rest/device-log-reader.js';
import type { DeviceLogEntry } from '../../../src/firmware/device-log/device-log-decoder.js';
import { DeviceRefusedError } from '../../../src/device/rest/device-rest-errors.js';
import { RestBoard } from '../../helpers/rest-board.js';
import { b64 } from '../../helpers/rig-keys.js';

/**
 * GET /log of an emulated board, decoded with the project's parser: the OS's
 * own account of a boot, an OS update, a refused install, an app update that
 * crashes in its health window and is rolled back, and board time passing.
 */
const APP_ID = '3c1e7a52-4a4b-4d0a-9b7e-5a1f2e3d4c5b';

describe('emulated board: GET /log is the binary device log', function () {
  this.timeout(120_000);
  let rest: RestBoard;

  before(async () => {
    rest = await RestBoard.start();
  });

  after(async () => {
    await rest?.stop();
  });

  it('records boot, update, refusal, crash and rollback with the right modules, messages and arguments', async () => {
    const { board, keys } = rest;
    const developer = rest.client([11]);
    // An app that stays up, committed.
    let since = board.console.mark();
    await board.control.request('install', { images: b64([keys.app({ name: 'Idle', componentId: APP_ID, securityVersion: 1 })]) });
    await board.console.expect(`[OS] app ${APP_ID} update committed`, { timeoutMs: 10_000, since });
    // An OS update, trial-booted and committed.
    since = board.console.mark();
    await board.control.request('install', { images: b64(keys.osSet('22.12', 2)) });
    await board.console.expect('[OS] update committed: OS 22.12 in slot b', { timeoutMs: 10_000, since });
    // A tampered app, refused over REST.
    const tampered = keys.app({ name: 'Idle', componentId: APP_ID, securityVersion: 3 });
    tampered[100] = tampered[100]! ^ 0xff;
    const refusal = await developer.sideload(tampered).catch((e: unknown) => e);
    expect((refusal as DeviceRefusedError).deviceErrorCode).to.equal(7340047);
    // An app update that crashes in its health window (not restarted before the reset), rolled back at the reset.
    await board.control.request('timings', { healthWindowMs: 500, appRestartMs: 600_000 });
    since = board.console.mark();
    await board.control.request('install', { images: b64([keys.app({ name: 'Idle v2', componentId: APP_ID, securityVersion: 2, behaviour: { crash: { afterMs: 10, signal: 6 } } })]) });
    await board.console.expect(/health check failed/, { timeoutMs: 10_000, since });
    await board.control.request('reset', {});
    await board.console.expect(`[OS] app ${APP_ID} rolled back to its previous image`, { timeoutMs: 10_000, since });
    await board.console.expect(`[APP] ${APP_ID} started`, { timeoutMs: 10_000, since: board.console.mark() - 1 });
    // Two minutes of board time, then the app is stopped: its entry carries the uptime.
    await board.control.request('clock', { advanceMs: 120_000 });
    // A new client: the reset dropped the connections of the one before.
    await rest.client([11]).stopApp(APP_ID);

    const { bytes, log } = await readDeviceLog(rest.client([13]));
    expect(bytes.length).to.equal(16 * 4096);
    expect(log.problems).to.deep.equal([]);
    const entries = log.entries;
    const params = (e: DeviceLogEntry) => Object.fromEntries(e.params.map((p) => [p.name, p.guid ?? p.value]));
    /** Index of the first entry at or after `from` with this module and message whose parameters include `args`. */
    const at = (from: number, module: string, message: string, args: Record<string, unknown> = {}): number => {
      const index = entries.findIndex((e, i) => i >= from && e.categoryName === module && e.messageName === message && Object.entries(args).every(([k, v]) => params(e)[k] === v));
      expect(index, `${module}/${message} ${JSON.stringify(args)} after entry ${from}:\n${entries.slice(from).map((e) => e.line).join('\n')}`).to.be.at.least(0);
      return index;
    };

    const firstBoot = at(0, 'appman_init', 'LoggerStarted');
    expect(entries[firstBoot]!).to.include({ priorityName: 'Info', messageId: 1, line: `[${(entries[firstBoot]!.timestampMs / 1000).toFixed(6).padStart(12)}] Info appman_init(1): Appman started and log server ready ` });
    at(firstBoot, 'gatewayd', 'OsVersion', { osversion: '22.11' });
    at(firstBoot, 'networkd', 'AddedInterfaceDefault', { interface: 'azspheresvc' });
    const appStaged = at(firstBoot, 'gatewayd', 'StageImageSuccess', { 'Component ID': APP_ID, 'Image Type': 10 });
    const appStarted = at(appStaged, 'appman_apps', 'StartingApp', { appId: APP_ID });
    const appCommitted = at(appStarted, 'azured', 'CommitImage');
    const osStaged = at(appCommitted, 'gatewayd', 'StageImageSuccess');
    expect(params(entries[osStaged]!)['Image Type']).not.to.equal(10);
    const reboot = at(osStaged, 'appman', 'SideloadRequiresReboot');
    const secondBoot = at(reboot, 'appman_init', 'LoggerStarted');
    at(secondBoot, 'gatewayd', 'OsVersion', { osversion: '22.12' });
    const osCommitted = at(secondBoot, 'azured', 'CommitImage');
    const refused = at(osCommitted, 'gatewayd', 'CommonError', { error: 7340047 });
    expect(entries[refused]!.params[0]!.error).to.deep.include({ name: 'ImageUpdateError::VerificationFailed' });
    expect(entries[refused]!.priorityName).to.equal('Error');
    const crashed = at(refused, 'appman', 'ProcessSignaled', { app_id: APP_ID, signal_number: 6, signal_code: 0 });
    expect(entries[crashed]!.priorityName).to.equal('Warning');
    at(crashed, 'appman', 'ChildTerminatedBySignal', { signal: 6 });
    const thirdBoot = at(crashed, 'appman_init', 'LoggerStarted');
    const rolledBack = at(crashed, 'appman', 'InvalidatingImage', { app_id: APP_ID });
    const restarted = at(Math.max(thirdBoot, rolledBack), 'appman_apps', 'StartingApp', { appId: APP_ID });
    const stopped = at(restarted, 'appman_apps', 'StoppingApp', { appId: APP_ID });
    // Board-clock uptime: every boot starts near 0; the stop comes two minutes of board time into the third.
    expect(entries[secondBoot]!.timestampMs).to.be.below(entries[osCommitted]!.timestampMs + 1);
    expect(entries[stopped]!.timestampMs).to.be.at.least(120_000);
    expect(entries[thirdBoot]!.timestampMs).to.be.below(120_000);
    // The parser prints the GUID a device wrote in canonical order with its first groups swapped.
    expect(entries[stopped]!.line).to.match(/ Info appman_apps\(11\): Stopping app\.\.\. \(appId: 527a1e3c-4b4a-0a4d-9b7e-5a1f2e3d4c5b\)$/);
  });

  it('serves the log only with AppDevelopment or FieldServicing', async () => {
    const refusal = await rest.client().log().catch((e: unknown) => e);
    expect((refusal as DeviceRefusedError).deviceErrorCode).to.equal(13);
  });
});
