import { waitFor, type WaitOptions } from '../../link/deadline.js';
import { PORT_OF_INTERFACE } from '../../link/usb-board-identity.js';
import type { UsbControlSetup, UsbDeviceHandle, UsbOutResult } from '../../link/usb-device-handle.js';
import { RigError } from '../../util/failure.js';
import { componentLogger } from '../../util/logger.js';
import { FtdiError } from './ftdi-error.js';
import {
  bulkOutEndpoint,
  flushSetup,
  FTDI_FLUSH_FROM_HOST,
  FTDI_FLUSH_TO_HOST,
  FTDI_MODE_ASYNC_BITBANG,
  FTDI_MODE_UART,
  setBitmodeSetup,
} from './ftdi-protocol.js';

const log = componentLogger('ftdi-gpio');
/** Each fail-safe transfer after a timeout gets this long: the chip may be wedged, the rig must go on. */
const FAIL_SAFE_TIMEOUT_MS = 1_000;

/**
 * Bit-bang GPIO on the interfaces of one FT4232H. Taking an interface claims
 * it (node-usb's auto-detach unbinds the kernel's ftdi_sio from it, so its tty
 * goes away) and switches it to async bit-bang with the given direction mask;
 * giving it back flushes the chip's buffers, returns the interface to UART
 * mode and releases it (ftdi_sio binds again and the tty comes back). The USB
 * device is opened on the first take and closed when nothing is held.
 *
 * Every transfer has a deadline and honours the caller's AbortSignal. A
 * transfer that does not finish in time cannot be withdrawn from libusb, so
 * the device is then closed and the fail-safe (`restoreUart`) runs on a fresh
 * handle for every interface that was in play: a timed-out reset must not
 * leave SYSRST_N low, nor a timed-out strap leave AD3 driven high.
 */
export type OpenUsbDevice = (options: WaitOptions) => Promise<UsbDeviceHandle>;

export class FtdiGpio {
  readonly #openDevice: OpenUsbDevice;
  #device: UsbDeviceHandle | undefined;
  readonly #held = new Map<number, number>();
  /** Set while the fail-safe runs, so a timeout inside it does not start another. */
  #restoring = false;

  constructor(openDevice: OpenUsbDevice) {
    this.#openDevice = openDevice;
  }

  /** Interfaces currently in bit-bang mode, with their direction masks. */
  get held(): ReadonlyMap<number, number> {
    return this.#held;
  }

