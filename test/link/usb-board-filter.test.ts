import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MICROSOFT_UDEV_RULE, UDEV_RULE_FILE } from '../../src/link/usb-board-identity.js';
import { classifyUsbDevice } from '../../src/link/usb-board-filter.js';
import { portPathOf, usbDeviceNode } from '../../src/link/usb-device-facts.js';
import { BOARD_1, BOARD_2, usbDevices } from '../device/mt3620/helpers/recordings.js';

/** Which USB devices are MT3620 boards, from the recorded device list of a two-board bench host. */
describe('USB device filtering (recorded descriptors of a two-board host)', () => {
  it('finds the two MT3620 boards by product string, with their serials and port paths', () => {
    const boards = usbDevices()
      .map(classifyUsbDevice)
      .filter((v) => v.kind === 'mt3620');
    expect(boards.map((b) => [b.usbSerial, b.portPath, b.warnings])).to.deep.equal([
      [BOARD_1, '1-1.2', []],
      [BOARD_2, '1-1.3', []],
    ]);
  });

  it('names a plain FT4232H and leaves it alone; ignores hubs, keyboards and single-port FTDI chips', () => {
    const verdicts = usbDevices().map(classifyUsbDevice);
    const other = verdicts.filter((v) => v.kind === 'other-ft4232h');
    expect(other).to.have.length(1);
    expect(other[0]).to.include({ portPath: '1-1.4' });
    expect((other[0] as { reason: string }).reason).to.contain('"Quad RS232-HS"').and.contain('not an MT3620 interface board');
    expect(verdicts.filter((v) => v.kind === 'unrelated')).to.have.length(5);
  });

  it('reports FT4232H devices it may not open as inaccessible, naming the udev rule', () => {
    const verdicts = usbDevices('usb-devices-two-boards-no-permission.json').map(classifyUsbDevice);
    const inaccessible = verdicts.filter((v) => v.kind === 'inaccessible');
    expect(inaccessible.map((v) => [v.portPath, v.node, v.permission])).to.deep.equal([
      ['1-1.2', '/dev/bus/usb/001/005', true],
      ['1-1.3', '/dev/bus/usb/001/006', true],
      ['1-1.4', '/dev/bus/usb/001/007', true],
    ]);
    expect(inaccessible[0]!.reason).to.contain('rigs/udev/99-azure-sphere.rules').and.contain('azsphere group');
    expect(verdicts.some((v) => v.kind === 'mt3620')).to.equal(false);
  });

  it('accepts a board whose serial lacks the AS prefix, with a warning', () => {
    const [board] = usbDevices().filter((d) => d.deviceAddress === 5);
    const verdict = classifyUsbDevice({ ...board!, strings: { ...board!.strings!, serialNumber: 'FT00AB12' } });
    expect(verdict.kind).to.equal('mt3620');
    expect((verdict as { warnings: string[] }).warnings[0]).to.contain('does not start with AS');
  });

  it('refuses a board without a serial number: a rig binds by serial', () => {
    const [board] = usbDevices().filter((d) => d.deviceAddress === 5);
    const verdict = classifyUsbDevice({ ...board!, strings: { ...board!.strings!, serialNumber: null } });
    expect(verdict).to.include({ kind: 'inaccessible', permission: false });
  });

  it("ships Microsoft's udev rule verbatim in the rule file the messages name", () => {
    const rules = readFileSync(fileURLToPath(new URL(`../../${UDEV_RULE_FILE}`, import.meta.url)), 'utf8');
    expect(rules.split('\n')).to.include(MICROSOFT_UDEV_RULE);
  });

  it('names port paths and device nodes the way Linux does', () => {
    expect(portPathOf(1, [1, 2])).to.equal('1-1.2');
    expect(portPathOf(3, [4])).to.equal('3-4');
    expect(portPathOf(2, [])).to.equal('2-0');
    expect(usbDeviceNode(1, 5)).to.equal('/dev/bus/usb/001/005');
  });
});
