import type { EmulatedBoardDriver } from './emulated-board-driver.js';
import type { CallOptions, RecoveryProgress } from '../board.js';
import { recoverBoard as runRecovery } from '../recovery-client.js';
import { EmulatedPins } from './emulated-pins.js';

/**
 * Recovery of an emulated board exactly as of a real one: the recovery client
 * on the board's recovery UART (a pty), with the strap and reset driven through
 * the control channel where a real rig drives FTDI pins.
 */
export async function recoverBoard(
  board: EmulatedBoardDriver,
  imagesDir: string,
  options: CallOptions & { capability?: Buffer; onProgress?: (p: RecoveryProgress) => void },
): Promise<void> {
  await runRecovery({
    port: board.surfaces.recoveryUart,
    images: imagesDir,
    capability: options.capability,
    pins: new EmulatedPins(board.control),
    onProgress: options.onProgress
      ? (p) =>
          options.onProgress!({
            stage: p.stage,
            imagesRemaining: p.imagesRemaining,
            imageCount: p.imageCount,
            bytesRemaining: p.bytesRemaining,
            totalBytes: p.totalBytes,
          })
      : undefined,
    signal: options.signal,
    timeoutMs: options.timeoutMs,
  });
}
