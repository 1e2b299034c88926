/**
 * The two pins a host drives to take a board into ROM recovery: the recovery
 * strap (DEBUG_RTS, sampled at reset: high = recovery) and the reset line
 * (SYSRST_N). On a real board they are FTDI bit-bang pins (device-link.md); on
 * an emulated one, commands on its control channel. Each call resolves once the
 * pin has been driven, and honours a timeout and an AbortSignal.
 */
export interface PinCallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface BoardPins {
  /** Drives the strap; it stays at this level until changed, across resets. */
  setRecoveryStrap(high: boolean, options?: PinCallOptions): Promise<void>;
  /** Pulses the reset line: the chip restarts and samples the strap. */
  reset(options?: PinCallOptions): Promise<void>;
}
