import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BoardState, RecoveryProgress } from '../../../src/device/board.js';
import { ControlClient } from '../../../src/device/emulated/control-client.js';
import { EmulatedPins } from '../../../src/device/emulated/emulated-pins.js';
import { Mt3620BoardDriver } from '../../../src/device/mt3620/mt3620-board-driver.js';
import type { PowerAction, PowerSwitch } from '../../../src/device/mt3620/power-command.js';
import { FixedServiceEndpoint } from '../../../src/device/mt3620/service-link.js';
import { DeviceRestClient } from '../../../src/device/rest/device-rest-client.js';
import { keystoreBodyFor } from '../../../src/firmware/rig-keystore.js';
import { buildSampleApp } from '../../../src/firmware/sample-app.js';
import { buildCapabilityImage, Capability } from '../../../src/image/capability-image.js';
import { buildRecoveryImageSet, saveRecoveryImageSet } from '../../../src/firmware/recovery-image-set.js';
import type { DiscoveredBoard, UsbBoardSource } from '../../../src/link/usb-discovery.js';
import { rawSignerFor } from '../../../src/pki/raw-signer.js';
import { findSigningRole, loadSigningRoles } from '../../../src/pki/signing-roles.js';
import { EmulatorProcess } from '../../helpers/emulator-process.js';

/**
 * The real-board driver pointed at an emulated board: discovery answers with
 * the emulator's ptys as interfaces A and D, the pins are the emulator's
 * control channel, the service link is its loopback REST URL with its CA.
 * Everything else (console, the recovery client on the recovery UART, the REST
 * client, states) is the mt3620 driver's own code, unchanged: only discovery,
 * GPIO and link set-up differ from a real bench.
 */
const USB_SERIAL = 'AS0EMULATED1';

class EmulatorAsUsb extends EventEmitter implements UsbBoardSource {
  constructor(private readonly board: DiscoveredBoard) {
    super();
  }
  async find(usbSerial: string): Promise<DiscoveredBoard | undefined> {
    return usbSerial === this.board.usbSerial ? this.board : undefined;
  }
  async openUsbDevice(): Promise<never> {
    throw new Error('an emulated board has no USB device: its pins are the control channel');
  }
}

/** The emulator's power switch, behind the same interface as the rig's power command. */
class ControlChannelPower implements PowerSwitch {
  readonly description = 'emulator control channel';
  constructor(private readonly control: ControlClient) {}
  async switch(action: PowerAction, options: { timeoutMs?: number; signal?: AbortSignal }): Promise<void> {
    if (action !== 'on') await this.control.request('power', { on: false }, options);
    if (action !== 'off') await this.control.request('power', { on: true }, options);
  }
}

function waitForState(driver: Mt3620BoardDriver, wanted: BoardState, timeoutMs = 20_000): Promise<void> {
  if (driver.state() === wanted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`board did not become ${wanted} (is ${driver.state()})`)), timeoutMs);
    const onState = (state: BoardState): void => {
      if (state !== wanted) return;
      clearTimeout(timer);
      driver.off('state', onState);
      resolve();
    };
    driver.on('state', onState);
  });
}

const TALKER = '3d4e5f60-7182-4d9e-8fa0-2b3c4d5e6f70';

