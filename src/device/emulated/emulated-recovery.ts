import type { EmulatedBoardDriver } from './emulated-board-driver.js';
import type { CallOptions, RecoveryProgress } from '../board.js';
import { NotApplicableError } from '../board.js';

/** Recovery of an emulated board through its recovery UART; wired once the recovery client exists. */
export async function recoverBoard(
  board: EmulatedBoardDriver,
  _imagesDir: string,
  _options: CallOptions & { capability?: Buffer; onProgress?: (p: RecoveryProgress) => void },
): Promise<void> {
  throw new NotApplicableError('recovery', board.identity.driver);
}
