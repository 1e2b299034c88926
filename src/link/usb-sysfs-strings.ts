import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { portPathOf, type UsbDeviceFacts, type UsbDeviceStrings } from './usb-device-facts.js';

/**
 * A USB device's manufacturer, product and serial strings as the Linux kernel
 * read them at enumeration: /sys/bus/usb/devices/<port path>/{manufacturer,
 * product,serial}. Reading them opens nothing, so discovery can look at a
 * board whose FTDI pins the rig holds without touching its handle (node-usb
 * hands every caller the same Device object: opening and closing it for its
 * strings would close the pins' handle under them).
 *
 * The busnum and devnum files must match the device: a port path names a
 * socket, and the device in it may have re-enumerated since libusb listed it.
 */
export function readSysfsUsbStrings(facts: Pick<UsbDeviceFacts, 'busNumber' | 'deviceAddress' | 'portNumbers'>, sysRoot = '/sys'): UsbDeviceStrings | undefined {
  if (!facts.portNumbers.length) return undefined;
  const dir = join(sysRoot, 'bus', 'usb', 'devices', portPathOf(facts.busNumber, facts.portNumbers));
  const read = (name: string): string | null => {
    try {
      return readFileSync(join(dir, name), 'utf8').replace(/\n$/, '');
    } catch {
      return null;
    }
  };
  if (Number(read('busnum')) !== facts.busNumber || Number(read('devnum')) !== facts.deviceAddress) return undefined;
  const strings: UsbDeviceStrings = { manufacturer: read('manufacturer'), product: read('product'), serialNumber: read('serial') };
  // Nothing at all: not a tree this kernel filled in (or not yet); let the caller ask the device.
  return strings.manufacturer === null && strings.product === null && strings.serialNumber === null ? undefined : strings;
}