describe('the mt3620 driver on an emulated board: recovery and REST code paths unchanged', function () {
  this.timeout(180_000);
  let emulator: EmulatorProcess;
  let control: ControlClient;
  let driver: Mt3620BoardDriver;
  let work: string;
  let deviceId: string;
  const states: BoardState[] = [];

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'sphere-rig-mt3620-emu-'));
    emulator = await EmulatorProcess.start({ boards: 1 });
    const surfaces = emulator.boards[0]!;
    deviceId = surfaces.deviceId;
    control = await ControlClient.connect({ port: surfaces.controlPort, defaultTimeoutMs: 20_000 });
    const board: DiscoveredBoard = {
      usbSerial: USB_SERIAL,
      portPath: '1-1.2',
      busNumber: null,
      deviceAddress: null,
      manufacturer: 'Microsoft',
      product: 'MSFT MT3620 Std Interface',
      usbAccess: 'ok',
      ttys: {
        A: { port: 'A', interfaceNumber: 0, path: surfaces.debugUart, byIdPath: null },
        D: { port: 'D', interfaceNumber: 3, path: surfaces.recoveryUart, byIdPath: null },
      },
      warnings: [],
    };
    driver = await Mt3620BoardDriver.open({
      id: 'bench-emu',
      usbSerial: USB_SERIAL,
      tags: ['real-path'],
      source: new EmulatorAsUsb(board),
      pins: () => new EmulatedPins(control),
      serviceLink: new FixedServiceEndpoint(String(surfaces.restUrl), readFileSync(String(surfaces.restCa), 'utf8'), { host: '127.0.0.1', port: Number(surfaces.appOutputPort) }),
      power: new ControlChannelPower(control),
      readyPollMs: 100,
      recoveryTimeouts: { romBannerMs: 5_000, messageMs: 10_000 },
      // The emulator's app UART stands for a USB serial adapter wired to the app's ISU pins.
      appUarts: { sensor: String(surfaces.appUart) },
    });
    driver.on('state', (state) => states.push(state));
  });

  after(async () => {
    await driver?.close();
    await control?.close();
    await emulator?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('powers the board on through its power switch and sees it ready on the REST API', async () => {
    const since = driver.console.mark();
    await driver.power(true);
    await waitForState(driver, 'ready');
    // The recovery UART shows the boot (1BL, Pluton); the debug UART carries Microsoft's diagnostics only
    // (here the emulator's stand-in): it is alive, nothing more.
    const pluton = await driver.console.expect('[PLUTON] Booting HLOS core', { timeoutMs: 10_000, since, channels: ['recovery-uart'] });
    expect(driver.console.lines(since).filter((l) => l.seq < pluton.seq && l.channel === 'recovery-uart')[0]?.text).to.match(/^\[1BL\] BOOT: /);
    await driver.console.expect('MT3620 diagnostics: boot', { timeoutMs: 10_000, since, channels: ['debug-uart'] });
    const endpoint = driver.restEndpoint()!;
    expect(endpoint.baseUrl).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    const client = new DeviceRestClient(endpoint);
    try {
      const status = await client.status();
      expect(status.uptime).to.be.a('number');
      expect(status.apiVersion).to.match(/^\d+\.\d+\.\d+$/);
    } finally {
      client.close();
    }
    const info = await driver.info();
    expect(info).to.deep.include({ state: 'ready', osVersion: '22.11', deviceId });
    expect(driver.identity.deviceId).to.equal(deviceId);
  });

  it('recovers the board with the recovery client on its recovery UART, then it boots the new OS and answers again', async () => {
    const roles = await loadSigningRoles(join(emulator.stateDir, 'keys'));
    const set = buildRecoveryImageSet({ osVersion: '23.01', securityVersion: 1, keystorePem: keystoreBodyFor(roles, true) }, rawSignerFor(findSigningRole(roles, 'os')));
    const dir = join(work, 'recovery-23.01');
    saveRecoveryImageSet(dir, set);

    const progress: RecoveryProgress[] = [];
    states.length = 0;
    await driver.recover(dir, { onProgress: (p) => progress.push(p) });
    expect(states.slice(0, 2)).to.deep.equal(['rom-recovery', 'booting']);
    await waitForState(driver, 'ready');
    // Read again once the recovery client let go of the recovery UART: the next boot shows there.
    expect(driver.console.isAttached('recovery-uart')).to.equal(true);
    const beforeReset = driver.console.mark();
    await driver.reset();
    await driver.console.expect('[PLUTON] Booting HLOS core', { timeoutMs: 10_000, since: beforeReset, channels: ['recovery-uart'] });
    await waitForState(driver, 'ready');
    expect(progress.map((p) => p.stage)).to.include('send-1bl');

    const info = await driver.info();
    expect(info).to.deep.include({ state: 'ready', osVersion: '23.01', deviceId });
    const strap = (await control.request('info', {})) as { recoveryStrap?: boolean };
    expect(strap.recoveryStrap, 'the strap was lowered after the ROM banner').to.equal(false);
  });

  it('reads a bench-wired app UART as its own console channel, beside the recovery and debug UARTs', () => {
    expect(driver.console.channels()).to.deep.equal(['recovery-uart', 'debug-uart', 'app-output', 'app-uart:sensor']);
    expect(driver.console.isAttached('app-uart:sensor')).to.equal(true);
  });

  it("hears a debugged app on the service link's app output port, as channel app-output", async () => {
    const roles = await loadSigningRoles(join(emulator.stateDir, 'keys'));
    const capability = buildCapabilityImage({ deviceId, capabilities: [Capability.AppDevelopment] }, rawSignerFor(findSigningRole(roles, 'capability')));
    const app = buildSampleApp(
      { name: 'Talker', componentId: TALKER, development: true, behaviour: { log: ['heard over the link'] } },
      rawSignerFor(findSigningRole(roles, 'development-app')),
    );
    const rest = new DeviceRestClient({ ...driver.restEndpoint()!, capabilityImage: capability });
    try {
      const since = driver.console.mark();
      await rest.sideload(app);
      await rest.stopApp(TALKER);
      await rest.startAppForDebugging(TALKER);
      const line = await driver.console.expect('heard over the link', { since, timeoutMs: 10_000, channels: ['app-output'] });
      expect(line.channel).to.equal('app-output');
    } finally {
      rest.close();
    }
  });

  it('keeps one console history from power-on through recovery', () => {
    const lines = driver.console.lines();
    expect(lines.map((l) => l.seq)).to.deep.equal(lines.map((_, i) => i + 1));
    expect(lines.filter((l) => l.text.includes('MT3620 diagnostics: boot')).length).to.be.at.least(2);
  });
});
