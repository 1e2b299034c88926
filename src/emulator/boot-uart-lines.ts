import { createHash } from 'node:crypto';

/**
 * What a real MT3620 prints on its UARTs while it boots (../shared/spec/device-link.md,
 * "What each UART carries"): the first-stage loader and Pluton write a few lines
 * on the recovery UART on every boot; the OS and apps print nothing on any UART.
 * The G, D and N values are opaque measurements on a real board; here they are
 * derived from the device ID (G, D) and the boot count (N) so they look alike,
 * stay stable for a board and change per boot where a nonce would.
 */

/** The POST code of a normal 1BL start as captured (it varies between boards and boots). */
const ONE_BL_POST_CODE = '70900000/00000001/01000000';

export const PLUTON_BOOT_LINES: readonly string[] = ['[PLUTON] Logging initialized', '[PLUTON] Booting HLOS core'];

export function oneBlBootLines(deviceId: string, bootCount: number): string[] {
  const digest = (label: string, bytes: number) => createHash('sha512').update(`${label}:${deviceId}`).digest('hex').slice(0, bytes * 2).toUpperCase();
  const nonce = createHash('sha256').update(`N:${deviceId}:${bootCount}`).digest('hex').toUpperCase();
  return [`[1BL] BOOT: ${ONE_BL_POST_CODE}`, `G=${digest('G', 64)}`, `D=${digest('D', 64)},N=${nonce}`];
}

/**
 * The debug UART's content. Microsoft reserves it for its own diagnostics and a
 * rig must not rely on any text there; this one line per boot only shows the
 * UART is alive, and no built-in scenario looks at it.
 */
export function diagnosticsLine(bootCount: number): string {
  return `MT3620 diagnostics: boot ${bootCount}`;
}
