import { UsbDiscovery, type UsbDiscoveryOptions } from './usb-discovery.js';
import { listHostSerialPorts } from './usb-host-lister.js';
import { NodeUsbBus } from './usb-node-bus.js';

/** Discovery on this host's real USB bus and serial ports. Throws UsbAccessError when there is no usable bus. */
export async function openHostUsbDiscovery(options: UsbDiscoveryOptions = {}): Promise<UsbDiscovery> {
  return new UsbDiscovery(await NodeUsbBus.open(), listHostSerialPorts, options);
}
