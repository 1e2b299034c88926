import type { WaitOptions } from './deadline.js';
import type { UsbDeviceFacts } from './usb-device-facts.js';
import type { UsbDeviceHandle } from './usb-device-handle.js';

/**
 * The host's USB bus as discovery sees it: list the devices (reading strings
 * of the ones worth opening), open one for control and bulk transfers, and
 * report hot-plug. `NodeUsbBus` is the real one (node-usb / libusb); tests
 * replay recorded devices through a fake.
 */
export interface UsbHotplugEvent {
  kind: 'attach' | 'detach';
  /** On attach, with strings when they could be read; on detach, location only (the device is gone). */
  facts: UsbDeviceFacts;
}

export interface UsbBus {
  /** Every device on the bus; FT4232H devices with their strings (or why they could not be read). */
  devices(options: WaitOptions): Promise<UsbDeviceFacts[]>;
  /** A WebUSB-style handle on the device at that bus address (not yet opened). */
  open(facts: UsbDeviceFacts, options: WaitOptions): Promise<UsbDeviceHandle>;
  /** Hot-plug events until the returned function is called; it must not keep the process alive. */
  watch(listener: (event: UsbHotplugEvent) => void): () => void;
}
