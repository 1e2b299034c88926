import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { SerialPort } from 'serialport';
import { waitFor, type WaitOptions } from './deadline.js';
import type { SerialPortRecord } from './usb-serial-ports.js';
import { RigError } from '../util/failure.js';

/**
 * `serialport`'s own listing. On Linux it runs `udevadm info -e`; where udevadm
 * is missing (containers, minimal hosts) that spawn fails in ways that can
 * escape as an uncaught error, so it is not even tried: the caller falls back
 * to reading sysfs (usb-sysfs-lister.ts).
 */
export class SerialPortListUnavailable extends RigError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('infra-error', 'serial-list-unavailable', message, {}, options);
  }
}

export function commandOnPath(command: string, path = process.env.PATH ?? ''): boolean {
  return path.split(delimiter).some((dir) => {
    if (!dir) return false;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export async function listWithSerialport(options: WaitOptions): Promise<SerialPortRecord[]> {
  if (process.platform === 'linux' && !commandOnPath('udevadm')) {
    throw new SerialPortListUnavailable('udevadm is not installed, so serialport cannot list ports');
  }
  return waitFor<SerialPortRecord[]>('listing serial ports (serialport)', options, (settle) => {
    SerialPort.list().then(
      (ports) => settle.resolve(ports.map((p) => ({ ...p }))),
      (error: unknown) => settle.reject(new SerialPortListUnavailable(`serialport cannot list ports: ${(error as Error).message}`, { cause: error })),
    );
  });
}
