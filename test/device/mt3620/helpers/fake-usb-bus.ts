import type { WaitOptions } from '../../../../src/link/deadline.js';
import type { UsbBus, UsbHotplugEvent } from '../../../../src/link/usb-bus.js';
import type { UsbDeviceFacts } from '../../../../src/link/usb-device-facts.js';
import type { UsbDeviceHandle } from '../../../../src/link/usb-device-handle.js';
import type { SerialPortLister, SerialPortRecord } from '../../../../src/link/usb-serial-ports.js';
import { FakeFtdiDevice } from './fake-ftdi-device.js';

/** A USB bus replaying recorded devices; tests plug and unplug them and see what was opened. */
export class FakeUsbBus implements UsbBus {
  readonly opened: Array<{ busNumber: number; deviceAddress: number; device: FakeFtdiDevice }> = [];
  #listeners = new Set<(event: UsbHotplugEvent) => void>();

  constructor(public recorded: UsbDeviceFacts[]) {}

  async devices(): Promise<UsbDeviceFacts[]> {
    return this.recorded.map((d) => structuredClone(d));
  }

  async open(facts: UsbDeviceFacts, _options: WaitOptions): Promise<UsbDeviceHandle> {
    const device = new FakeFtdiDevice();
    this.opened.push({ busNumber: facts.busNumber, deviceAddress: facts.deviceAddress, device });
    return device;
  }

  watch(listener: (event: UsbHotplugEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get watchers(): number {
    return this.#listeners.size;
  }

  unplug(busNumber: number, deviceAddress: number): void {
    const gone = this.recorded.find((d) => d.busNumber === busNumber && d.deviceAddress === deviceAddress);
    this.recorded = this.recorded.filter((d) => d !== gone);
    for (const listener of this.#listeners) listener({ kind: 'detach', facts: { busNumber, deviceAddress, portNumbers: gone?.portNumbers ?? [], idVendor: gone?.idVendor ?? 0, idProduct: gone?.idProduct ?? 0 } });
  }

  plug(facts: UsbDeviceFacts): void {
    this.recorded.push(facts);
    for (const listener of this.#listeners) listener({ kind: 'attach', facts: structuredClone(facts) });
  }
}

/** A serial-port lister replaying recordings; `listings` are served in turn, the last one repeatedly. */
export class ScriptedLister {
  calls = 0;
  constructor(public listings: SerialPortRecord[][]) {}

  readonly list: SerialPortLister = async () => {
    const listing = this.listings[Math.min(this.calls, this.listings.length - 1)]!;
    this.calls += 1;
    return structuredClone(listing);
  };
}
