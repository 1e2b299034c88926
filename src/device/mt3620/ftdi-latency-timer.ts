import { readFile, writeFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { basename, join } from 'node:path';
import { componentLogger } from '../../util/logger.js';

const log = componentLogger('ftdi-latency');

/**
 * The FTDI latency timer of a board's ttys (ftdi_sio's sysfs attribute
 * /sys/bus/usb-serial/devices/ttyUSBn/latency_timer, in ms, default 16). The
 * chip holds received bytes until its buffer fills or the timer runs out, so
 * stop-and-wait XMODEM pays up to 16 ms per block and per ACK; at 1 ms a
 * recovery runs at line speed. The driver lowers it for a recovery and puts
 * the previous value back after.
 *
 * Where the attribute cannot be written (no udev rule granting it, a container
 * with a read-only /sys, a tty that is not ftdi_sio's) the rig warns once per
 * tty and reason and goes on at the default: recovery still works, slower.
 * `sysRoot` is a parameter so tests run against a fake sysfs tree.
 */
export const RECOVERY_LATENCY_MS = 1;

export interface FtdiLatencyTimerOptions {
  /** Default /sys. */
  sysRoot?: string;
  /** Where the once-only warnings go; default the rig's log. */
  warn?: (message: string, details: Record<string, unknown>) => void;
}

/** Puts the previous values back; never throws. */
export type RestoreLatency = () => Promise<void>;

export class FtdiLatencyTimers {
  readonly #sysRoot: string;
  readonly #warned = new Set<string>();
  readonly #warn: NonNullable<FtdiLatencyTimerOptions['warn']>;

  constructor(options: FtdiLatencyTimerOptions = {}) {
    this.#sysRoot = options.sysRoot ?? '/sys';
    this.#warn = options.warn ?? ((message, details) => log.warn(message, details));
  }

  /** The attribute file of a tty given as /dev/ttyUSBn or a /dev/serial/by-id link to it; null for ttys ftdi_sio does not name ttyUSBn. */
  attributePath(ttyPath: string): string | null {
    const name = basename(resolveLink(ttyPath));
    return /^ttyUSB\d+$/.test(name) ? join(this.#sysRoot, 'bus', 'usb-serial', 'devices', name, 'latency_timer') : null;
  }

  /** Sets each tty's timer to `ms` (default 1); what it changed is restored by the function returned. */
  async lower(ttyPaths: readonly string[], ms = RECOVERY_LATENCY_MS): Promise<RestoreLatency> {
    const changed: Array<{ file: string; previous: string }> = [];
    for (const tty of ttyPaths) {
      const file = this.attributePath(tty);
      if (!file) {
        this.#warnOnce(`${tty}:not-ftdi`, 'not an ftdi_sio tty (ttyUSBn): its latency timer is left as it is', { tty });
        continue;
      }
      let previous: string;
      try {
        previous = (await readFile(file, 'utf8')).trim();
      } catch (error) {
        this.#warnOnce(`${file}:read`, 'cannot read the FTDI latency timer; recovery runs at the default latency (16 ms per read, slower)', { tty, file, error: errorCode(error) });
        continue;
      }
      if (previous === String(ms)) continue;
      try {
        await writeFile(file, `${ms}\n`);
        changed.push({ file, previous });
        log.debug('FTDI latency timer lowered', { tty, file, from: previous, to: ms });
      } catch (error) {
        this.#warnOnce(
          `${file}:write`,
          'cannot write the FTDI latency timer (see docs/real-boards.md: the udev rule sets it to 1 at plug-in); recovery goes on at the current latency, slower',
          { tty, file, current: previous, error: errorCode(error) },
        );
      }
    }
    return async () => {
      for (const { file, previous } of changed.reverse()) {
        try {
          await writeFile(file, `${previous}\n`);
        } catch (error) {
          // The tty went away meanwhile (interface A while the strap was held, a replug): its new port starts at the driver's default.
          log.debug('FTDI latency timer not restored', { file, previous, error: errorCode(error) });
        }
      }
    };
  }

  #warnOnce(key: string, message: string, details: Record<string, unknown>): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#warn(message, details);
  }
}

function resolveLink(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}
