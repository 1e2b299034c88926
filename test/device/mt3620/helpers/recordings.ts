import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { UsbDeviceFacts } from '../../../../src/link/usb-device-facts.js';
import type { SerialPortRecord } from '../../../../src/link/usb-serial-ports.js';

/**
 * The recorded outputs of a bench host with two MT3620 boards (AS0T5R9KQ2 at
 * USB port 1-1.2, AS0T5R9KQ7 at 1-1.3), a plain FT4232H (1-1.4) and an FT232R
 * (1-4): libusb's device list, `udevadm info -e`, `SerialPort.list()` (derived
 * from that export by serialport's own parser), `ip` outputs.
 */
export const fixtureFile = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
export const fixtureText = (name: string): string => readFileSync(fixtureFile(name), 'utf8');

export const usbDevices = (name = 'usb-devices-two-boards.json'): UsbDeviceFacts[] => JSON.parse(fixtureText(name)) as UsbDeviceFacts[];
export const serialPorts = (name = 'serialport-list-two-boards.json'): SerialPortRecord[] => JSON.parse(fixtureText(name)) as SerialPortRecord[];

export const BOARD_1 = 'AS0T5R9KQ2';
export const BOARD_2 = 'AS0T5R9KQ7';
export const byId = (serial: string, iface: number): string => `/dev/serial/by-id/usb-Microsoft_MSFT_MT3620_Std_Interface_${serial}-if0${iface}-port0`;
