import { expect } from 'chai';
import { EventEmitter, once } from 'node:events';
import type { BoardState } from '../../../src/device/board.js';
import type { ConsoleLine } from '../../../src/device/console-history.js';
import { Mt3620BoardDriver, type Mt3620BoardOptions } from '../../../src/device/mt3620/mt3620-board-driver.js';
import type { PowerAction, PowerSwitch } from '../../../src/device/mt3620/power-command.js';
import type { ServiceLinkProvider } from '../../../src/device/mt3620/service-link.js';
import { UsbDiscovery } from '../../../src/link/usb-discovery.js';
import { RigError } from '../../../src/util/failure.js';
import { FakeUsbBus, ScriptedLister } from './helpers/fake-usb-bus.js';
import { BOARD_1, serialPorts, usbDevices } from './helpers/recordings.js';

/** A debug UART as the driver sees it: lines in, a close. */
class FakeUart extends EventEmitter<{ line: [line: ConsoleLine]; close: [] }> {
  closed = false;
  #seq = 1;
  constructor(readonly path: string) {
    super();
  }
  say(text: string): void {
    this.emit('line', { seq: this.#seq++, timestamp: Date.now(), text });
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }
}

/** No service link in these tests: nothing is ever dialled. */
const NO_LINK: ServiceLinkProvider = {
  endpoint: async () => {
    throw new RigError('infra-error', 'no-link', 'no service link in this test');
  },
  release: async () => undefined,
};

class RecordingPower implements PowerSwitch {
  readonly description = 'test relay';
  readonly actions: PowerAction[] = [];
  async switch(action: PowerAction): Promise<void> {
    this.actions.push(action);
  }
}

async function until(check: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Board 1's interface D in the recorded listings: before (ttyUSB3) and after (ttyUSB13) it re-enumerates. */
const RECOVERY_TTYS: ReadonlySet<string> = new Set(['/dev/ttyUSB3', '/dev/ttyUSB13']);

function bench(options: { attached?: boolean; power?: PowerSwitch } = {}) {
  const board1 = usbDevices().find((d) => d.deviceAddress === 5)!;
  const bus = new FakeUsbBus(options.attached === false ? usbDevices().filter((d) => d !== board1 && d.deviceAddress !== 5) : usbDevices());
  const lister = new ScriptedLister([options.attached === false ? serialPorts('serialport-list-one-board-unplugged.json') : serialPorts()]);
  const discovery = new UsbDiscovery(bus, lister.list, { ttyPollMs: 5 });
  discovery.watch();
  // The driver reads interface A (the debug UART, `uarts`) and D (the recovery UART, `recoveryUarts`).
  const uarts: FakeUart[] = [];
  const recoveryUarts: FakeUart[] = [];
  const states: BoardState[] = [];
  const driverOptions: Mt3620BoardOptions = {
    id: 'bench-1',
    usbSerial: BOARD_1,
    tags: ['real'],
    tenant: 'lab',
    source: discovery,
    serviceLink: NO_LINK,
    power: options.power ?? null,
    openConsole: async (path) => {
      const uart = new FakeUart(path);
      (RECOVERY_TTYS.has(path) ? recoveryUarts : uarts).push(uart);
      return uart;
    },
    ttyWaitMs: 500,
  };
  return { bus, lister, discovery, uarts, recoveryUarts, states, board1, driverOptions };
}

describe('the mt3620 driver across detach and re-attach (recorded USB host, fake UARTs)', () => {
  it('keeps one continuous console history while the board re-enumerates onto other ttys', async () => {
    const { bus, lister, discovery, uarts, recoveryUarts, board1, driverOptions } = bench();
    const driver = await Mt3620BoardDriver.open(driverOptions);
    try {
      expect(driver.identity).to.deep.include({ id: 'bench-1', driver: 'mt3620', usbSerial: BOARD_1, tenant: 'lab' });
      expect(uarts.map((u) => u.path)).to.deep.equal(['/dev/ttyUSB0']);
      // The recovery UART is read too: the 1BL and Pluton lines of every boot come out there.
      expect(recoveryUarts.map((u) => u.path)).to.deep.equal(['/dev/ttyUSB3']);
      expect(driver.state(), 'attached, but without a link nothing tells whether it booted').to.equal('unknown');
      uarts[0]!.say('[1BL] BOOT: 380a0300/00000001/02000000');
      uarts[0]!.say('Azure Sphere OS booting');

      const offline = once(driver, 'state');
      bus.unplug(1, 5);
      expect(await offline).to.deep.equal(['offline']);
      expect(uarts[0]!.closed).to.equal(true);
      const error = await driver.info().then(() => undefined, (e: unknown) => e);
      expect(error).to.deep.include({ code: 'board-offline' });
      expect((error as Error).message).to.contain(`USB serial ${BOARD_1}`).and.contain('its USB device went away');

      // Started while the board is away: it is satisfied by a line from the new UART.
      const since = driver.console.mark();
      const waiting = driver.console.expect('services up', { timeoutMs: 2_000, since });
      lister.listings = [serialPorts('serialport-list-after-replug.json')];
      bus.plug({ ...board1, deviceAddress: 9 });
      await until(() => uarts.length === 2, 'the console to reopen');
      expect(uarts[1]!.path, 'interface A came back as ttyUSB1').to.equal('/dev/ttyUSB1');
      expect(driver.attachedBoard).to.deep.include({ deviceAddress: 9 });
      await until(() => recoveryUarts.length === 2, 'the recovery UART to reopen');
      expect(recoveryUarts.map((u) => [u.path, u.closed])).to.deep.equal([
        ['/dev/ttyUSB3', true],
        ['/dev/ttyUSB13', false],
      ]);
      uarts[1]!.say('[OS] services up');
      const line = await waiting;
      expect(line).to.deep.include({ seq: 3, text: '[OS] services up' });
      expect(driver.console.lines().map((l) => [l.seq, l.text])).to.deep.equal([
        [1, '[1BL] BOOT: 380a0300/00000001/02000000'],
        [2, 'Azure Sphere OS booting'],
        [3, '[OS] services up'],
      ]);
      uarts[0]!.say('a stale line from the old tty is not recorded');
      expect(driver.console.lines()).to.have.length(3);

      // The FTDI pins now use the re-enumerated USB device; interface A's tty is closed while the strap is held.
      await driver.setRecoveryStrap(true);
      // Each attach ran the FTDI fail-safe on its own USB device; the strap uses the re-enumerated one.
      expect(bus.opened.map((o) => o.deviceAddress)).to.deep.equal([5, 9, 9]);
      const failSafe = ['open', 'control 40 0b 0000 0001', 'reattach 0', 'control 40 0b 0000 0002', 'reattach 1', 'close'];
      expect(bus.opened[0]!.device.trace()).to.deep.equal(failSafe);
      expect(bus.opened[1]!.device.trace()).to.deep.equal(failSafe);
      expect(uarts[1]!.closed).to.equal(true);
      await driver.setRecoveryStrap(false);
      await until(() => uarts.length === 3, 'the console to come back after the strap');
      expect(bus.opened[2]!.device.trace()).to.deep.equal([
        'open',
        'claim 0',
        'control 40 0b 0108 0001',
        'bulk-out 2 [08]',
        'bulk-out 2 [00]',
        'control 40 00 0002 0001',
        'control 40 00 0001 0001',
        'control 40 0b 0000 0001',
        'release 0',
        'close',
      ]);
      uarts[2]!.say('after the strap');
      expect(driver.console.lines().at(-1)).to.deep.include({ seq: 4, text: 'after the strap' });
    } finally {
      await driver.close();
      discovery.close();
    }
    expect([...uarts, ...recoveryUarts].every((u) => u.closed)).to.equal(true);
  });

  it('binds a board that is not plugged in as offline, and brings it online when it appears', async () => {
    const { bus, lister, discovery, uarts, board1, driverOptions } = bench({ attached: false });
    const driver = await Mt3620BoardDriver.open(driverOptions);
    try {
      expect(driver.state()).to.equal('offline');
      expect(driver.offlineReason).to.equal(`USB serial ${BOARD_1} is not attached to this host`);
      expect(() => driver.restEndpoint()).to.throw(/offline/);
      lister.listings = [serialPorts()];
      const online = once(driver, 'state');
      bus.plug(board1);
      expect(await online).to.deep.equal(['booting']);
      await until(() => uarts.length === 1, 'the console to open');
      expect(driver.offlineReason).to.equal(null);
      const linkProblem = (): string => {
        try {
          driver.restEndpoint();
          return 'an endpoint';
        } catch (error) {
          return (error as Error).message;
        }
      };
      await until(() => linkProblem() !== 'board bench-1: no service link: it is still being brought up', 'the link attempt');
      expect(linkProblem()).to.equal('board bench-1: no service link: no service link in this test');
      const info = await driver.info();
      expect(info).to.deep.include({ state: 'unknown', osVersion: null, usbSerial: BOARD_1, portPath: '1-1.2', restError: 'no service link in this test' });
      expect(info.serviceLink).to.deep.equal({ state: 'down', reason: 'no service link in this test' });
    } finally {
      await driver.close();
      discovery.close();
    }
  });

  it('a board the rig powered off reads off, not offline, while its USB device is gone', async () => {
    const power = new RecordingPower();
    const { bus, lister, discovery, board1, driverOptions, uarts } = bench({ power });
    const driver = await Mt3620BoardDriver.open(driverOptions);
    try {
      await driver.power(false);
      expect(driver.state()).to.equal('off');
      lister.listings = [serialPorts('serialport-list-one-board-unplugged.json')];
      bus.unplug(1, 5);
      await until(() => uarts[0]!.closed, 'the console to close');
      expect(driver.state()).to.equal('off');
      // Power on resolves once the board is back on USB.
      const powering = driver.power(true);
      await until(() => driver.state() === 'booting', 'powered, not yet back on USB');
      expect(driver.attachedBoard).to.equal(undefined);
      lister.listings = [serialPorts()];
      bus.plug(board1);
      await powering;
      expect(driver.attachedBoard).to.deep.include({ usbSerial: BOARD_1 });
      await until(() => uarts.length === 2, 'the console to reopen');
      await driver.powerCycle();
      expect(power.actions).to.deep.equal(['off', 'on', 'cycle']);
    } finally {
      await driver.close();
      discovery.close();
    }
  });

  it('a power-on after which the board never comes back on USB fails, bounded, saying what to check', async () => {
    const power = new RecordingPower();
    const { bus, lister, discovery, driverOptions } = bench({ power });
    const driver = await Mt3620BoardDriver.open({ ...driverOptions, powerOnAttachMs: 100, rescanMs: 10 });
    try {
      await driver.power(false);
      lister.listings = [serialPorts('serialport-list-one-board-unplugged.json')];
      const scansBefore = lister.calls;
      bus.unplug(1, 5);
      await until(() => driver.attachedBoard === undefined, 'the detach');
      const error = await driver.power(true).then(() => undefined, (e: unknown) => e);
      expect(error).to.deep.include({ failureClass: 'infra-error', code: 'board-not-back-after-power-on' });
      expect((error as Error).message).to.contain(`USB serial ${BOARD_1} did not appear on USB within 100 ms`).and.contain('uhubctl needs -r N');
      expect(lister.calls - scansBefore, 'discovery was asked again while waiting (hot-plug may not reach a container)').to.be.at.least(2);
      expect(driver.state()).to.equal('offline');
    } finally {
      await driver.close();
      discovery.close();
    }
  });

  it('power-on finds a board by rescanning when no hot-plug event comes', async () => {
    const power = new RecordingPower();
    const { bus, lister, discovery, board1, driverOptions } = bench({ power });
    const driver = await Mt3620BoardDriver.open({ ...driverOptions, rescanMs: 10 });
    try {
      await driver.power(false);
      lister.listings = [serialPorts('serialport-list-one-board-unplugged.json')];
      bus.unplug(1, 5);
      await until(() => driver.attachedBoard === undefined, 'the detach');
      const powering = driver.power(true);
      // Back on the bus without an event (a container without /run/udev sees none).
      bus.recorded.push({ ...board1, deviceAddress: 11 });
      lister.listings = [serialPorts()];
      await powering;
      expect(driver.attachedBoard).to.deep.include({ usbSerial: BOARD_1, deviceAddress: 11 });
    } finally {
      await driver.close();
      discovery.close();
    }
  });

  it('answers not-applicable, with the reason, for what only the emulator can do', async () => {
    const { discovery, driverOptions } = bench();
    const driver = await Mt3620BoardDriver.open(driverOptions);
    try {
      const failures = await Promise.all([
        driver.attest().catch((e: unknown) => e),
        driver.fault({ kind: 'flash-mark' }).catch((e: unknown) => e),
        driver.advanceClock(1_000).catch((e: unknown) => e),
        driver.otaInstall().catch((e: unknown) => e),
        driver.errorReport().catch((e: unknown) => e),
        driver.power(true).catch((e: unknown) => e),
      ]);
      for (const failure of failures) expect(failure).to.deep.include({ failureClass: 'not-applicable' });
      expect((failures[0] as Error).message).to.contain('relying party').and.contain('DAA certificate');
      expect((failures[5] as Error).message).to.contain('set power.command in the rig');
    } finally {
      await driver.close();
      discovery.close();
    }
  });

  it('refuses recovery when the reset line is on interface D, the recovery UART, and says why', async () => {
    const { discovery, driverOptions } = bench();
    const driver = await Mt3620BoardDriver.open({ ...driverOptions, resetPort: 'D' });
    try {
      const error = await driver.recover('/nonexistent').then(() => undefined, (e: unknown) => e);
      expect(error).to.deep.include({ failureClass: 'infra-error', code: 'reset-on-recovery-uart' });
      expect((error as Error).message).to.contain('set reset.interface: B');
    } finally {
      await driver.close();
      discovery.close();
    }
  });
});
