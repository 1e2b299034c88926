import type { BoardServiceFactory } from '../emulator-host.js';
import { PtyUart } from './pty-uart.js';

/**
 * The emulator-only readable trace of one board (every boot stage, update,
 * app start and crash, as the model sees it) on a pseudo-terminal of its own,
 * announced as `emulatorTrace` in `emulator run --json`. No real board has
 * such an output: nothing that judges a board may depend on it, and
 * `--no-trace` (rig YAML `emulator.trace: false`) switches it off to prove
 * that (the surface is then null).
 */
export const emulatorTraceService: BoardServiceFactory = async ({ hosted, options }) => {
  if (options.trace === false) return { name: 'emulator-trace', surfaces: () => ({ emulatorTrace: null }), close: async () => undefined };
  // Not a real UART: never paced, and dropped when nobody reads.
  const uart = await PtyUart.open({ name: `${hosted.name}/trace`, baudRate: 921600, timing: 'fast', flowControl: 'none' });
  const onLine = (line: string): void => {
    uart.writeLine(line);
  };
  hosted.board.on('console', onLine);
  return {
    name: 'emulator-trace',
    surfaces: () => ({ emulatorTrace: uart.path }),
    close: async () => {
      hosted.board.off('console', onLine);
      await uart.close();
    },
  };
};
