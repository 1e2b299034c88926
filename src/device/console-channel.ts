/**
 * The outputs of a board the host reads lines from, each named for what it is
 * on a real MT3620 (../shared/spec/device-link.md, "What each UART carries"):
 *   recovery-uart   the 1BL and Pluton lines of every boot (and the recovery dialogue)
 *   debug-uart      Microsoft's diagnostics; nothing may rely on its text
 *   app-output      a debugged high-level app's output (TCP 2342 over the service link)
 *   app-uart:NAME   a UART an app drives, wired on the bench to its own USB serial adapter
 *   emulator-trace  the emulator's readable trace: no real board has it
 */
export const RECOVERY_UART = 'recovery-uart';
export const DEBUG_UART = 'debug-uart';
export const APP_OUTPUT = 'app-output';
export const EMULATOR_TRACE = 'emulator-trace';
export const APP_UART_PREFIX = 'app-uart:';

/** For schemas: every channel name a scenario may ask for. */
export const CONSOLE_CHANNEL_PATTERN = '^(recovery-uart|debug-uart|app-output|emulator-trace|app-uart:[A-Za-z0-9_-]{1,40})$';

/** A channel only an emulated board has: a scenario that needs it cannot run on a real board. */
export function isEmulatorOnly(channel: string): boolean {
  return channel === EMULATOR_TRACE;
}
