import { FT4232H_PRODUCT_ID, FTDI_VENDOR_ID, MT3620_PRODUCT, MT3620_SERIAL_PREFIX, UDEV_RULE_HINT } from './usb-board-identity.js';
import { hex4, portPathOf, usbDeviceNode, type UsbDeviceFacts } from './usb-device-facts.js';

/**
 * Which USB devices are MT3620 boards. Only an FT4232H (0403:6011) can be one,
 * and only with Microsoft's product string in its EEPROM, as Microsoft's tools
 * require; a plain FT4232H on the same host (a JTAG adapter, a quad UART) is
 * named and left alone. A candidate whose strings could not be read is reported
 * as inaccessible with the fix, never silently dropped.
 */
export type UsbDeviceVerdict =
  | { kind: 'mt3620'; usbSerial: string; portPath: string; facts: UsbDeviceFacts; warnings: string[] }
  | { kind: 'inaccessible'; portPath: string; node: string; facts: UsbDeviceFacts; permission: boolean; reason: string }
  | { kind: 'other-ft4232h'; portPath: string; facts: UsbDeviceFacts; reason: string }
  | { kind: 'unrelated' };

export function isFt4232h(facts: Pick<UsbDeviceFacts, 'idVendor' | 'idProduct'>): boolean {
  return facts.idVendor === FTDI_VENDOR_ID && facts.idProduct === FT4232H_PRODUCT_ID;
}

export function classifyUsbDevice(facts: UsbDeviceFacts): UsbDeviceVerdict {
  if (!isFt4232h(facts)) return { kind: 'unrelated' };
  const portPath = portPathOf(facts.busNumber, facts.portNumbers);
  const node = usbDeviceNode(facts.busNumber, facts.deviceAddress);
  if (!facts.strings) {
    const failure = facts.stringsError ?? { kind: 'error' as const, message: 'strings not read' };
    const permission = failure.kind === 'access';
    const reason = permission
      ? `FT4232H at USB port ${portPath} (${node}): no permission to open it, so it cannot be identified or reset; ${UDEV_RULE_HINT}`
      : `FT4232H at USB port ${portPath} (${node}): cannot read its strings (${failure.message})`;
    return { kind: 'inaccessible', portPath, node, facts, permission, reason };
  }
  const { product, serialNumber } = facts.strings;
  if (product !== MT3620_PRODUCT) {
    return {
      kind: 'other-ft4232h',
      portPath,
      facts,
      reason: `FT4232H at USB port ${portPath} has product string ${JSON.stringify(product)}, not ${JSON.stringify(MT3620_PRODUCT)}: not an MT3620 interface board`,
    };
  }
  if (!serialNumber) {
    return { kind: 'inaccessible', portPath, node, facts, permission: false, reason: `MT3620 board at USB port ${portPath} reports no USB serial number; a rig binds boards by serial` };
  }
  const warnings: string[] = [];
  if (!serialNumber.startsWith(MT3620_SERIAL_PREFIX)) {
    warnings.push(`USB serial ${serialNumber} does not start with ${MT3620_SERIAL_PREFIX} (Microsoft's EEPROM tool writes AS...); the EEPROM may have been reprogrammed`);
  }
  if (facts.bcdDevice !== undefined && facts.bcdDevice !== 0x0800) {
    warnings.push(`bcdDevice ${hex4(facts.bcdDevice)} is not an FT4232H's 0800`);
  }
  return { kind: 'mt3620', usbSerial: serialNumber, portPath, facts, warnings };
}
