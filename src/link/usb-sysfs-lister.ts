import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { SerialPortRecord } from './usb-serial-ports.js';

/**
 * Lists USB serial ttys straight from sysfs, for hosts without udevadm:
 * /sys/class/tty/ttyUSBn/device resolves to the usb-serial port under its USB
 * interface (`1-1.2:1.2`, holding bInterfaceNumber), whose parent is the USB
 * device (`1-1.2`, holding idVendor, idProduct, serial, manufacturer, product).
 * The by-id links, when udev made them, are matched to their ttys as well.
 * `sysRoot` and `devRoot` are parameters so tests can build a tree.
 */
export interface SysfsListerOptions {
  sysRoot?: string;
  devRoot?: string;
}

const USB_TTY = /^tty(USB|ACM)\d+$/;

function readAttribute(dir: string, name: string): string | undefined {
  try {
    return readFileSync(join(dir, name), 'utf8').trim();
  } catch {
    return undefined;
  }
}

function byIdLinks(devRoot: string): Map<string, string> {
  const byTarget = new Map<string, string>();
  const dir = join(devRoot, 'serial', 'by-id');
  if (!existsSync(dir)) return byTarget;
  for (const name of readdirSync(dir)) {
    try {
      byTarget.set(basename(realpathSync(join(dir, name))), name);
    } catch {
      // a dangling link of a device that just went away
    }
  }
  return byTarget;
}

export function listFromSysfs(options: SysfsListerOptions = {}): SerialPortRecord[] {
  const sysRoot = options.sysRoot ?? '/sys';
  const devRoot = options.devRoot ?? '/dev';
  const ttyClass = join(sysRoot, 'class', 'tty');
  if (!existsSync(ttyClass)) return [];
  const links = byIdLinks(devRoot);
  const out: SerialPortRecord[] = [];
  for (const name of readdirSync(ttyClass).filter((n) => USB_TTY.test(n)).sort()) {
    let portDir: string;
    try {
      portDir = realpathSync(join(ttyClass, name, 'device'));
    } catch {
      continue;
    }
    // ttyACM devices hang directly off the interface; ttyUSB ones off a usb-serial port below it.
    const interfaceDir = readAttribute(portDir, 'bInterfaceNumber') !== undefined ? portDir : dirname(portDir);
    const usbDir = dirname(interfaceDir);
    const interfaceText = readAttribute(interfaceDir, 'bInterfaceNumber');
    const record: SerialPortRecord = { path: join(devRoot, name), locationId: basename(usbDir) };
    const vendorId = readAttribute(usbDir, 'idVendor');
    const productId = readAttribute(usbDir, 'idProduct');
    const serialNumber = readAttribute(usbDir, 'serial');
    const manufacturer = readAttribute(usbDir, 'manufacturer');
    const product = readAttribute(usbDir, 'product');
    if (vendorId) record.vendorId = vendorId;
    if (productId) record.productId = productId;
    if (serialNumber) record.serialNumber = serialNumber;
    if (manufacturer) record.manufacturer = manufacturer;
    if (product) record.product = product;
    if (interfaceText !== undefined && /^[0-9a-f]+$/i.test(interfaceText)) record.interfaceNumber = parseInt(interfaceText, 16);
    const link = links.get(name);
    if (link) record.pnpId = link;
    out.push(record);
  }
  return out;
}
