import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { UsbAccessError } from '../../src/link/usb-access-error.js';
import { checkListedDevices, probeUsbAccess, type UsbFilesystem } from '../../src/link/usb-access-probe.js';
import { UsbDiscovery, type DiscoveredBoard } from '../../src/link/usb-discovery.js';
import { NodeUsbBus } from '../../src/link/usb-node-bus.js';
import { FakeUsbBus, ScriptedLister } from '../device/mt3620/helpers/fake-usb-bus.js';
import { BOARD_1, BOARD_2, byId, serialPorts, usbDevices } from '../device/mt3620/helpers/recordings.js';

function fakeFs(overrides: Partial<UsbFilesystem>): UsbFilesystem {
  return { platform: 'linux', exists: () => true, readable: () => true, deviceNodes: () => ['/dev/bus/usb/001/001'], ...overrides };
}

async function expectUsbAccessError(run: () => unknown, problem: string): Promise<UsbAccessError> {
  try {
    await run();
  } catch (error) {
    expect(error).to.be.instanceOf(UsbAccessError);
    expect((error as UsbAccessError).problem).to.equal(problem);
    return error as UsbAccessError;
  }
  throw new Error('no UsbAccessError');
}

/** Discovery joins libusb's view with the serial-port listing, and follows hot-plug by USB serial. */
describe('USB discovery of MT3620 boards', () => {
  it('lists the two boards of the recorded host with port paths, USB access and the tty of every interface', async () => {
    const discovery = new UsbDiscovery(new FakeUsbBus(usbDevices()), new ScriptedLister([serialPorts()]).list);
    const report = await discovery.scan();
    expect(report.boards.map((b) => [b.usbSerial, b.portPath, b.busNumber, b.deviceAddress, b.usbAccess, b.product])).to.deep.equal([
      [BOARD_1, '1-1.2', 1, 5, 'ok', 'MSFT MT3620 Std Interface'],
      [BOARD_2, '1-1.3', 1, 6, 'ok', 'MSFT MT3620 Std Interface'],
    ]);
    expect(report.boards[1]!.ttys.C).to.deep.equal({ port: 'C', interfaceNumber: 2, path: '/dev/ttyUSB6', byIdPath: byId(BOARD_2, 2) });
    expect(report.boards.every((b) => b.warnings.length === 0)).to.equal(true);
    expect(report.skipped.map((s) => s.portPath)).to.deep.equal(['1-1.4']);
    expect(report).to.include({ permissionDenied: false });
    expect(report.problems).to.deep.equal([]);
  });

  it('without permission on the USB devices still names the boards (from udev) and says which rule to install', async () => {
    const discovery = new UsbDiscovery(new FakeUsbBus(usbDevices('usb-devices-two-boards-no-permission.json')), new ScriptedLister([serialPorts()]).list);
    const report = await discovery.scan();
    expect(report.permissionDenied).to.equal(true);
    expect(report.boards.map((b) => [b.usbSerial, b.usbAccess])).to.deep.equal([
      [BOARD_1, 'denied'],
      [BOARD_2, 'denied'],
    ]);
    expect(report.problems).to.have.length(3);
    expect(report.problems[0]).to.contain('no permission to open it').and.contain('rigs/udev/99-azure-sphere.rules');
    try {
      await discovery.openUsbDevice(report.boards[0]!, { timeoutMs: 100 });
      expect.fail('opened');
    } catch (error) {
      expect(error).to.be.instanceOf(UsbAccessError);
      expect((error as Error).message).to.contain('reset and recovery strap are unavailable');
    }
  });

  it('a failing serial-port listing is a problem, not a crash: boards come without ttys and say so', async () => {
    const discovery = new UsbDiscovery(new FakeUsbBus(usbDevices()), async () => {
      throw new Error('udevadm exploded');
    });
    const report = await discovery.scan();
    expect(report.boards).to.have.length(2);
    expect(report.problems[0]).to.contain('udevadm exploded');
    expect(report.boards[0]!.warnings).to.deep.equal(['no tty for interfaces A, C, D (is the ftdi_sio driver bound?)']);
  });

  it('follows a board through detach and re-attach by USB serial, waiting for its new ttys', async () => {
    const bus = new FakeUsbBus(usbDevices());
    // After the replug: first a listing without the board (udev not done yet), then the new ttys.
    const lister = new ScriptedLister([serialPorts(), serialPorts('serialport-list-one-board-unplugged.json'), serialPorts('serialport-list-after-replug.json')]);
    const discovery = new UsbDiscovery(bus, lister.list, { ttyPollMs: 5 });
    await discovery.scan();
    discovery.watch();
    expect(bus.watchers).to.equal(1);
    expect(discovery.attachedCount).to.equal(2);

    const detached = once(discovery, 'detach');
    const board1 = bus.recorded.find((d) => d.deviceAddress === 5)!;
    bus.unplug(1, 5);
    expect(await detached).to.deep.equal([BOARD_1]);
    expect(discovery.attachedCount).to.equal(1);

    const attached = once(discovery, 'attach') as Promise<[DiscoveredBoard]>;
    bus.plug({ ...board1, deviceAddress: 9 });
    const [board] = await attached;
    expect(board).to.deep.include({ usbSerial: BOARD_1, portPath: '1-1.2', busNumber: 1, deviceAddress: 9, usbAccess: 'ok' });
    expect(Object.values(board.ttys).map((t) => t.path)).to.deep.equal(['/dev/ttyUSB1', '/dev/ttyUSB2', '/dev/ttyUSB3', '/dev/ttyUSB13']);
    expect(lister.calls).to.equal(3);
    expect(discovery.attachedCount).to.equal(2);

    // The new address is remembered: unplugging it again is reported for the same board.
    const again = once(discovery, 'detach');
    bus.unplug(1, 9);
    expect(await again).to.deep.equal([BOARD_1]);
    discovery.close();
    expect(bus.watchers).to.equal(0);
  });

  it('ignores hot-plug of devices that are not MT3620 boards', async () => {
    const bus = new FakeUsbBus([]);
    const discovery = new UsbDiscovery(bus, new ScriptedLister([serialPorts()]).list, { ttyPollMs: 5 });
    discovery.watch();
    let events = 0;
    discovery.on('attach', () => (events += 1));
    discovery.on('detach', () => (events += 1));
    bus.plug(usbDevices().find((d) => d.deviceAddress === 7)!);
    bus.unplug(1, 7);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(events).to.equal(0);
    discovery.close();
  });

  describe('when there is no usable USB bus', () => {
    it('no /dev/bus/usb: one clear error, before libusb is loaded', async () => {
      const error = await expectUsbAccessError(() => probeUsbAccess(fakeFs({ exists: () => false })), 'no-usb-bus');
      expect(error.message).to.equal(
        'no USB bus on this host: /dev/bus/usb does not exist (in a container, pass the bus with --device /dev/bus/usb; in a VM, attach the USB controller); real MT3620 boards cannot be found or reset',
      );
      expect(error.failureClass).to.equal('infra-error');
    });

    it('an unreadable /dev/bus/usb is a permission problem naming the udev rule', async () => {
      const error = await expectUsbAccessError(() => probeUsbAccess(fakeFs({ readable: () => false })), 'usb-permission-denied');
      expect(error.message).to.contain('rigs/udev/99-azure-sphere.rules');
    });

    it('libusb listing nothing while device nodes exist means it was not allowed to look', async () => {
      await expectUsbAccessError(() => checkListedDevices(0, ['/dev/bus/usb/001/001', '/dev/bus/usb/001/005']), 'usb-permission-denied');
      checkListedDevices(0, []);
      checkListedDevices(3, ['/dev/bus/usb/001/001']);
    });

    it('other platforms go straight to libusb', () => {
      expect(probeUsbAccess(fakeFs({ platform: 'darwin', exists: () => false }))).to.deep.equal([]);
    });

    it('on this host (no USB bus) opening the real bus fails with no-usb-bus', async function () {
      if (existsSync('/dev/bus/usb')) this.skip();
      await expectUsbAccessError(() => NodeUsbBus.open(), 'no-usb-bus');
    });
  });

  describe('the real node-usb binding', () => {
    it('behind a simulated bus it loads, lists, and follows hot-plug without keeping the process alive', async () => {
      const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../device/mt3620/helpers/libusb-watch-child.ts', import.meta.url))], { encoding: 'utf8', timeout: 20_000 });
      expect(child.status, child.stderr).to.equal(0);
      expect(JSON.parse(child.stdout)).to.have.property('devices').that.is.a('number');
    });
  });
});