  async take(interfaceNumber: number, directionMask: number, options: WaitOptions): Promise<void> {
    if (this.#held.get(interfaceNumber) === directionMask) return;
    const device = await this.#deviceFor(options);
    const name = portName(interfaceNumber);
    if (!this.#held.has(interfaceNumber)) {
      try {
        await this.#step(`claiming interface ${name} (detaching ftdi_sio)`, options, () => device.claimInterface(interfaceNumber), interfaceNumber);
      } catch (error) {
        if (this.#held.size === 0) await this.#closeDevice();
        throw error;
      }
      this.#held.set(interfaceNumber, directionMask);
    }
    try {
      await this.#control(device, setBitmodeSetup(interfaceNumber, FTDI_MODE_ASYNC_BITBANG, directionMask), `interface ${name}: SET_BITMODE bit-bang`, options);
      this.#held.set(interfaceNumber, directionMask);
    } catch (error) {
      await this.give(interfaceNumber, { timeoutMs: options.timeoutMs }).catch(() => undefined);
      throw error;
    }
  }

  /** Sets the output pins of a held interface (one bulk OUT byte). */
  async write(interfaceNumber: number, levels: number, options: WaitOptions): Promise<void> {
    const device = this.#device;
    if (!device || !this.#held.has(interfaceNumber)) {
      throw new FtdiError('infra-error', 'ftdi-not-in-bitbang', `interface ${portName(interfaceNumber)} is not in bit-bang mode`);
    }
    const endpoint = bulkOutEndpoint(device, interfaceNumber);
    const what = `interface ${portName(interfaceNumber)}: writing pins 0x${levels.toString(16).padStart(2, '0')} to bulk OUT endpoint ${endpoint}`;
    const result = await this.#step(what, options, () => device.transferOut(endpoint, Uint8Array.of(levels & 0xff).buffer));
    checkResult(result, 1, what);
  }

  /** Flushes, returns the interface to UART mode and releases it; idempotent. */
  async give(interfaceNumber: number, options: WaitOptions): Promise<void> {
    const device = this.#device;
    if (!device || !this.#held.has(interfaceNumber)) return;
    const name = portName(interfaceNumber);
    try {
      await this.#control(device, flushSetup(interfaceNumber, FTDI_FLUSH_TO_HOST), `interface ${name}: flushing pin samples`, options);
      await this.#control(device, flushSetup(interfaceNumber, FTDI_FLUSH_FROM_HOST), `interface ${name}: flushing pin writes`, options);
      await this.#control(device, setBitmodeSetup(interfaceNumber, FTDI_MODE_UART, 0), `interface ${name}: SET_BITMODE back to UART`, options);
    } finally {
      this.#held.delete(interfaceNumber);
      await this.#step(`releasing interface ${name}`, { timeoutMs: options.timeoutMs }, () => device.releaseInterface(interfaceNumber)).catch((error: unknown) =>
        log.warn('releasing an FTDI interface failed; its tty may not come back until the board is replugged', { interface: name, error: (error as Error).message }),
      );
      if (this.#held.size === 0) await this.#closeDevice();
    }
  }

  /**
   * The fail-safe: each interface is put back in UART mode (SET_BITMODE 0; a
   * vendor request to the device, which needs no claim) and handed back to
   * ftdi_sio, whatever state an earlier run, a crash or a timeout left it in.
   * Held interfaces are given back the ordinary way. Every interface is tried;
   * the first failure is thrown at the end.
   */
  async restoreUart(interfaces: readonly number[], options: WaitOptions): Promise<void> {
    let firstError: unknown;
    const wasRestoring = this.#restoring;
    this.#restoring = true;
    try {
      for (const interfaceNumber of interfaces) {
        const name = portName(interfaceNumber);
        try {
          if (this.#held.has(interfaceNumber)) {
            await this.give(interfaceNumber, options);
            continue;
          }
          const device = await this.#deviceFor(options);
          await this.#control(device, setBitmodeSetup(interfaceNumber, FTDI_MODE_UART, 0), `interface ${name}: SET_BITMODE back to UART (fail-safe)`, options);
          const attach = device.attachKernelDriver?.bind(device);
          if (attach) await this.#step(`interface ${name}: re-attaching ftdi_sio (fail-safe)`, options, () => attach(interfaceNumber));
        } catch (error) {
          firstError ??= error;
        }
      }
    } finally {
      this.#restoring = wasRestoring;
      if (this.#held.size === 0) await this.#closeDevice();
    }
    if (firstError !== undefined) throw firstError;
  }

  /** Gives back every held interface and closes the device. */
  async close(options: WaitOptions = { timeoutMs: 2_000 }): Promise<void> {
    for (const interfaceNumber of [...this.#held.keys()]) await this.give(interfaceNumber, options).catch(() => undefined);
    await this.#closeDevice();
  }

  async #deviceFor(options: WaitOptions): Promise<UsbDeviceHandle> {
    if (this.#device) return this.#device;
    const device = await this.#openDevice(options);
    if (!device.opened) await this.#step('opening the USB device', options, () => device.open());
    this.#device = device;
    return device;
  }

  async #control(device: UsbDeviceHandle, setup: UsbControlSetup, what: string, options: WaitOptions): Promise<void> {
    const result = await this.#step(what, options, () => device.controlTransferOut(setup), setup.index - 1);
    checkResult(result, 0, what);
  }

  async #step<T>(what: string, options: WaitOptions, run: () => Promise<T>, interfaceNumber?: number): Promise<T> {
    try {
      return await waitFor<T>(`FTDI ${what}`, options, (settle) => {
        run().then(settle.resolve, settle.reject);
      });
    } catch (error) {
      if (error instanceof RigError && (error.failureClass === 'timeout' || error.failureClass === 'cancelled')) {
        // The transfer may still be pending in libusb: do not reuse this handle.
        const inPlay = new Set(this.#held.keys());
        if (interfaceNumber !== undefined && interfaceNumber >= 0) inPlay.add(interfaceNumber);
        this.#held.clear();
        await this.#closeDevice();
        if (error.failureClass === 'timeout' && !this.#restoring) await this.#failSafeAfterTimeout([...inPlay].sort());
        throw error;
      }
      throw new FtdiError('infra-error', 'ftdi-usb-failed', `FTDI ${what} failed: ${(error as Error).message}`, {}, { cause: error });
    }
  }

  /** After a timeout: a fresh handle, UART mode and ftdi_sio for what was in play; logged, never thrown over the timeout. */
  async #failSafeAfterTimeout(interfaces: number[]): Promise<void> {
    if (!interfaces.length) return;
    await this.restoreUart(interfaces, { timeoutMs: FAIL_SAFE_TIMEOUT_MS }).catch((error: unknown) =>
      log.warn('FTDI fail-safe after a timeout failed: the board may be held in reset or strapped for recovery until it is replugged', {
        interfaces: interfaces.map(portName),
        error: (error as Error).message,
      }),
    );
  }

  async #closeDevice(): Promise<void> {
    const device = this.#device;
    this.#device = undefined;
    if (!device) return;
    try {
      await device.close();
    } catch (error) {
      log.debug('closing the FTDI USB device failed', { error: (error as Error).message });
    }
  }
}

function portName(interfaceNumber: number): string {
  return PORT_OF_INTERFACE[interfaceNumber] ?? String(interfaceNumber);
}

function checkResult(result: UsbOutResult, expectedBytes: number, what: string): void {
  if (result.status !== 'ok') throw new FtdiError('infra-error', 'ftdi-transfer-stalled', `FTDI ${what}: the device answered ${result.status}`, { status: result.status });
  if (result.bytesWritten !== expectedBytes) {
    throw new FtdiError('infra-error', 'ftdi-short-write', `FTDI ${what}: ${result.bytesWritten} of ${expectedBytes} bytes written`, { bytesWritten: result.bytesWritten });
  }
}
