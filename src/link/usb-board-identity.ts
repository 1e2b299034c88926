/**
 * How an MT3620 development board looks on USB (device-link.md): one FTDI
 * FT4232H whose EEPROM carries Microsoft's product string, four interfaces A-D.
 * Microsoft's tools accept a board only with that product string, and so do we.
 */
export const FTDI_VENDOR_ID = 0x0403;
export const FT4232H_PRODUCT_ID = 0x6011;
export const MT3620_PRODUCT = 'MSFT MT3620 Std Interface';
/** Serial numbers Microsoft's EEPROM tool generates start with this; other FT4232H serials do not. */
export const MT3620_SERIAL_PREFIX = 'AS';

/**
 * The FT4232H's four ports and their USB interface numbers. On an MT3620 board: A the debug
 * UART (and the recovery strap on AD3), B SWD (and SYSRST_N on BD6), C the service UART,
 * D the recovery UART (and SYSRST_N on DD6).
 */
export type FtdiPort = 'A' | 'B' | 'C' | 'D';
export const INTERFACE_OF_PORT: Readonly<Record<FtdiPort, number>> = { A: 0, B: 1, C: 2, D: 3 };
export const PORT_OF_INTERFACE: readonly FtdiPort[] = ['A', 'B', 'C', 'D'];

/** Microsoft's udev rule, verbatim from device-link.md; rigs/udev/99-azure-sphere.rules ships it. */
export const MICROSOFT_UDEV_RULE =
  'SUBSYSTEMS=="usb", ATTRS{idVendor}=="0403", ATTRS{idProduct}=="6011", ATTRS{product}=="MSFT MT3620 Std Interface", GROUP="azsphere"';
export const UDEV_RULE_FILE = 'rigs/udev/99-azure-sphere.rules';
export const UDEV_RULE_HINT =
  `install ${UDEV_RULE_FILE} (sudo cp ${UDEV_RULE_FILE} /etc/udev/rules.d/ && sudo udevadm control --reload && sudo udevadm trigger), ` +
  'add yourself to the azsphere group (sudo usermod -aG azsphere $USER, then log in again) and replug the boards';
