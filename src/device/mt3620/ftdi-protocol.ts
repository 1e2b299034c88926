import type { UsbControlSetup, UsbDeviceHandle } from '../../link/usb-device-handle.js';

/**
 * The FTDI vendor requests and MT3620 pin assignments the rig uses.
 *
 * Requests (FTDI's D2XX/libftdi command set; bmRequestType 0x40 = vendor,
 * device, host-to-device; wIndex = interface number + 1, FTDI's port index):
 *   0x0B SET_BITMODE  wValue = (mode << 8) | directionMask; mode 0x01 async
 *        bit-bang, 0x00 back to the interface's UART function.
 *   0x00 RESET        wValue 1 drops what the host wrote and the chip has not sent,
 *                     wValue 2 drops what the chip holds for the host: in bit-bang
 *                     mode that is pin samples, which ftdi_sio would otherwise
 *                     hand to the tty as garbage once UART mode is back.
 * In async bit-bang mode each byte written to the interface's bulk OUT endpoint
 * sets the pins whose direction bit is 1; the others stay inputs (high impedance).
 *
 * Pins, read off the interface board schematic (P-FTINT-1-1) as summarised in
 * device-link.md; confirm on a real board before relying on them:
 *   SYSRST_N   <- BD6 (interface B) and DD6 (interface D) through resistors; one
 *                 may be unpopulated on a given revision, hence `reset.interface`.
 *                 Bit 6: direction mask 0x40, low 0x00 = in reset, high 0x40 = run.
 *   DEBUG_RTS  <- AD3 (interface A; AD3 is the UART's CTS input, which the
 *                 board's DEBUG_RTS drives in normal use). Bit 3: mask 0x08,
 *                 high 0x08 = recovery strap, low = normal boot. Back in UART
 *                 mode AD3 is an input again and the board's own level returns.
 */
export const FTDI_REQUEST_RESET = 0x00;
export const FTDI_REQUEST_SET_BITMODE = 0x0b;
export const FTDI_MODE_UART = 0x00;
export const FTDI_MODE_ASYNC_BITBANG = 0x01;
/** RESET wValues, named by effect (libftdi's historical names for them are swapped). */
export const FTDI_FLUSH_FROM_HOST = 0x01;
export const FTDI_FLUSH_TO_HOST = 0x02;

export const RESET_PIN_MASK = 1 << 6;
export const STRAP_PIN_MASK = 1 << 3;

/** FT4232H bulk OUT endpoints by interface (0x02, 0x04, 0x06, 0x08), if the descriptor cannot be read. */
const FT4232H_BULK_OUT: readonly number[] = [2, 4, 6, 8];

export function setBitmodeSetup(interfaceNumber: number, mode: number, directionMask: number): UsbControlSetup {
  return { requestType: 'vendor', recipient: 'device', request: FTDI_REQUEST_SET_BITMODE, value: ((mode & 0xff) << 8) | (directionMask & 0xff), index: interfaceNumber + 1 };
}

export function flushSetup(interfaceNumber: number, which: typeof FTDI_FLUSH_FROM_HOST | typeof FTDI_FLUSH_TO_HOST): UsbControlSetup {
  return { requestType: 'vendor', recipient: 'device', request: FTDI_REQUEST_RESET, value: which, index: interfaceNumber + 1 };
}

/** The USB bmRequestType byte of a setup, as it goes on the wire for an OUT transfer. */
export function bmRequestTypeOf(setup: UsbControlSetup): number {
  const type = { standard: 0, class: 1, vendor: 2 }[setup.requestType];
  const recipient = { device: 0, interface: 1, endpoint: 2, other: 3 }[setup.recipient];
  return (type << 5) | recipient;
}

/** The interface's bulk OUT endpoint number, from the configuration descriptor when it is there. */
export function bulkOutEndpoint(device: Pick<UsbDeviceHandle, 'configuration'>, interfaceNumber: number): number {
  const described = device.configuration?.interfaces
    .find((i) => i.interfaceNumber === interfaceNumber)
    ?.alternate.endpoints.find((e) => e.direction === 'out' && e.type === 'bulk');
  return described?.endpointNumber ?? FT4232H_BULK_OUT[interfaceNumber]!;
}
