import { expect } from 'chai';
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import type { BoardPins } from '../../src/device/board-pins.js';
import { ControlClient } from '../../src/device/emulated/control-client.js';
import { EmulatedPins } from '../../src/device/emulated/emulated-pins.js';
import { recoverBoard } from '../../src/device/recovery-client.js';
import { ROM_LINE, FAST_IMAGING_LINE, LOW_SPEED_IMAGING_LINE } from '../../src/device/recovery-line.js';
import { SerialRecoveryLine } from '../../src/device/serial-recovery-line.js';
import { keystoreBodyFor } from '../../src/firmware/rig-keystore.js';
import { buildRecoveryImageSet, saveRecoveryImageSet } from '../../src/firmware/recovery-image-set.js';
import { ControlServer } from '../../src/emulator/surfaces/control-server.js';
import { PtyUart } from '../../src/emulator/surfaces/pty-uart.js';
import { RECOVERY_MANIFEST_FILE } from '../../src/image/recovery-set-layout.js';
import { rawSignerFor } from '../../src/pki/raw-signer.js';
import { findSigningRole, generateSigningRoles } from '../../src/pki/signing-roles.js';
import { InputError, RigError } from '../../src/util/failure.js';
import { expectRecoveryFailure } from '../helpers/recovery-failure.js';

/**
 * The host's recovery client against boards that misbehave in every way but
 * the protocol (which the emulator tests cover): a bad image folder, a port
 * that does not open, a board that never answers, a port that vanishes, a
 * caller who gives up. Each ends promptly with a typed error naming the step,
 * the port closed and the strap released.
 */

/** Pins that only record what was asked of them. */
class RecordingPins implements BoardPins {
  readonly calls: string[] = [];
  async setRecoveryStrap(high: boolean): Promise<void> {
    this.calls.push(`strap ${high ? 'high' : 'low'}`);
  }
  async reset(): Promise<void> {
    this.calls.push('reset');
  }
}

/** The port is free again: serialport locks what it opens, so a second open would fail otherwise. */
async function expectPortReleased(path: string): Promise<void> {
  const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  await new Promise<void>((resolve) => port.close(() => resolve()));
}

describe('recovery client: failures outside the protocol', function () {
  this.timeout(20_000);
  let dir: string;
  let uart: PtyUart;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sphere-rig-recovery-client-'));
    const roles = await generateSigningRoles({ roles: ['os', 'production-app', 'development-app', 'capability'] });
    const set = buildRecoveryImageSet({ osVersion: '23.01', securityVersion: 1, keystorePem: keystoreBodyFor(roles, false) }, rawSignerFor(findSigningRole(roles, 'os')));
    saveRecoveryImageSet(join(dir, 'set'), set);
    saveRecoveryImageSet(join(dir, 'incomplete'), set);
    unlinkSync(join(dir, 'incomplete', RECOVERY_MANIFEST_FILE));
  });

  beforeEach(async () => {
    // A recovery UART with nothing behind it: a board that never enters ROM.
    uart = await PtyUart.open({ name: 'dead board' });
  });

  afterEach(async () => {
    await uart.close();
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses an incomplete image folder before touching the board', async () => {
    const pins = new RecordingPins();
    const error = await expectRecoveryFailure(recoverBoard({ port: uart.path, images: join(dir, 'incomplete'), pins }));
    expect(error.failureClass).to.equal('infra-error');
    expect(error.code).to.equal('recovery-images-incomplete');
    expect(error.message).to.include(RECOVERY_MANIFEST_FILE);
    expect(error.cause).to.be.instanceOf(InputError);
    expect(pins.calls).to.deep.equal([]);
  });

  it('fails at open-port, infra-error, for a port that does not exist', async () => {
    const pins = new RecordingPins();
    const error = await expectRecoveryFailure(recoverBoard({ port: join(dir, 'no-such-tty'), images: join(dir, 'set'), pins }));
    expect(error.step).to.equal('open-port');
    expect(error.failureClass).to.equal('infra-error');
    expect(error.code).to.equal('recovery-port-open-failed');
    expect(pins.calls).to.deep.equal([]);
  });

  it('times out at rom-banner when the board never enters ROM, then closes the port and lowers the strap', async () => {
    const pins = new RecordingPins();
    const started = Date.now();
    const error = await expectRecoveryFailure(recoverBoard({ port: uart.path, images: join(dir, 'set'), pins, timeouts: { romBannerMs: 300 } }));
    expect(error.step).to.equal('rom-banner');
    expect(error.failureClass).to.equal('timeout');
    expect(error.message).to.match(/RECOVERY/);
    expect(Date.now() - started).to.be.below(3_000);
    expect(pins.calls).to.deep.equal(['strap high', 'reset', 'strap low']);
    await expectPortReleased(uart.path);
  });

  it('fails promptly with infra-error when the port goes away mid-step, not after the step timeout', async () => {
    const pins = new RecordingPins();
    const started = Date.now();
    const recovering = recoverBoard({ port: uart.path, images: join(dir, 'set'), pins, timeouts: { romBannerMs: 15_000 } });
    setTimeout(() => void uart.close(), 300);
    const error = await expectRecoveryFailure(recovering);
    expect(error.step).to.equal('rom-banner');
    expect(error.failureClass).to.equal('infra-error');
    expect(error.code).to.equal('recovery-port-lost');
    expect(Date.now() - started).to.be.below(3_000);
  });

  it('is cancelled by its signal, and by an overall timeout as a timeout', async () => {
    const controller = new AbortController();
    const pins = new RecordingPins();
    const recovering = recoverBoard({ port: uart.path, images: join(dir, 'set'), pins, signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    const cancelled = await expectRecoveryFailure(recovering);
    expect(cancelled.failureClass).to.equal('cancelled');
    expect(cancelled.step).to.equal('rom-banner');
    expect(pins.calls.at(-1)).to.equal('strap low');

    const timedOut = await expectRecoveryFailure(recoverBoard({ port: uart.path, images: join(dir, 'set'), pins: new RecordingPins(), timeoutMs: 300 }));
    expect(timedOut.failureClass).to.equal('timeout');
    expect(timedOut.code).to.equal('recovery-timeout');
    await expectPortReleased(uart.path);
  });

  it('reports pins that refuse with their own failure class, naming enter-rom', async () => {
    const pins: BoardPins = {
      setRecoveryStrap: async () => undefined,
      reset: async () => {
        throw new RigError('infra-error', 'board-off', 'the board is off');
      },
    };
    const error = await expectRecoveryFailure(recoverBoard({ port: uart.path, images: join(dir, 'set'), pins }));
    expect(error.step).to.equal('enter-rom');
    expect(error.failureClass).to.equal('infra-error');
    expect(error.code).to.equal('board-off');
  });
});

