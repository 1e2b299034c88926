import type { UsbControlSetup, UsbDeviceHandle, UsbInterfaceInfo, UsbOutResult } from './usb-device-handle.js';

/**
 * node-usb's WebUSBDevice as the rig's UsbDeviceHandle, plus the two things
 * the bus needs around it: a kernel-driver re-attach through the legacy
 * Device (which WebUSB does not offer), and a call when the handle closes, so
 * the bus knows the device is no longer held and may be looked at again.
 */
export interface LegacyInterfaceLike {
  isKernelDriverActive(): boolean;
  attachKernelDriver(): void;
}

export interface LegacyDeviceForHandle {
  interface(interfaceNumber: number): LegacyInterfaceLike;
}

export class NodeUsbHandle implements UsbDeviceHandle {
  readonly #web: UsbDeviceHandle;
  readonly #legacy: LegacyDeviceForHandle;
  readonly #onClosed: () => void;

  constructor(web: UsbDeviceHandle, legacy: LegacyDeviceForHandle, onClosed: () => void) {
    this.#web = web;
    this.#legacy = legacy;
    this.#onClosed = onClosed;
  }

  get opened(): boolean {
    return this.#web.opened;
  }

  get serialNumber(): string | null | undefined {
    return this.#web.serialNumber;
  }

  get configuration(): { interfaces: readonly UsbInterfaceInfo[] } | null {
    return this.#web.configuration;
  }

  open(): Promise<void> {
    return this.#web.open();
  }

  async close(): Promise<void> {
    try {
      await this.#web.close();
    } finally {
      this.#onClosed();
    }
  }

  claimInterface(interfaceNumber: number): Promise<void> {
    return this.#web.claimInterface(interfaceNumber);
  }

  releaseInterface(interfaceNumber: number): Promise<void> {
    return this.#web.releaseInterface(interfaceNumber);
  }

  controlTransferOut(setup: UsbControlSetup, data?: ArrayBuffer): Promise<UsbOutResult> {
    return this.#web.controlTransferOut(setup, data);
  }

  transferOut(endpointNumber: number, data: ArrayBuffer): Promise<UsbOutResult> {
    return this.#web.transferOut(endpointNumber, data);
  }

  async attachKernelDriver(interfaceNumber: number): Promise<void> {
    const iface = this.#legacy.interface(interfaceNumber);
    if (!iface.isKernelDriverActive()) iface.attachKernelDriver();
  }
}
