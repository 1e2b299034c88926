import type { BoardServiceFactory } from '../emulator-host.js';
import { PtyUart } from './pty-uart.js';

/**
 * The ISU UART an app drives, as a bench wires it: to a USB serial adapter of
 * its own, which the rig reads as console channel `app-uart:NAME` (rig YAML
 * `appUarts` on a real board). Each emulated board offers one as a pty,
 * announced as `appUart` in `emulator run --json`, carrying what its apps write
 * there (behaviour `uartLog`) at 115200 8N1; dropped when nobody reads, as a
 * real UART's output is.
 */
const APP_UART_BAUD = 115200;

export const appUartService: BoardServiceFactory = async ({ hosted, options }) => {
  const uart = await PtyUart.open({ name: `${hosted.name}/app-uart`, baudRate: APP_UART_BAUD, timing: options.speed ?? 'fast', flowControl: 'none' });
  const onLine = (_componentId: string, text: string): void => {
    uart.writeLine(text);
  };
  hosted.board.on('app-uart', onLine);
  return {
    name: 'app-uart',
    surfaces: () => ({ appUart: uart.path }),
    close: async () => {
      hosted.board.off('app-uart', onLine);
      await uart.close();
    },
  };
};