describe('serial recovery line: the settings the device can see on its pty', function () {
  this.timeout(20_000);

  it('opens at 115200 without flow control, reopens at 3,000,000 or 115200 with RTS/CTS, and carries bytes after each', async () => {
    const uart = await PtyUart.open({ name: 'line' });
    const line = await SerialRecoveryLine.open(uart.path, ROM_LINE);
    try {
      for (const settings of [ROM_LINE, FAST_IMAGING_LINE, LOW_SPEED_IMAGING_LINE]) {
        await line.reconfigure(settings);
        expect(await uart.readHostLineSettings()).to.deep.equal({ ...settings, stopBits: 1 });
        const received = new Promise<Buffer>((resolve) => uart.once('data', resolve));
        await line.channel.write(Buffer.from('ping'));
        expect((await received).toString()).to.equal('ping');
        await uart.write('pong');
        expect((await line.channel.readExact(4, { timeoutMs: 2_000 })).toString()).to.equal('pong');
      }
    } finally {
      await line.close();
      await uart.close();
    }
  });
});

describe('emulated pins: strap and reset over the control channel', () => {
  it('sends strap and reset commands and passes the emulator refusal through', async () => {
    const calls: string[] = [];
    let powered = true;
    const server = await ControlServer.listen();
    server
      .register<{ recovery: boolean }>('strap', {
        schema: { type: 'object', required: ['recovery'], properties: { recovery: { type: 'boolean' } }, additionalProperties: false },
        handler: ({ recovery }) => {
          calls.push(`strap ${recovery}`);
          return { recoveryStrap: recovery };
        },
      })
      .register('reset', {
        schema: { type: 'object', additionalProperties: false, properties: {} },
        handler: () => {
          if (!powered) throw new InputError('board-off', 'the board is off: power it on before a reset');
          calls.push('reset');
          return {};
        },
      });
    const control = await ControlClient.connect({ port: server.port });
    try {
      const pins = new EmulatedPins(control);
      await pins.setRecoveryStrap(true);
      await pins.reset();
      await pins.setRecoveryStrap(false);
      expect(calls).to.deep.equal(['strap true', 'reset', 'strap false']);
      powered = false;
      let refusal: unknown;
      await pins.reset({ timeoutMs: 2_000 }).catch((error: unknown) => (refusal = error));
      expect(refusal).to.be.instanceOf(RigError);
      expect((refusal as RigError).code).to.equal('board-off');
      expect((refusal as RigError).failureClass).to.equal('infra-error');
    } finally {
      await control.close();
      await server.close();
    }
  });
});
