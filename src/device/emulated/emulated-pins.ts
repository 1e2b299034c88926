import type { BoardPins, PinCallOptions } from '../board-pins.js';
import type { ControlClient } from './control-client.js';

/**
 * An emulated board's strap and reset pins: the `strap` and `reset` commands of
 * its control channel (the stand-in for the FTDI GPIO pins). Errors are the
 * control client's, with the failure class the emulator gave (a reset of a
 * board that is off is refused).
 */
export class EmulatedPins implements BoardPins {
  constructor(private readonly control: ControlClient) {}

  async setRecoveryStrap(high: boolean, options: PinCallOptions = {}): Promise<void> {
    await this.control.request('strap', { recovery: high }, options);
  }

  async reset(options: PinCallOptions = {}): Promise<void> {
    await this.control.request('reset', {}, options);
  }
}
