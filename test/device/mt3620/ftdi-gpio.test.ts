import { expect } from 'chai';
import { FtdiBoardPins } from '../../../src/device/mt3620/ftdi-board-pins.js';
import { FtdiGpio } from '../../../src/device/mt3620/ftdi-gpio.js';
import { bmRequestTypeOf, bulkOutEndpoint, setBitmodeSetup } from '../../../src/device/mt3620/ftdi-protocol.js';
import { RigError } from '../../../src/util/failure.js';
import { FakeFtdiDevice } from './helpers/fake-ftdi-device.js';

/**
 * The exact USB traffic of the reset line and the recovery strap, against a
 * fake FT4232H that records every call. Trace format:
 *   control <bmRequestType> <bRequest> <wValue> <wIndex>     (hex)
 *   bulk-out <endpoint> [<bytes>]
 * SET_BITMODE is bRequest 0x0b with wValue (mode << 8) | mask; RESET (0x00)
 * with wValue 2 and 1 flushes the chip's buffers; wIndex is interface + 1.
 */
function rig(options: { resetPort?: 'B' | 'D'; pulseMs?: number } = {}) {
  const device = new FakeFtdiDevice();
  const hooks: string[] = [];
  let opens = 0;
  const gpio = new FtdiGpio(async () => {
    opens += 1;
    return device;
  });
  const pins = new FtdiBoardPins(gpio, {
    resetPort: options.resetPort,
    pulseMs: options.pulseMs ?? 5,
    ttyHooks: {
      releasing: async (port) => void hooks.push(`releasing ${port}`),
      returned: (port) => void hooks.push(`returned ${port}`),
    },
  });
  return { device, pins, gpio, hooks, opens: () => opens };
}

const RESET_ON_B = [
  'open',
  'claim 1', // ftdi_sio detached from interface B
  'control 40 0b 0140 0002', // SET_BITMODE: async bit-bang, BD6 output
  'bulk-out 4 [00]', // SYSRST_N low
  'bulk-out 4 [40]', // released
  'control 40 00 0002 0002', // flush pin samples held for the host
  'control 40 00 0001 0002', // flush pin writes
  'control 40 0b 0000 0002', // back to UART
  'release 1', // ftdi_sio bound again
  'close',
];

