import { basename } from 'node:path';
import type { WaitOptions } from './deadline.js';
import { FT4232H_PRODUCT_ID, FTDI_VENDOR_ID, PORT_OF_INTERFACE, type FtdiPort } from './usb-board-identity.js';
import { hex4 } from './usb-device-facts.js';

/**
 * Which tty is which interface of which board, from a serial-port listing.
 * The records have the shape of `serialport`'s `PortInfo` (what `SerialPort.list()`
 * returns, from udev on Linux), so recorded listings replay as they are; the
 * sysfs lister adds the interface number and port path it reads directly.
 *
 * The interface number comes from the udev by-id name in `pnpId`
 * (`usb-Microsoft_MSFT_MT3620_Std_Interface_AS123-if02-port0`: interface 2 =
 * port C) or, on Windows, from the FTDI bus id's letter suffix
 * (`FTDIBUS\VID_0403+PID_6011+AS123C\0000`). Never from /dev/ttyUSBn order,
 * unless nothing else is known, and then with a warning.
 */
export interface SerialPortRecord {
  path: string;
  manufacturer?: string;
  serialNumber?: string;
  pnpId?: string;
  locationId?: string;
  vendorId?: string;
  productId?: string;
  /** Listers that know it directly (sysfs) set it; otherwise it is read from pnpId. */
  interfaceNumber?: number;
  /** The USB product string, when the lister knows it (sysfs). */
  product?: string;
}

export type SerialPortLister = (options: WaitOptions) => Promise<SerialPortRecord[]>;

export interface InterfaceTty {
  port: FtdiPort;
  interfaceNumber: number;
  /** The tty device, e.g. /dev/ttyUSB2 (or COM7). */
  path: string;
  /** /dev/serial/by-id/...: survives re-enumeration, where ttyUSBn numbers move. */
  byIdPath: string | null;
}

export interface BoardTtys {
  usbSerial: string;
  ttys: Partial<Record<FtdiPort, InterfaceTty>>;
  /** The physical port path when the lister knows it (sysfs), e.g. 1-1.2. */
  portPath: string | null;
  /** The listing names the MT3620 product (udev's ID_MODEL in pnpId, or the sysfs product string). */
  namedMt3620: boolean;
  warnings: string[];
}

const LINUX_BY_ID = /-if(\d{2})-port\d+$/;
const WINDOWS_FTDIBUS = /^FTDIBUS\\VID_([0-9A-F]{4})\+PID_([0-9A-F]{4})\+(.+)([A-D])\\/i;
const MT3620_IN_UDEV_NAME = /MSFT_MT3620_Std_Interface/;
const BY_ID_DIR = '/dev/serial/by-id/';

function sameHex(text: string | undefined, value: number): boolean {
  return text !== undefined && text.replace(/^0x/i, '').toLowerCase() === hex4(value);
}

/** An FT4232H's tty, by the listing's vendor/product ids or its Windows FTDI bus id. */
export function isFt4232hPort(record: SerialPortRecord): boolean {
  if (sameHex(record.vendorId, FTDI_VENDOR_ID) && sameHex(record.productId, FT4232H_PRODUCT_ID)) return true;
  const windows = record.pnpId ? WINDOWS_FTDIBUS.exec(record.pnpId) : null;
  return windows !== null && windows[1]!.toLowerCase() === hex4(FTDI_VENDOR_ID) && windows[2]!.toLowerCase() === hex4(FT4232H_PRODUCT_ID);
}

/** The USB serial and interface number a record belongs to, or null when the listing does not say. */
export function interfaceOfPort(record: SerialPortRecord): { usbSerial: string | null; interfaceNumber: number | null } {
  const windows = record.pnpId ? WINDOWS_FTDIBUS.exec(record.pnpId) : null;
  if (windows) return { usbSerial: windows[3]!, interfaceNumber: 'ABCD'.indexOf(windows[4]!.toUpperCase()) };
  const usbSerial = record.serialNumber ?? null;
  if (record.interfaceNumber !== undefined) return { usbSerial, interfaceNumber: record.interfaceNumber };
  for (const name of [record.pnpId, basename(record.path)]) {
    const match = name ? LINUX_BY_ID.exec(name) : null;
    if (match) return { usbSerial, interfaceNumber: Number(match[1]) };
  }
  return { usbSerial, interfaceNumber: null };
}

function byIdPathOf(record: SerialPortRecord): string | null {
  if (record.path.startsWith(BY_ID_DIR)) return record.path;
  // serialport puts the by-id link's name (not its path) in pnpId on Linux.
  return record.pnpId && LINUX_BY_ID.test(record.pnpId) && !record.pnpId.includes('\\') ? `${BY_ID_DIR}${record.pnpId}` : null;
}

/** Every FT4232H board in the listing with its interface ttys, by USB serial, in serial order. */
export function mapBoardTtys(records: readonly SerialPortRecord[]): BoardTtys[] {
  const boards = new Map<string, { records: Array<{ record: SerialPortRecord; interfaceNumber: number | null }>; board: BoardTtys }>();
  for (const record of records) {
    if (!isFt4232hPort(record)) continue;
    const { usbSerial, interfaceNumber } = interfaceOfPort(record);
    if (!usbSerial) continue;
    let entry = boards.get(usbSerial);
    if (!entry) {
      entry = { records: [], board: { usbSerial, ttys: {}, portPath: null, namedMt3620: false, warnings: [] } };
      boards.set(usbSerial, entry);
    }
    entry.records.push({ record, interfaceNumber });
    if (record.locationId && !entry.board.portPath) entry.board.portPath = record.locationId;
    if (MT3620_IN_UDEV_NAME.test(record.pnpId ?? '') || record.product === 'MSFT MT3620 Std Interface') entry.board.namedMt3620 = true;
  }
  for (const { records: found, board } of boards.values()) {
    const unknown = found.filter((f) => f.interfaceNumber === null);
    if (unknown.length) {
      if (unknown.length === found.length && found.length <= 4) {
        // No interface numbers at all (udev without by-id links): ttys of one chip are numbered in interface order.
        const ordered = [...found].sort((a, b) => naturalCompare(a.record.path, b.record.path));
        ordered.forEach((f, i) => (f.interfaceNumber = i));
        board.warnings.push(`the serial-port listing gives no interface numbers for ${board.usbSerial}; assumed tty order ${ordered.map((f) => f.record.path).join(', ')} = interfaces A-D`);
      } else {
        board.warnings.push(`ignored ${unknown.map((f) => f.record.path).join(', ')}: no interface number in the listing`);
      }
    }
    for (const { record, interfaceNumber } of found) {
      if (interfaceNumber === null || interfaceNumber < 0 || interfaceNumber > 3) continue;
      const port = PORT_OF_INTERFACE[interfaceNumber]!;
      const existing = board.ttys[port];
      if (existing && existing.path !== record.path) {
        board.warnings.push(`two ttys claim interface ${port} of ${board.usbSerial}: ${existing.path} and ${record.path}; kept ${existing.path}`);
        continue;
      }
      board.ttys[port] = { port, interfaceNumber, path: record.path, byIdPath: byIdPathOf(record) };
    }
  }
  return [...boards.values()].map((e) => e.board).sort((a, b) => a.usbSerial.localeCompare(b.usbSerial));
}

function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
