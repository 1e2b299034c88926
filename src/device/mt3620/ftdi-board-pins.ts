import { setTimeout as delay } from 'node:timers/promises';
import { Deadline, type WaitOptions } from '../../link/deadline.js';
import { LinkCancelledError } from '../../link/link-errors.js';
import { INTERFACE_OF_PORT, type FtdiPort } from '../../link/usb-board-identity.js';
import type { BoardPins, PinCallOptions } from '../board-pins.js';
import type { FtdiGpio } from './ftdi-gpio.js';
import { RESET_PIN_MASK, STRAP_PIN_MASK } from './ftdi-protocol.js';

/**
 * A real MT3620's reset line and recovery strap as FTDI bit-bang pins
 * (device-link.md; masks and levels in ftdi-protocol.ts):
 *
 *   reset        take interface B (or D) with BD6 as the only output, write 0x00
 *                (SYSRST_N low), wait `pulseMs`, write 0x40 (released), give the
 *                interface back (UART mode, ftdi_sio rebound).
 *   strap high   take interface A with AD3 as the only output, write 0x08, and
 *                keep holding it: the strap must still be high when the chip
 *                samples it at the next reset.
 *   strap low    write 0x00, give interface A back; AD3 becomes the UART's CTS
 *                input again and DEBUG_RTS returns to the board's own level.
 *
 * While interface A is held its tty (the debug console) does not exist, and
 * while D is pulsed neither does the recovery UART's: `ttyHooks` let the driver
 * close and reopen them around that.
 */
export interface TtyHooks {
  /** The interface's tty is about to disappear: close what has it open. */
  releasing?(port: FtdiPort, options: WaitOptions): Promise<void>;
  /** The interface is back in UART mode; its tty reappears shortly (udev). */
  returned?(port: FtdiPort): void;
}

export interface FtdiBoardPinsOptions {
  /** Which interface drives SYSRST_N: B (BD6, default) or D (DD6), per the board revision. */
  resetPort?: 'B' | 'D';
  /** How long SYSRST_N is held low. Default 100 ms: far above any reset filter, short for a test. */
  pulseMs?: number;
  /** Each pin call's limit when the caller gives none. Default 5000 ms. */
  timeoutMs?: number;
  ttyHooks?: TtyHooks;
}

const RELEASE_TIMEOUT_MS = 2_000;

export class FtdiBoardPins implements BoardPins {
  readonly #gpio: FtdiGpio;
  readonly resetPort: 'B' | 'D';
  readonly #pulseMs: number;
  readonly #timeoutMs: number;
  readonly #hooks: TtyHooks;
  /** Pin calls run one at a time: a reset must not interleave with a strap change. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(gpio: FtdiGpio, options: FtdiBoardPinsOptions = {}) {
    this.#gpio = gpio;
    this.resetPort = options.resetPort ?? 'B';
    this.#pulseMs = options.pulseMs ?? 100;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#hooks = options.ttyHooks ?? {};
  }

  get strapHigh(): boolean {
    return this.#gpio.held.has(INTERFACE_OF_PORT.A);
  }

  setRecoveryStrap(high: boolean, options: PinCallOptions = {}): Promise<void> {
    return this.#serial(options, async (wait) => {
      const a = INTERFACE_OF_PORT.A;
      if (high) {
        if (this.strapHigh) return;
        await this.#hooks.releasing?.('A', wait());
        try {
          await this.#gpio.take(a, STRAP_PIN_MASK, wait());
          await this.#gpio.write(a, STRAP_PIN_MASK, wait());
        } catch (error) {
          await this.#gpio.give(a, { timeoutMs: RELEASE_TIMEOUT_MS }).catch(() => undefined);
          this.#hooks.returned?.('A');
          throw error;
        }
        return;
      }
      // Not held: interface A is a UART, AD3 an input, and the strap is already the board's own (low).
      if (!this.strapHigh) return;
      try {
        await this.#gpio.write(a, 0x00, wait());
      } finally {
        await this.#gpio.give(a, wait());
        this.#hooks.returned?.('A');
      }
    });
  }

  reset(options: PinCallOptions = {}): Promise<void> {
    return this.#serial(options, async (wait, signal) => {
      const port = this.resetPort;
      const iface = INTERFACE_OF_PORT[port];
      await this.#hooks.releasing?.(port, wait());
      let low = false;
      try {
        await this.#gpio.take(iface, RESET_PIN_MASK, wait());
        low = true;
        await this.#gpio.write(iface, 0x00, wait());
        await pause(this.#pulseMs, signal);
        await this.#gpio.write(iface, RESET_PIN_MASK, wait());
        low = false;
        await this.#gpio.give(iface, wait());
      } finally {
        // Never leave SYSRST_N low: whatever failed or was cancelled, release it and the interface.
        if (low) await this.#gpio.write(iface, RESET_PIN_MASK, { timeoutMs: RELEASE_TIMEOUT_MS }).catch(() => undefined);
        await this.#gpio.give(iface, { timeoutMs: RELEASE_TIMEOUT_MS }).catch(() => undefined);
        this.#hooks.returned?.(port);
      }
    });
  }

  /**
   * The fail-safe at attach (and so at daemon start): interface A (the strap)
   * and the reset interface go back to UART mode and to ftdi_sio, whatever a
   * crashed daemon or an interrupted call left them in. It claims nothing, so
   * a bound ftdi_sio and its tty stay as they are.
   */
  failSafe(options: PinCallOptions = {}): Promise<void> {
    return this.#serial(options, async (wait) => {
      const ports: FtdiPort[] = ['A', this.resetPort];
      await this.#gpio.restoreUart(
        ports.map((p) => INTERFACE_OF_PORT[p]),
        wait(),
      );
    });
  }

  /** Lowers a held strap and closes the USB device. */
  async close(): Promise<void> {
    await this.setRecoveryStrap(false, { timeoutMs: RELEASE_TIMEOUT_MS }).catch(() => undefined);
    await this.#gpio.close();
  }

  #serial(options: PinCallOptions, run: (wait: () => WaitOptions, signal: AbortSignal | undefined) => Promise<void>): Promise<void> {
    const deadline = new Deadline(options.timeoutMs ?? this.#timeoutMs);
    const wait = (): WaitOptions => ({ timeoutMs: Math.max(1, deadline.remainingMs()), signal: options.signal });
    const next = this.#queue.then(() => run(wait, options.signal));
    this.#queue = next.catch(() => undefined);
    return next;
  }
}

async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : {});
  } catch {
    throw new LinkCancelledError('holding SYSRST_N low', signal?.reason);
  }
}
