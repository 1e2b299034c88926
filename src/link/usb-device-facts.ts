/**
 * What the host knows about one USB device: where it sits (bus, address, the
 * chain of hub ports) and its descriptor, plus its strings when the device
 * could be opened to read them. Plain data, so a host's devices can be recorded
 * once and replayed in tests.
 */
export interface UsbDeviceStrings {
  manufacturer: string | null;
  product: string | null;
  serialNumber: string | null;
}

export interface UsbDeviceFacts {
  busNumber: number;
  deviceAddress: number;
  /** Hub ports from the root hub down, e.g. [1, 2] for 1-1.2; empty for a root hub. */
  portNumbers: number[];
  idVendor: number;
  idProduct: number;
  bcdDevice?: number;
  /** Read only for devices worth opening (FTDI quad chips). */
  strings?: UsbDeviceStrings;
  /** Why the strings could not be read: 'access' (no permission), 'busy', 'gone' or 'error'. */
  stringsError?: { kind: 'access' | 'busy' | 'gone' | 'error'; message: string };
}

/** The physical port path as Linux names it in sysfs and udev: `<bus>-<port>.<port>...`, e.g. `1-1.2`. */
export function portPathOf(busNumber: number, portNumbers: readonly number[]): string {
  return `${busNumber}-${portNumbers.length ? portNumbers.join('.') : '0'}`;
}

/** The usbfs node libusb opens: permissions on it decide whether the rig may use the device. */
export function usbDeviceNode(busNumber: number, deviceAddress: number): string {
  return `/dev/bus/usb/${String(busNumber).padStart(3, '0')}/${String(deviceAddress).padStart(3, '0')}`;
}

export function hex4(value: number): string {
  return value.toString(16).padStart(4, '0');
}
