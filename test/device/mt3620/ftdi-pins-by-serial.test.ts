import { expect } from 'chai';
import { openFtdiPinsBySerial } from '../../../src/device/mt3620/ftdi-pins-by-serial.js';
import { UsbAccessError } from '../../../src/link/usb-access-error.js';
import { UsbDiscovery } from '../../../src/link/usb-discovery.js';
import { RigError } from '../../../src/util/failure.js';
import { FakeUsbBus, ScriptedLister } from './helpers/fake-usb-bus.js';
import { BOARD_2, serialPorts, usbDevices } from './helpers/recordings.js';

/**
 * The pins `sphere-rig recover --usb-serial` drives, on a recorded host with
 * two boards: found by serial, reset on BD6 of that board's own FT4232H, and
 * its recovery UART (interface D) named.
 */
describe('FTDI pins of a real board found by its USB serial (recorded host)', () => {
  const host = (devices = 'usb-devices-two-boards.json') => {
    const bus = new FakeUsbBus(usbDevices(devices));
    const discovery = new UsbDiscovery(bus, new ScriptedLister([serialPorts()]).list, { ttyPollMs: 5 });
    return { bus, discovery };
  };

  it("drives the named board's device, not the other one's, and names its interface D tty", async () => {
    const { bus, discovery } = host();
    const expected = (await discovery.scan()).boards.find((b) => b.usbSerial === BOARD_2)!;
    const board = await openFtdiPinsBySerial(BOARD_2, { timeoutMs: 5000 }, discovery);
    expect(board.recoveryTty).to.equal(expected.ttys.D!.path);
    await board.pins.setRecoveryStrap(true);
    await board.pins.reset();
    await board.pins.setRecoveryStrap(false);
    expect(bus.opened.map((o) => [o.busNumber, o.deviceAddress])).to.deep.equal([[expected.busNumber, expected.deviceAddress]]);
    const trace = bus.opened[0]!.device.trace();
    expect(trace).to.include('control 40 0b 0140 0002'); // BD6 on interface B
    expect(trace).to.include('bulk-out 2 [08]'); // strap AD3 high
    expect(trace.at(-1)).to.equal('close');
    await board.close();
  });

  it('refuses at once, naming the udev rule, a board whose USB device may not be opened', async () => {
    const { bus, discovery } = host('usb-devices-two-boards-no-permission.json');
    const error = await openFtdiPinsBySerial(BOARD_2, { timeoutMs: 5000 }, discovery).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(UsbAccessError);
    expect((error as UsbAccessError).code).to.equal('usb-permission-denied');
    expect((error as Error).message).to.match(/udev/);
    expect(bus.opened).to.deep.equal([]);
  });

  it('says which serial it could not find, and what lists the attached ones', async () => {
    const { discovery } = host();
    const error = await openFtdiPinsBySerial('NOPE1234', { timeoutMs: 5000 }, discovery).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(RigError);
    expect((error as RigError).code).to.equal('board-not-found');
    expect((error as RigError).message).to.match(/NOPE1234.*boards discover/);
  });
});