describe('FTDI bit-bang pins of a real MT3620 (exact USB traffic)', () => {
  it('SET_BITMODE is a vendor OUT transfer to the device: bmRequestType 0x40, bRequest 0x0B, wIndex = interface + 1', () => {
    const setup = setBitmodeSetup(1, 0x01, 0x40);
    expect([bmRequestTypeOf(setup), setup.request, setup.value, setup.index]).to.deep.equal([0x40, 0x0b, 0x0140, 0x0002]);
  });

  it('reset pulses BD6 low on interface B and gives the interface back to ftdi_sio in UART mode', async () => {
    const { device, pins, hooks } = rig();
    await pins.reset();
    expect(device.trace()).to.deep.equal(RESET_ON_B);
    expect(hooks).to.deep.equal(['releasing B', 'returned B']);
    expect(device.opened).to.equal(false);
  });

  it('reset on interface D (boards where BD6 is not populated) pulses DD6 through endpoint 8', async () => {
    const { device, pins, hooks } = rig({ resetPort: 'D' });
    await pins.reset();
    expect(device.trace()).to.deep.equal([
      'open',
      'claim 3',
      'control 40 0b 0140 0004',
      'bulk-out 8 [00]',
      'bulk-out 8 [40]',
      'control 40 00 0002 0004',
      'control 40 00 0001 0004',
      'control 40 0b 0000 0004',
      'release 3',
      'close',
    ]);
    expect(hooks).to.deep.equal(['releasing D', 'returned D']);
  });

  it('holds SYSRST_N low for the pulse width', async () => {
    const { device, pins } = rig({ pulseMs: 60 });
    const times: number[] = [];
    const transferOut = device.transferOut.bind(device);
    device.transferOut = async (endpoint, data) => {
      times.push(performance.now());
      return transferOut(endpoint, data);
    };
    await pins.reset();
    expect(times[1]! - times[0]!).to.be.at.least(55);
  });

  it('the recovery strap holds AD3 high on interface A until it is lowered; the console tty is released meanwhile', async () => {
    const { device, pins, hooks } = rig();
    await pins.setRecoveryStrap(true);
    expect(device.trace()).to.deep.equal(['open', 'claim 0', 'control 40 0b 0108 0001', 'bulk-out 2 [08]']);
    expect(device.claimed.has(0)).to.equal(true);
    expect(pins.strapHigh).to.equal(true);
    await pins.setRecoveryStrap(true); // already high: nothing more on the wire
    await pins.setRecoveryStrap(false);
    expect(device.trace().slice(4)).to.deep.equal(['bulk-out 2 [00]', 'control 40 00 0002 0001', 'control 40 00 0001 0001', 'control 40 0b 0000 0001', 'release 0', 'close']);
    expect(hooks).to.deep.equal(['releasing A', 'returned A']);
    await pins.setRecoveryStrap(false); // not held: interface A is a UART again; nothing to do
    expect(device.calls).to.have.length(10);
  });

  it('entering recovery (strap high, reset, strap low, as the recovery client calls them) is this byte sequence', async () => {
    const { device, pins, hooks } = rig();
    await pins.setRecoveryStrap(true);
    await pins.reset();
    await pins.setRecoveryStrap(false);
    expect(device.trace()).to.deep.equal([
      'open',
      'claim 0',
      'control 40 0b 0108 0001', // interface A: async bit-bang, AD3 output
      'bulk-out 2 [08]', // DEBUG_RTS high: recovery strap
      'claim 1',
      'control 40 0b 0140 0002', // interface B: async bit-bang, BD6 output
      'bulk-out 4 [00]', // SYSRST_N low
      'bulk-out 4 [40]', // released: the ROM samples the strap and starts recovery
      'control 40 00 0002 0002',
      'control 40 00 0001 0002',
      'control 40 0b 0000 0002',
      'release 1',
      'bulk-out 2 [00]', // strap low (after the ROM banner)
      'control 40 00 0002 0001',
      'control 40 00 0001 0001',
      'control 40 0b 0000 0001',
      'release 0',
      'close',
    ]);
    expect(hooks).to.deep.equal(['releasing A', 'releasing B', 'returned B', 'returned A']);
  });

  it('uses the bulk OUT endpoints of the configuration descriptor, or the FT4232H defaults without one', () => {
    const described = new FakeFtdiDevice();
    expect([0, 1, 2, 3].map((i) => bulkOutEndpoint(described, i))).to.deep.equal([2, 4, 6, 8]);
    const odd = new FakeFtdiDevice('AS0T5R9KQ2', { interfaces: [{ interfaceNumber: 1, alternate: { endpoints: [{ endpointNumber: 12, direction: 'out', type: 'bulk' }] } }] });
    expect(bulkOutEndpoint(odd, 1)).to.equal(12);
    expect(bulkOutEndpoint(new FakeFtdiDevice('x', null), 3)).to.equal(8);
  });

  it('a reset cancelled mid-pulse still releases SYSRST_N and gives the interface back', async () => {
    const { device, pins, hooks } = rig({ pulseMs: 5_000 });
    const controller = new AbortController();
    const pending = pins.reset({ signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort(new Error('operator'));
    const error = await pending.then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(RigError);
    expect((error as RigError).failureClass).to.equal('cancelled');
    expect(device.trace()).to.deep.equal(RESET_ON_B);
    expect(hooks).to.deep.equal(['releasing B', 'returned B']);
  });

  it('a transfer that never completes times out and the device is closed, not reused', async () => {
    const { device, pins, opens } = rig();
    device.hangNext = 'bulk-out';
    const error = await pins.setRecoveryStrap(true, { timeoutMs: 50 }).then(() => undefined, (e: unknown) => e);
    expect((error as RigError).failureClass).to.equal('timeout');
    expect((error as Error).message).to.contain('FTDI interface A: writing pins 0x08');
    // The hung handle is closed, then the fail-safe puts interface A back to UART on a fresh one.
    expect(device.trace()).to.deep.equal(['open', 'claim 0', 'control 40 0b 0108 0001', 'close', 'open', 'control 40 0b 0000 0001', 'reattach 0', 'close']);
    expect(pins.strapHigh).to.equal(false);
    await pins.reset();
    expect(opens()).to.equal(3);
  });

  describe('fail-safes: every interface the rig drives ends in UART mode, bound to ftdi_sio', () => {
    it('at attach (and so at daemon start): SET_BITMODE 0 and a kernel-driver re-attach on interfaces A and B, without claiming them', async () => {
      const { device, pins, hooks } = rig();
      await pins.failSafe();
      expect(device.trace()).to.deep.equal([
        'open',
        'control 40 0b 0000 0001', // interface A: SET_BITMODE 0 (UART), wIndex 1
        'reattach 0', // ftdi_sio bound again if a crashed holder left it detached
        'control 40 0b 0000 0002', // interface B (the reset line)
        'reattach 1',
        'close',
      ]);
      expect(hooks, 'no tty is taken away: nothing is claimed').to.deep.equal([]);
    });

    it('on a board whose reset is on interface D: A and D', async () => {
      const { device, pins } = rig({ resetPort: 'D' });
      await pins.failSafe();
      expect(device.trace()).to.deep.equal(['open', 'control 40 0b 0000 0001', 'reattach 0', 'control 40 0b 0000 0004', 'reattach 3', 'close']);
    });

    it('with the strap held, gives interface A back the ordinary way (flush, UART, release)', async () => {
      const { device, pins } = rig();
      await pins.setRecoveryStrap(true);
      await pins.failSafe();
      expect(device.trace().slice(4)).to.deep.equal([
        'control 40 00 0002 0001',
        'control 40 00 0001 0001',
        'control 40 0b 0000 0001',
        'release 0',
        'close',
        'open',
        'control 40 0b 0000 0002',
        'reattach 1',
        'close',
      ]);
      expect(pins.strapHigh).to.equal(false);
    });

    it('after a control transfer times out mid-reset: the handle is closed and interface B is put back to UART on a fresh one', async () => {
      const { device, pins, hooks, opens } = rig();
      device.hangNext = 'control';
      const error = await pins.reset({ timeoutMs: 50 }).then(() => undefined, (e: unknown) => e);
      expect(error).to.deep.include({ failureClass: 'timeout' });
      expect((error as Error).message).to.contain('interface B: SET_BITMODE bit-bang');
      expect(device.trace()).to.deep.equal(['open', 'claim 1', 'close', 'open', 'control 40 0b 0000 0002', 'reattach 1', 'close']);
      expect(hooks).to.deep.equal(['releasing B', 'returned B']);
      expect(opens()).to.equal(2);
      expect(device.opened).to.equal(false);
    });

    it('a fail-safe that itself times out does not loop: it gives up, says so, and the rig goes on', async () => {
      const { device, gpio } = rig();
      device.hangNext = 'control';
      const error = await gpio.restoreUart([0, 1], { timeoutMs: 50 }).then(() => undefined, (e: unknown) => e);
      expect(error).to.deep.include({ failureClass: 'timeout' });
      // Interface A's transfer hung; interface B was still tried on a fresh handle.
      expect(device.trace()).to.deep.equal(['open', 'close', 'open', 'control 40 0b 0000 0002', 'reattach 1', 'close']);
    });
  });

  it('a stalled control transfer is an infrastructure error naming the step, and the interface is given back', async () => {
    const { device, pins } = rig();
    device.stallNext = 'control';
    const error = await pins.reset().then(() => undefined, (e: unknown) => e);
    expect(error).to.deep.include({ failureClass: 'infra-error', code: 'ftdi-transfer-stalled' });
    expect((error as Error).message).to.contain('interface B: SET_BITMODE bit-bang').and.contain('stall');
    expect(device.trace()).to.include('release 1');
    expect(device.opened).to.equal(false);
  });

  it('pin calls run one at a time, in the order they were made', async () => {
    const { device, pins } = rig();
    await Promise.all([pins.setRecoveryStrap(true), pins.reset(), pins.setRecoveryStrap(false)]);
    expect(device.trace()[3]).to.equal('bulk-out 2 [08]');
    expect(device.trace()[4]).to.equal('claim 1');
    expect(device.trace().at(-2)).to.equal('release 0');
  });

  it('close lowers a held strap and closes the device', async () => {
    const { device, pins } = rig();
    await pins.setRecoveryStrap(true);
    await pins.close();
    expect(device.trace().slice(-3)).to.deep.equal(['control 40 0b 0000 0001', 'release 0', 'close']);
  });
});
