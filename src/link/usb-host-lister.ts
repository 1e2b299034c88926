import type { WaitOptions } from './deadline.js';
import { listWithSerialport, SerialPortListUnavailable } from './usb-serialport-lister.js';
import { interfaceOfPort, isFt4232hPort, type SerialPortRecord } from './usb-serial-ports.js';
import { listFromSysfs } from './usb-sysfs-lister.js';
import { componentLogger } from '../util/logger.js';

const log = componentLogger('usb');

/**
 * The serial-port listing discovery uses on a real host: `serialport`'s (udev),
 * with what sysfs knows filled in for ports udev left without an interface
 * number or port path; sysfs alone where serialport cannot list (no udevadm).
 */
export async function listHostSerialPorts(options: WaitOptions): Promise<SerialPortRecord[]> {
  let listed: SerialPortRecord[];
  try {
    listed = await listWithSerialport(options);
  } catch (error) {
    if (!(error instanceof SerialPortListUnavailable) || process.platform !== 'linux') throw error;
    log.debug('serialport cannot list ports; reading sysfs', { why: error.message });
    return listFromSysfs();
  }
  if (process.platform !== 'linux') return listed;
  const sysfs = new Map(listFromSysfs().map((r) => [r.path, r]));
  return listed.map((record) => {
    const known = sysfs.get(record.path);
    if (!known || !isFt4232hPort(record)) return record;
    const filled = { ...record, locationId: record.locationId ?? known.locationId, product: record.product ?? known.product };
    if (interfaceOfPort(record).interfaceNumber === null && known.interfaceNumber !== undefined) filled.interfaceNumber = known.interfaceNumber;
    return filled;
  });
}
