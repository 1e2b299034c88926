import { disconnect, EmulatorProcess, powerOnAndWaitForServices, type ConnectedBoard } from './emulator-process.js';
import { RigKeys } from './rig-keys.js';

/** The board timings a test shortens so trials, watchdogs and app restarts take milliseconds. */
export interface BoardTimings {
  healthWindowMs: number;
  watchdogMs: number;
  appRestartMs: number;
}

export interface BootedBoard {
  emulator: EmulatorProcess;
  keys: RigKeys;
  board: ConnectedBoard;
}

/**
 * A fresh one-board emulator, its signing keys, and its board connected, given
 * these timings and powered on with its services up. Stop it with
 * `disconnect(board)` and `emulator.stop()`.
 */
export async function startBootedBoard(timings: BoardTimings): Promise<BootedBoard> {
  const emulator = await EmulatorProcess.start({ boards: 1 });
  // Callers keep the result only on success: a failure after the start stops the child
  // (and deletes its state folder) here, or nothing would.
  let board: ConnectedBoard | undefined;
  try {
    const keys = await RigKeys.of(emulator.stateDir);
    board = await emulator.connect(0);
    await board.control.request('timings', { ...timings });
    await powerOnAndWaitForServices(board);
    return { emulator, keys, board };
  } catch (error) {
    await disconnect(board).catch(() => undefined);
    await emulator.stop();
    throw error;
  }
}
