import { existsSync } from 'node:fs';
import type { WaitOptions } from '../../link/deadline.js';
import { openHostUsbDiscovery } from '../../link/usb-host-discovery.js';
import { requireUsbAccess, type UsbBoardSource } from '../../link/usb-discovery.js';
import { RigError } from '../../util/failure.js';
import { FtdiBoardPins } from './ftdi-board-pins.js';
import { FtdiGpio } from './ftdi-gpio.js';

/**
 * The reset and strap pins of one real board on this host, found by its USB
 * serial, for a one-off job outside the daemon (`sphere-rig recover
 * --usb-serial`), with the tty of its recovery UART (interface D). Reset is
 * pulsed on interface B (BD6): pulsing DD6 would take the recovery UART away
 * from the kernel just when the ROM prints its banner. No USB bus, or no
 * permission, throws UsbAccessError (exit 8 in the CLI).
 */
export interface BoardPinsBySerial {
  pins: FtdiBoardPins;
  /** The recovery UART's tty (its by-id link when there is one); undefined when the board has none listed. */
  recoveryTty: string | undefined;
  /** Lowers a held strap and lets go of the USB device and the bus. */
  close(): Promise<void>;
}

export async function openFtdiPinsBySerial(usbSerial: string, wait: WaitOptions, source?: UsbBoardSource & { close(): void }): Promise<BoardPinsBySerial> {
  const discovery = source ?? (await openHostUsbDiscovery());
  try {
    const board = await discovery.find(usbSerial, wait);
    if (!board) {
      throw new RigError('infra-error', 'board-not-found', `no MT3620 board with USB serial ${usbSerial} on this host (\`sphere-rig boards discover\` lists what is attached)`, { usbSerial });
    }
    // Listed but not openable (ttys only): the udev rule is missing; say so now, not at the first pin.
    requireUsbAccess(board);
    const pins = new FtdiBoardPins(new FtdiGpio((options) => discovery.openUsbDevice(board, options)), { resetPort: 'B' });
    const tty = board.ttys.D;
    const recoveryTty = tty ? (tty.byIdPath && existsSync(tty.byIdPath) ? tty.byIdPath : tty.path) : undefined;
    return {
      pins,
      recoveryTty,
      close: async () => {
        try {
          await pins.close();
        } finally {
          discovery.close();
        }
      },
    };
  } catch (error) {
    discovery.close();
    throw error;
  }
}
