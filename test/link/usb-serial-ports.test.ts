import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
// serialport's own udev parser, to replay the recorded `udevadm info -e` through it.
import { linuxList } from '@serialport/bindings-cpp/dist/linux-list.js';
import { interfaceOfPort, mapBoardTtys } from '../../src/link/usb-serial-ports.js';
import { listFromSysfs } from '../../src/link/usb-sysfs-lister.js';
import { commandOnPath } from '../../src/link/usb-serialport-lister.js';
import { BOARD_1, BOARD_2, byId, fixtureText, serialPorts } from '../device/mt3620/helpers/recordings.js';

/** Which tty is which interface of which board, from recorded serial-port listings. */
describe('tty mapping from serial-port listings', () => {
  it('maps both boards of the recorded two-board host: A-D to ttyUSB0-3 and ttyUSB4-7, with by-id paths', () => {
    const boards = mapBoardTtys(serialPorts()).filter((b) => b.namedMt3620);
    expect(boards.map((b) => b.usbSerial)).to.deep.equal([BOARD_1, BOARD_2]);
    for (const [i, board] of boards.entries()) {
      expect(board.warnings).to.deep.equal([]);
      for (const [n, port] of (['A', 'B', 'C', 'D'] as const).entries()) {
        expect(board.ttys[port]).to.deep.equal({ port, interfaceNumber: n, path: `/dev/ttyUSB${4 * i + n}`, byIdPath: byId(board.usbSerial, n) });
      }
    }
  });

  it('keeps the plain FT4232H apart (not named MT3620) and drops the FT232R and ttyS0', () => {
    const boards = mapBoardTtys(serialPorts());
    expect(boards.map((b) => [b.usbSerial, b.namedMt3620])).to.deep.equal([
      [BOARD_1, true],
      [BOARD_2, true],
      ['FT6XQ0B1', false],
    ]);
  });

  it("replaying the recorded `udevadm info -e` through serialport's parser gives exactly the recorded SerialPort.list()", async () => {
    const text = fixtureText('udevadm-info-export-two-boards.txt');
    const spawn = () => {
      const child = Object.assign(new EventEmitter(), { stdout: Readable.from([text]) });
      setImmediate(() => child.emit('close', 0));
      return child;
    };
    const ports = (await linuxList(spawn as never)) as unknown as Array<Record<string, unknown>>;
    const defined = ports.map((p) => Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)));
    expect(defined).to.deep.equal(serialPorts());
  });

  it('follows a board re-enumerated onto scattered tty numbers (ttyUSB1, 2, 3, 13); the by-id paths stay', () => {
    const board = mapBoardTtys(serialPorts('serialport-list-after-replug.json')).find((b) => b.usbSerial === BOARD_1)!;
    expect(Object.values(board.ttys).map((t) => [t.port, t.path, t.byIdPath])).to.deep.equal([
      ['A', '/dev/ttyUSB1', byId(BOARD_1, 0)],
      ['B', '/dev/ttyUSB2', byId(BOARD_1, 1)],
      ['C', '/dev/ttyUSB3', byId(BOARD_1, 2)],
      ['D', '/dev/ttyUSB13', byId(BOARD_1, 3)],
    ]);
  });

  it('reads the interface letter of Windows FTDI bus ids (COM ports)', () => {
    const [board] = mapBoardTtys(serialPorts('serialport-list-windows-one-board.json'));
    expect(board!.usbSerial).to.equal(BOARD_1);
    expect(Object.values(board!.ttys).map((t) => [t.port, t.path, t.byIdPath])).to.deep.equal([
      ['A', 'COM5', null],
      ['B', 'COM6', null],
      ['C', 'COM7', null],
      ['D', 'COM8', null],
    ]);
    expect(interfaceOfPort({ path: 'COM7', pnpId: 'FTDIBUS\\VID_0403+PID_6011+AS0T5R9KQ2C\\0000' })).to.deep.equal({ usbSerial: BOARD_1, interfaceNumber: 2 });
  });

  it('without interface numbers in the listing, falls back to tty order and says so', () => {
    const bare = serialPorts()
      .filter((p) => p.serialNumber === BOARD_2)
      .map(({ pnpId: _pnpId, ...rest }) => rest);
    const [board] = mapBoardTtys(bare.reverse());
    expect(board!.ttys.C!.path).to.equal('/dev/ttyUSB6');
    expect(board!.warnings[0]).to.contain('assumed tty order /dev/ttyUSB4, /dev/ttyUSB5, /dev/ttyUSB6, /dev/ttyUSB7');
  });

  it('lists ttys from sysfs when udevadm is missing: interface number, port path, serial and by-id link', () => {
    const root = mkdtempSync(join(tmpdir(), 'sphere-rig-sysfs-'));
    try {
      const sys = join(root, 'sys');
      const dev = join(root, 'dev');
      const usbDevice = join(sys, 'devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2');
      const attributes = { idVendor: '0403', idProduct: '6011', serial: BOARD_1, manufacturer: 'Microsoft', product: 'MSFT MT3620 Std Interface' };
      mkdirSync(usbDevice, { recursive: true });
      for (const [name, value] of Object.entries(attributes)) writeFileSync(join(usbDevice, name), `${value}\n`);
      mkdirSync(join(sys, 'class/tty'), { recursive: true });
      mkdirSync(join(dev, 'serial/by-id'), { recursive: true });
      for (let n = 0; n < 4; n += 1) {
        const port = join(usbDevice, `1-1.2:1.${n}`, `ttyUSB${n}`);
        mkdirSync(join(port, 'tty', `ttyUSB${n}`), { recursive: true });
        writeFileSync(join(usbDevice, `1-1.2:1.${n}`, 'bInterfaceNumber'), `0${n}\n`);
        symlinkSync(port, join(port, 'tty', `ttyUSB${n}`, 'device'));
        symlinkSync(join(port, 'tty', `ttyUSB${n}`), join(sys, 'class/tty', `ttyUSB${n}`));
        writeFileSync(join(dev, `ttyUSB${n}`), '');
        symlinkSync(`../../ttyUSB${n}`, join(dev, 'serial/by-id', `usb-Microsoft_MSFT_MT3620_Std_Interface_${BOARD_1}-if0${n}-port0`));
      }
      mkdirSync(join(sys, 'class/tty/ttyS0'));
      const records = listFromSysfs({ sysRoot: sys, devRoot: dev });
      expect(records).to.have.length(4);
      expect(records[2]).to.deep.include({ path: join(dev, 'ttyUSB2'), interfaceNumber: 2, locationId: '1-1.2', serialNumber: BOARD_1, vendorId: '0403', productId: '6011', product: 'MSFT MT3620 Std Interface' });
      const [board] = mapBoardTtys(records);
      expect(board).to.deep.include({ usbSerial: BOARD_1, portPath: '1-1.2', namedMt3620: true });
      expect(board!.ttys.D).to.deep.equal({ port: 'D', interfaceNumber: 3, path: join(dev, 'ttyUSB3'), byIdPath: `/dev/serial/by-id/usb-Microsoft_MSFT_MT3620_Std_Interface_${BOARD_1}-if03-port0` });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('knows whether a command is on PATH (serialport is not asked to spawn a missing udevadm)', () => {
    expect(commandOnPath('sh')).to.equal(true);
    expect(commandOnPath('udevadm', '/nonexistent')).to.equal(false);
  });
});
