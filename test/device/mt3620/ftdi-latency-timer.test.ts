import { expect } from 'chai';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FtdiLatencyTimers } from '../../../src/device/mt3620/ftdi-latency-timer.js';
import { BOARD_1 } from './helpers/recordings.js';

/**
 * The FTDI latency timer (ftdi_sio's sysfs latency_timer) of the recovery and
 * console ttys, against a fake sysfs tree: lowered to 1 ms for a recovery,
 * the previous value put back after; an attribute that cannot be written is
 * warned about once and the recovery goes on.
 */
/** A real sysfs attribute without a store method: writing it fails with EACCES, for root too. */
const READ_ONLY_SYSFS_ATTRIBUTE = '/sys/kernel/uevent_seqnum';

describe('FTDI latency timers (fake sysfs tree)', () => {
  let root: string;
  let sys: string;
  let dev: string;
  const attribute = (n: number): string => join(sys, 'bus/usb-serial/devices', `ttyUSB${n}`, 'latency_timer');
  const byId = (n: number): string => join(dev, 'serial/by-id', `usb-Microsoft_MSFT_MT3620_Std_Interface_${BOARD_1}-if0${n}-port0`);

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'sphere-rig-latency-'));
    sys = join(root, 'sys');
    dev = join(root, 'dev');
    mkdirSync(join(dev, 'serial/by-id'), { recursive: true });
    for (const n of [0, 3]) {
      mkdirSync(join(sys, 'bus/usb-serial/devices', `ttyUSB${n}`), { recursive: true });
      writeFileSync(attribute(n), '16\n');
      writeFileSync(join(dev, `ttyUSB${n}`), '');
      symlinkSync(`../../ttyUSB${n}`, byId(n));
    }
  });

  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('names the attribute of a tty given as /dev/ttyUSBn or as its by-id link', () => {
    const timers = new FtdiLatencyTimers({ sysRoot: sys });
    expect(timers.attributePath(join(dev, 'ttyUSB3'))).to.equal(attribute(3));
    expect(timers.attributePath(byId(3))).to.equal(attribute(3));
    expect(timers.attributePath('/dev/pts/7'), 'a pty (the emulator) has none').to.equal(null);
  });

  it('lowers the recovery and console ttys to 1 ms and restores what they had', async () => {
    writeFileSync(attribute(0), '8\n');
    const timers = new FtdiLatencyTimers({ sysRoot: sys });
    const restore = await timers.lower([byId(3), byId(0)]);
    expect(readFileSync(attribute(3), 'utf8')).to.equal('1\n');
    expect(readFileSync(attribute(0), 'utf8')).to.equal('1\n');
    await restore();
    expect(readFileSync(attribute(3), 'utf8')).to.equal('16\n');
    expect(readFileSync(attribute(0), 'utf8')).to.equal('8\n');
  });

  it('leaves a timer already at 1 ms (the udev rule) alone, and restores nothing', async () => {
    writeFileSync(attribute(3), '1\n');
    const timers = new FtdiLatencyTimers({ sysRoot: sys });
    const restore = await timers.lower([byId(3)]);
    writeFileSync(attribute(3), '5\n');
    await restore();
    expect(readFileSync(attribute(3), 'utf8')).to.equal('5\n');
  });

  it('a tty gone by the time it is restored (interface A while the strap was held) is skipped quietly', async () => {
    const timers = new FtdiLatencyTimers({ sysRoot: sys });
    const restore = await timers.lower([byId(0)]);
    rmSync(join(sys, 'bus/usb-serial/devices/ttyUSB0'), { recursive: true });
    await restore();
  });

  it('an attribute that is not writable is warned about once, and the rest goes on', async function () {
    if (process.getuid?.() === 0) {
      // Root writes a read-only file anyway; a read-only sysfs attribute refuses even root.
      if (!existsSync(READ_ONLY_SYSFS_ATTRIBUTE)) this.skip();
      rmSync(attribute(3));
      symlinkSync(READ_ONLY_SYSFS_ATTRIBUTE, attribute(3));
    } else {
      chmodSync(attribute(3), 0o444);
    }
    const warnings: Array<{ message: string; details: Record<string, unknown> }> = [];
    const timers = new FtdiLatencyTimers({ sysRoot: sys, warn: (message, details) => warnings.push({ message, details }) });
    for (let i = 0; i < 3; i += 1) {
      const restore = await timers.lower([byId(3), byId(0)]);
      expect(readFileSync(attribute(0), 'utf8'), 'the console tty is still lowered').to.equal('1\n');
      await restore();
    }
    expect(warnings).to.have.length(1);
    expect(warnings[0]!.message).to.contain('cannot write the FTDI latency timer').and.contain('docs/real-boards.md');
    expect(warnings[0]!.details).to.deep.include({ file: attribute(3) });
    expect(['EACCES', 'EPERM', 'EROFS'], 'a container may mount /sys read-only').to.include(warnings[0]!.details.error);
  });

  it('a tty without the attribute (not ftdi_sio, or no sysfs) is warned about once', async () => {
    const warnings: string[] = [];
    const timers = new FtdiLatencyTimers({ sysRoot: join(root, 'no-sys'), warn: (message) => warnings.push(message) });
    await (await timers.lower([byId(3)]))();
    await (await timers.lower([byId(3)]))();
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.contain('cannot read the FTDI latency timer');
  });
});
