/**
 * The part of a WebUSB `USBDevice` the rig uses to drive FTDI pins: open,
 * claim and release interfaces, vendor control transfers and bulk OUT writes.
 * node-usb's `WebUSBDevice` has exactly this shape; tests use a fake that
 * records every call. Declared here rather than taken from the DOM typings so
 * the rig depends on six methods, not on a browser API's global types.
 * `attachKernelDriver` is the one addition (node-usb's legacy Interface has
 * it): the fail-safe hands an interface back to ftdi_sio even when no claim of
 * ours detached it (a daemon that crashed holding it).
 */
export type UsbTransferStatus = 'ok' | 'stall' | 'babble';

export interface UsbControlSetup {
  requestType: 'standard' | 'class' | 'vendor';
  recipient: 'device' | 'interface' | 'endpoint' | 'other';
  request: number;
  value: number;
  index: number;
}

export interface UsbOutResult {
  bytesWritten: number;
  status: UsbTransferStatus;
}

export interface UsbEndpointInfo {
  endpointNumber: number;
  direction: 'in' | 'out';
  type: 'bulk' | 'interrupt' | 'isochronous';
}

export interface UsbInterfaceInfo {
  interfaceNumber: number;
  alternate: { endpoints: readonly UsbEndpointInfo[] };
}

export interface UsbDeviceHandle {
  readonly opened: boolean;
  readonly serialNumber?: string | null;
  readonly configuration: { interfaces: readonly UsbInterfaceInfo[] } | null;
  open(): Promise<void>;
  close(): Promise<void>;
  /** With kernel-driver auto-detach on (node-usb's default), claiming unbinds ftdi_sio from the interface... */
  claimInterface(interfaceNumber: number): Promise<void>;
  /** ...and releasing binds it again, so the tty comes back. */
  releaseInterface(interfaceNumber: number): Promise<void>;
  controlTransferOut(setup: UsbControlSetup, data?: ArrayBuffer): Promise<UsbOutResult>;
  transferOut(endpointNumber: number, data: ArrayBuffer): Promise<UsbOutResult>;
  /** Binds the interface's kernel driver (ftdi_sio) again if none is bound; a no-op when one is. */
  attachKernelDriver?(interfaceNumber: number): Promise<void>;
}
