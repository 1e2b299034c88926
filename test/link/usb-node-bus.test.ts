import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsbDiscovery } from '../../src/link/usb-discovery.js';
import type { UsbHotplugEvent } from '../../src/link/usb-bus.js';
import { portPathOf, type UsbDeviceFacts } from '../../src/link/usb-device-facts.js';
import { NodeUsbBus, type LibusbDevice, type LibusbModule } from '../../src/link/usb-node-bus.js';
import { readSysfsUsbStrings } from '../../src/link/usb-sysfs-strings.js';
import { FtdiGpio } from '../../src/device/mt3620/ftdi-gpio.js';
import { FtdiBoardPins } from '../../src/device/mt3620/ftdi-board-pins.js';
import { FakeFtdiDevice } from '../device/mt3620/helpers/fake-ftdi-device.js';
import { ScriptedLister } from '../device/mt3620/helpers/fake-usb-bus.js';
import { BOARD_1, BOARD_2, serialPorts, usbDevices } from '../device/mt3620/helpers/recordings.js';

/**
 * A recorded libusb device the way node-usb hands it out: one shared object
 * per device, whose open/close and string requests are recorded. Reads can be
 * made to fail (libusb errno) a number of times first, as right after hot-plug.
 */
class RecordedLibusbDevice implements LibusbDevice {
  readonly calls: string[] = [];
  isOpen = false;
  failures: number[] = [];
  readonly busNumber: number;
  readonly deviceAddress: number;
  readonly portNumbers: number[];
  readonly deviceDescriptor: LibusbDevice['deviceDescriptor'];

  constructor(readonly facts: UsbDeviceFacts) {
    this.busNumber = facts.busNumber;
    this.deviceAddress = facts.deviceAddress;
    this.portNumbers = facts.portNumbers;
    this.deviceDescriptor = { idVendor: facts.idVendor, idProduct: facts.idProduct, bcdDevice: facts.bcdDevice ?? 0, iManufacturer: 1, iProduct: 2, iSerialNumber: 3 };
  }

  open(): void {
    const errno = this.failures.shift();
    this.calls.push(errno === undefined ? 'open' : `open failed ${errno}`);
    if (errno !== undefined) throw Object.assign(new Error(`LIBUSB_ERROR ${errno}`), { errno });
    this.isOpen = true;
  }

  close(): void {
    this.calls.push('close');
    this.isOpen = false;
  }

  getStringDescriptor(index: number, callback: (error?: unknown, value?: string) => void): void {
    this.calls.push(`string ${index}`);
    const strings = this.facts.strings!;
    callback(undefined, [strings.manufacturer, strings.product, strings.serialNumber][index - 1] ?? undefined);
  }

  interface(): { isKernelDriverActive(): boolean; attachKernelDriver(): void } {
    return { isKernelDriverActive: () => true, attachKernelDriver: () => undefined };
  }
}

/** node-usb's module surface over recorded devices; WebUSB handles are recording fakes. */
function fakeNodeUsb(devices: RecordedLibusbDevice[]) {
  const hotplug = new EventEmitter();
  const handles: FakeFtdiDevice[] = [];
  const module: LibusbModule = {
    getDeviceList: () => devices,
    WebUSBDevice: {
      createInstance: async () => {
        const handle = new FakeFtdiDevice();
        handles.push(handle);
        return handle;
      },
    },
    usb: {
      on: (event, listener) => hotplug.on(event, listener),
      off: (event, listener) => hotplug.off(event, listener),
      unrefHotplugEvents: () => undefined,
    },
  };
  return { module, hotplug, handles };
}

/** /sys/bus/usb/devices/<port path> with the kernel's copy of each device's strings. */
function sysfsTree(root: string, devices: readonly UsbDeviceFacts[]): string {
  const sys = join(root, 'sys');
  for (const facts of devices) {
    if (!facts.portNumbers.length) continue;
    const dir = join(sys, 'bus/usb/devices', portPathOf(facts.busNumber, facts.portNumbers));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'busnum'), `${facts.busNumber}\n`);
    writeFileSync(join(dir, 'devnum'), `${facts.deviceAddress}\n`);
    if (facts.strings?.manufacturer) writeFileSync(join(dir, 'manufacturer'), `${facts.strings.manufacturer}\n`);
    if (facts.strings?.product) writeFileSync(join(dir, 'product'), `${facts.strings.product}\n`);
    if (facts.strings?.serialNumber) writeFileSync(join(dir, 'serial'), `${facts.strings.serialNumber}\n`);
  }
  return sys;
}

