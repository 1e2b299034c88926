import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { UsbAccessError } from './usb-access-error.js';
import { UDEV_RULE_HINT } from './usb-board-identity.js';

/**
 * Before libusb is even loaded: is there a USB bus this process may read?
 * On Linux libusb opens devices through /dev/bus/usb; without it (a container
 * started without the bus, a VM without USB) nothing can be found, and saying
 * so beats an empty list. Other platforms go straight to libusb.
 */
export interface UsbFilesystem {
  platform: NodeJS.Platform;
  exists(path: string): boolean;
  readable(path: string): boolean;
  /** Device nodes under /dev/bus/usb (bus directories and their entries). */
  deviceNodes(path: string): string[];
}

export const USB_DEVICE_ROOT = '/dev/bus/usb';

export const hostUsbFilesystem: UsbFilesystem = {
  platform: process.platform,
  exists: (path) => existsSync(path),
  readable: (path) => {
    try {
      accessSync(path, constants.R_OK | constants.X_OK);
      return true;
    } catch {
      return false;
    }
  },
  deviceNodes: (path) => {
    try {
      return readdirSync(path).flatMap((bus) => {
        try {
          return readdirSync(`${path}/${bus}`).map((node) => `${path}/${bus}/${node}`);
        } catch {
          return [];
        }
      });
    } catch {
      return [];
    }
  },
};

/** Throws UsbAccessError when this host has no usable USB bus; returns the device nodes seen. */
export function probeUsbAccess(fs: UsbFilesystem = hostUsbFilesystem): string[] {
  if (fs.platform !== 'linux') return [];
  if (!fs.exists(USB_DEVICE_ROOT)) {
    throw new UsbAccessError(
      'no-usb-bus',
      `no USB bus on this host: ${USB_DEVICE_ROOT} does not exist (in a container, pass the bus with --device ${USB_DEVICE_ROOT}; in a VM, attach the USB controller); real MT3620 boards cannot be found or reset`,
      { path: USB_DEVICE_ROOT },
    );
  }
  if (!fs.readable(USB_DEVICE_ROOT)) {
    throw new UsbAccessError('usb-permission-denied', `no permission to read ${USB_DEVICE_ROOT}: ${UDEV_RULE_HINT}`, { path: USB_DEVICE_ROOT });
  }
  return fs.deviceNodes(USB_DEVICE_ROOT);
}

/**
 * libusb finding no device at all while the kernel shows device nodes (every
 * host has at least a root hub) means it was not allowed to look: say so
 * rather than report an empty bench.
 */
export function checkListedDevices(listedCount: number, deviceNodes: readonly string[]): void {
  if (listedCount === 0 && deviceNodes.length > 0) {
    throw new UsbAccessError(
      'usb-permission-denied',
      `libusb lists no USB devices although ${deviceNodes.length} device nodes exist under ${USB_DEVICE_ROOT}: no permission to read them; ${UDEV_RULE_HINT}`,
      { deviceNodes: deviceNodes.length },
    );
  }
}
