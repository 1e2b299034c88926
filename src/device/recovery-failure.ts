import { explainRecoveryError } from '../link/recovery-error-codes.js';
import { failureClassOf, RigError, type FailureClass } from '../util/failure.js';

/**
 * The steps of a recovery as the host sees them, in order. A failure names the
 * step it happened in, so a report says "timeout at rom-banner" (the board never
 * entered ROM) rather than just "timeout".
 */
export const RECOVERY_STEPS = [
  'open-port', // opening the recovery UART
  'enter-rom', // strap high, reset
  'rom-banner', // waiting for RECOVERY and the ROM's hex line
  'send-1bl', // XMODEM of recovery-1bl-rtm.bin
  'start-1bl', // +GOOD and the 1BL's boot line
  'initialization', // Initialization / InitializationAck
  'capability', // the capability image request
  'runtime', // recovery-runtime.bin
  'line-switch', // the baud-rate query and the reopen of the port
  'status', // StatusRequest / ServerReady
  'erase', // the device erasing its flash
  'manifest', // recovery.imagemanifest
  'images', // every image of the manifest
  'complete', // the device writing flash, until RecoveryComplete
] as const;

export type RecoveryStep = (typeof RECOVERY_STEPS)[number];

/** What the device said in its RecoveryError message, with the catalog's name and message for its code. */
export interface DeviceRecoveryError {
  code: number;
  /** e.g. `RecoveryError::BadSignature` (Microsoft's catalog, category 39). */
  name: string;
  /** The catalog's message for the code. */
  meaning: string;
  /** The device's own text. */
  text: string;
}

/**
 * A recovery that did not complete. The failure class says whose fault it was:
 * device-fault when the device refused (RecoveryError) or broke the protocol,
 * timeout when it went quiet, infra-error for the port or the pins, cancelled
 * when the caller's signal fired.
 */
export class RecoveryFailedError extends RigError {
  readonly step: RecoveryStep;
  readonly deviceError: DeviceRecoveryError | undefined;

  constructor(
    step: RecoveryStep,
    failureClass: FailureClass,
    code: string,
    message: string,
    details: Record<string, unknown> = {},
    options: { cause?: unknown; deviceError?: DeviceRecoveryError } = {},
  ) {
    super(failureClass, code, `recovery failed at step '${step}': ${message}`, { step, ...details, ...(options.deviceError ? { deviceError: options.deviceError } : {}) }, options.cause === undefined ? undefined : { cause: options.cause });
    this.step = step;
    this.deviceError = options.deviceError;
  }
}

/** The device's RecoveryError, raised inside the client and turned into a RecoveryFailedError. */
export class DeviceRefusedRecovery extends RigError {
  readonly deviceError: DeviceRecoveryError;

  constructor(code: number, text: string) {
    const { name, message: meaning } = explainRecoveryError(code);
    super('device-fault', 'recovery-refused-by-device', `the device refused: ${text} (${name}, code ${code}: ${meaning})`, { deviceErrorCode: code, deviceErrorName: name });
    this.deviceError = { code, name, meaning, text };
  }
}

/** Wraps whatever ended a recovery, keeping its failure class and code. */
export function recoveryFailure(step: RecoveryStep, error: unknown, extra: Record<string, unknown> = {}): RecoveryFailedError {
  if (error instanceof RecoveryFailedError) return error;
  if (error instanceof DeviceRefusedRecovery) {
    return new RecoveryFailedError(step, 'device-fault', error.code, error.message, extra, { cause: error, deviceError: error.deviceError });
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof RigError ? error.code : 'recovery-internal-error';
  return new RecoveryFailedError(step, failureClassOf(error), code, message, { ...(error instanceof RigError ? error.details : {}), ...extra }, { cause: error });
}
