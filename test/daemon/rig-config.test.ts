import { expect } from 'chai';
import { parseRigConfig } from '../../src/daemon/rig-config.js';
import { InputError } from '../../src/util/failure.js';

describe('rig file', () => {
  it('runs the emulator fast when the rig does not say, and keeps a speed it does say', () => {
    const rig = (speed: string) => `name: r\nemulator:\n  boards: 1\n${speed}boards:\n  - { id: emu-1, driver: emulated, emulatorBoard: 0 }\n`;
    expect(parseRigConfig(rig(''), 'r.yaml').emulator).to.deep.equal({ boards: 1, speed: 'fast' });
    expect(parseRigConfig(rig('  speed: real\n'), 'r.yaml').emulator).to.deep.equal({ boards: 1, speed: 'real' });
    expect(() => parseRigConfig(rig('  speed: warp\n'), 'r.yaml')).to.throw(/r\.yaml.*speed/);
  });

  describe('daemon.listen', () => {
    const rig = (daemon: string) => `name: r\n${daemon}boards:\n  - { id: b, driver: mt3620, usbSerial: AS1 }\n`;
    const listenOf = (value: string) => parseRigConfig(rig(`daemon:\n  listen: '${value}'\n`), 'rigs/r.yaml').daemon.listen;
    const refusal = (value: string): InputError => {
      try {
        listenOf(value);
      } catch (error) {
        expect(error).to.be.instanceOf(InputError);
        return error as InputError;
      }
      throw new Error(`daemon.listen '${value}' was accepted`);
    };

    it('is read into host and port when the rig is loaded; left out, it is 127.0.0.1:8480', () => {
      expect(parseRigConfig(rig(''), 'rigs/r.yaml').daemon.listen).to.deep.equal({ host: '127.0.0.1', port: 8480 });
      expect(listenOf('127.0.0.1:0')).to.deep.equal({ host: '127.0.0.1', port: 0 });
      expect(listenOf('127.8.9.10:9000')).to.deep.equal({ host: '127.8.9.10', port: 9000 });
      expect(listenOf('[::1]:8480')).to.deep.equal({ host: '::1', port: 8480 });
    });

    it('refuses localhost, 0.0.0.0 and other hosts, naming the file and the field', () => {
      const localhost = refusal('localhost:8480');
      expect(localhost.code).to.equal('non-loopback-address');
      expect(localhost.message).to.match(/^rigs\/r\.yaml: at \$\.daemon\.listen: 'localhost' is a host name, not a loopback address: give 127\.0\.0\.1/);
      const any = refusal('0.0.0.0:8480');
      expect(any.code).to.equal('non-loopback-address');
      expect(any.message).to.match(/^rigs\/r\.yaml: at \$\.daemon\.listen: 0\.0\.0\.0 is not a loopback address \(it means every interface\)/);
      expect(refusal('192.168.1.10:8480').code).to.equal('non-loopback-address');
    });

    it('refuses a malformed value or port with the text given', () => {
      for (const value of ['127.0.0.1', '8480', '127.0.0.1:65536', '::1:8480', '']) {
        const error = refusal(value);
        expect(error.code, value).to.equal('listen-invalid');
        expect(error.message, value).to.match(/^rigs\/r\.yaml: at \$\.daemon\.listen: /);
      }
      expect(refusal('127.0.0.1:65536').message).to.include('port 65536 is not in 0..65535');
    });
  });

  it('reads bench-wired app UARTs of a real board, refuses them on an emulated one, and keeps the emulator trace setting', () => {
    const rig = parseRigConfig(
      `name: r\nemulator:\n  boards: 1\n  trace: false\nboards:\n  - { id: b, driver: mt3620, usbSerial: AS1, appUarts: { sensor: /dev/serial/by-id/usb-FTDI_FT232R-if00 } }\n  - { id: e, driver: emulated, emulatorBoard: 0 }\n`,
      'r.yaml',
    );
    expect(rig.boards[0]!.appUarts).to.deep.equal({ sensor: '/dev/serial/by-id/usb-FTDI_FT232R-if00' });
    expect(rig.emulator?.trace).to.equal(false);
    const emulatedWithUart = `name: r\nemulator:\n  boards: 1\nboards:\n  - { id: e, driver: emulated, emulatorBoard: 0, appUarts: { sensor: /dev/ttyUSB9 } }\n`;
    expect(() => parseRigConfig(emulatedWithUart, 'r.yaml')).to.throw(/r\.yaml.*boards\[0\]\.appUarts: applies to mt3620 boards only/);
    const badName = `name: r\nboards:\n  - { id: b, driver: mt3620, usbSerial: AS1, appUarts: { 'a b': /dev/ttyUSB9 } }\n`;
    expect(() => parseRigConfig(badName, 'r.yaml')).to.throw(/r\.yaml/);
    const notADevice = `name: r\nboards:\n  - { id: b, driver: mt3620, usbSerial: AS1, appUarts: { sensor: ttyUSB9 } }\n`;
    expect(() => parseRigConfig(notADevice, 'r.yaml')).to.throw(/appUarts/);
  });
});