const LIBUSB_ERROR_ACCESS = -3;
const LIBUSB_ERROR_BUSY = -6;

describe('the node-usb bus: discovery that never disturbs a held board', () => {
  let root: string;
  let devices: RecordedLibusbDevice[];
  const board1 = (): RecordedLibusbDevice => devices.find((d) => d.deviceAddress === 5)!;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'sphere-rig-usbbus-'));
    devices = usbDevices().map((facts) => new RecordedLibusbDevice(facts));
  });

  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('reads manufacturer, product and serial of each FT4232H from sysfs on Linux, opening no device at all', async () => {
    const sysRoot = sysfsTree(root, usbDevices());
    const bus = NodeUsbBus.withModule(fakeNodeUsb(devices).module, { platform: 'linux', sysRoot });
    const listed = await bus.devices({ timeoutMs: 1_000 });
    expect(listed.filter((d) => d.strings).map((d) => [portPathOf(d.busNumber, d.portNumbers), d.strings!.serialNumber, d.strings!.product])).to.deep.equal([
      ['1-1.2', BOARD_1, 'MSFT MT3620 Std Interface'],
      ['1-1.3', BOARD_2, 'MSFT MT3620 Std Interface'],
      ['1-1.4', 'FT6XQ0B1', 'Quad RS232-HS'],
    ]);
    expect(devices.flatMap((d) => d.calls)).to.deep.equal([]);
  });

  it('a sysfs entry of another device now in that port (busnum/devnum differ) is not taken for this one', () => {
    const facts = usbDevices().find((d) => d.deviceAddress === 5)!;
    const sysRoot = sysfsTree(root, [{ ...facts, deviceAddress: 12 }]);
    expect(readSysfsUsbStrings(facts, sysRoot)).to.equal(undefined);
    expect(readSysfsUsbStrings({ ...facts, deviceAddress: 12 }, sysRoot)).to.deep.include({ serialNumber: BOARD_1 });
  });

  it('without sysfs strings it opens each FT4232H briefly (and nothing else), once per bus address', async () => {
    const bus = NodeUsbBus.withModule(fakeNodeUsb(devices).module, { platform: 'linux', sysRoot: join(root, 'no-sys') });
    await bus.devices({ timeoutMs: 1_000 });
    await bus.devices({ timeoutMs: 1_000 });
    expect(devices.filter((d) => d.calls.length).map((d) => [d.deviceAddress, d.calls])).to.deep.equal([
      [5, ['open', 'string 1', 'string 2', 'string 3', 'close']],
      [6, ['open', 'string 1', 'string 2', 'string 3', 'close']],
      [7, ['open', 'string 1', 'string 2', 'string 3', 'close']],
    ]);
  });

  it('a scan while the FTDI pins hold the board (strap high) neither opens nor closes its device', async () => {
    const { module, handles } = fakeNodeUsb(devices);
    const bus = NodeUsbBus.withModule(module, { platform: 'linux', sysRoot: join(root, 'no-sys') });
    const discovery = new UsbDiscovery(bus, new ScriptedLister([serialPorts()]).list);
    const found = (await discovery.find(BOARD_1, { timeoutMs: 1_000 }))!;
    const pins = new FtdiBoardPins(new FtdiGpio((wait) => discovery.openUsbDevice(found, wait)));
    await pins.setRecoveryStrap(true);
    const before = board1().calls.length;
    const report = await discovery.scan();
    expect(board1().calls.slice(before), 'the shared Device object was not touched').to.deep.equal([]);
    expect(report.boards.map((b) => b.usbSerial), 'the held board is still listed, from what was read before').to.deep.equal([BOARD_1, BOARD_2]);
    expect(handles[0]!.opened, 'the pins’ handle is still open').to.equal(true);
    expect(handles[0]!.claimed.has(0)).to.equal(true);
    const refused = await bus.open(usbDevices().find((d) => d.deviceAddress === 5)!, { timeoutMs: 1_000 }).then(() => undefined, (e: unknown) => e);
    expect(refused).to.deep.include({ code: 'usb-device-held' });
    await pins.setRecoveryStrap(false);
    expect(handles[0]!.opened).to.equal(false);
    // Let go of: a later scan may look at it again.
    await bus.open(usbDevices().find((d) => d.deviceAddress === 5)!, { timeoutMs: 1_000 }).then((h) => h.close());
    discovery.close();
  });

  it('a held board whose strings were never read is reported busy, not opened', async () => {
    const { module } = fakeNodeUsb(devices);
    const bus = NodeUsbBus.withModule(module, { platform: 'linux', sysRoot: join(root, 'no-sys') });
    const handle = await bus.open(usbDevices().find((d) => d.deviceAddress === 5)!, { timeoutMs: 1_000 });
    const listed = await bus.devices({ timeoutMs: 1_000 });
    expect(listed.find((d) => d.deviceAddress === 5)!.stringsError).to.deep.include({ kind: 'busy' });
    expect(board1().calls).to.deep.equal([]);
    await handle.close();
  });

  it('hot-plug: string reads refused right after arrival (access, busy) are retried until they succeed', async () => {
    const { module, hotplug } = fakeNodeUsb(devices);
    const bus = NodeUsbBus.withModule(module, { platform: 'linux', sysRoot: join(root, 'no-sys'), attachRetry: { retryWindowMs: 60_000, retryPollMs: 1 } });
    const events: UsbHotplugEvent[] = [];
    const stop = bus.watch((event) => events.push(event));
    const arriving = board1();
    arriving.failures = [LIBUSB_ERROR_ACCESS, LIBUSB_ERROR_ACCESS, LIBUSB_ERROR_BUSY];
    hotplug.emit('attach', arriving);
    await until(() => events.length === 1);
    expect(arriving.calls).to.deep.equal([`open failed ${LIBUSB_ERROR_ACCESS}`, `open failed ${LIBUSB_ERROR_ACCESS}`, `open failed ${LIBUSB_ERROR_BUSY}`, 'open', 'string 1', 'string 2', 'string 3', 'close']);
    expect(events[0]!.facts.strings).to.deep.include({ serialNumber: BOARD_1 });
    stop();
  });

  it('hot-plug: a device that keeps refusing is reported with why, once the retry window is over', async () => {
    const { module, hotplug } = fakeNodeUsb(devices);
    const bus = NodeUsbBus.withModule(module, { platform: 'linux', sysRoot: join(root, 'no-sys'), attachRetry: { retryWindowMs: 30, retryPollMs: 5 } });
    const events: UsbHotplugEvent[] = [];
    const stop = bus.watch((event) => events.push(event));
    const arriving = board1();
    arriving.failures = Array.from({ length: 10_000 }, () => LIBUSB_ERROR_ACCESS);
    hotplug.emit('attach', arriving);
    await until(() => events.length === 1);
    expect(events[0]!.facts.stringsError).to.deep.include({ kind: 'access' });
    expect(arriving.calls.length, 'tried more than once').to.be.at.least(2);
    stop();
  });

  it('hot-plug on Linux takes the strings from sysfs at once: nothing is opened', async () => {
    const { module, hotplug } = fakeNodeUsb(devices);
    const bus = NodeUsbBus.withModule(module, { platform: 'linux', sysRoot: sysfsTree(root, usbDevices()) });
    const events: UsbHotplugEvent[] = [];
    const stop = bus.watch((event) => events.push(event));
    hotplug.emit('attach', board1());
    await until(() => events.length === 1);
    expect(events[0]!.facts.strings).to.deep.include({ serialNumber: BOARD_1 });
    expect(board1().calls).to.deep.equal([]);
    stop();
  });
});

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
