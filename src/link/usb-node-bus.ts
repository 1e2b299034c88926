import { waitFor, type WaitOptions } from './deadline.js';
import { UsbAccessError } from './usb-access-error.js';
import { checkListedDevices, hostUsbFilesystem, probeUsbAccess, type UsbFilesystem } from './usb-access-probe.js';
import { UDEV_RULE_HINT } from './usb-board-identity.js';
import { isFt4232h } from './usb-board-filter.js';
import type { UsbBus, UsbHotplugEvent } from './usb-bus.js';
import { usbDeviceNode, type UsbDeviceFacts, type UsbDeviceStrings } from './usb-device-facts.js';
import type { UsbDeviceHandle } from './usb-device-handle.js';
import { RigError } from '../util/failure.js';
import { componentLogger } from '../util/logger.js';

const log = componentLogger('usb');

type UsbModule = typeof import('usb');
type LegacyDevice = import('usb').Device;

/** libusb error numbers (libusb.h), stable across platforms. */
const LIBUSB_ERROR_ACCESS = -3;
const LIBUSB_ERROR_NO_DEVICE = -4;
const LIBUSB_ERROR_BUSY = -6;
/** A device that just enumerated may not answer string requests at once. */
const ATTACH_SETTLE_MS = 300;

/**
 * The real USB bus through node-usb (libusb). Loaded only after the probe
 * found a bus, so a host without USB gets one clear error instead of libusb's
 * console warning. Strings are read only from FT4232H devices: opening other
 * people's devices is neither needed nor polite.
 */
export class NodeUsbBus implements UsbBus {
  readonly #usb: UsbModule;
  readonly #deviceNodes: readonly string[];

  private constructor(usb: UsbModule, deviceNodes: readonly string[]) {
    this.#usb = usb;
    this.#deviceNodes = deviceNodes;
  }

  /** Throws UsbAccessError when there is no bus, no permission or no working libusb. */
  static async open(fs: UsbFilesystem = hostUsbFilesystem): Promise<NodeUsbBus> {
    const deviceNodes = probeUsbAccess(fs);
    const usb = await loadLibusb();
    const bus = new NodeUsbBus(usb, deviceNodes);
    checkListedDevices(bus.#list().length, deviceNodes);
    return bus;
  }

  async devices(options: WaitOptions): Promise<UsbDeviceFacts[]> {
    const out: UsbDeviceFacts[] = [];
    const devices = this.#list();
    checkListedDevices(devices.length, this.#deviceNodes);
    for (const device of devices) {
      const facts = factsOf(device);
      if (isFt4232h(facts)) Object.assign(facts, await readStrings(device, options));
      out.push(facts);
    }
    return out;
  }

  async open(facts: UsbDeviceFacts, options: WaitOptions): Promise<UsbDeviceHandle> {
    const device = this.#list().find((d) => d.busNumber === facts.busNumber && d.deviceAddress === facts.deviceAddress);
    const node = usbDeviceNode(facts.busNumber, facts.deviceAddress);
    if (!device) throw new RigError('infra-error', 'usb-device-gone', `USB device ${node} is gone (unplugged or re-enumerated)`, { node });
    const { WebUSBDevice } = this.#usb;
    // Auto-detach: claiming an interface unbinds ftdi_sio from it, releasing binds it again.
    return waitFor<UsbDeviceHandle>(`opening ${node}`, options, (settle) => {
      WebUSBDevice.createInstance(device, true).then(
        (handle) => settle.resolve(handle as unknown as UsbDeviceHandle),
        (error: unknown) => settle.reject(openFailure(node, error)),
      );
    });
  }

  watch(listener: (event: UsbHotplugEvent) => void): () => void {
    const usb = this.#usb.usb;
    const onAttach = (device: LegacyDevice): void => {
      // Strings are read a moment later: a device that has just enumerated may still be configuring.
      setTimeout(() => {
        const facts = factsOf(device);
        const strings = isFt4232h(facts) ? readStrings(device, { timeoutMs: 2_000 }) : Promise.resolve({});
        void strings.then((extra) => listener({ kind: 'attach', facts: { ...facts, ...extra } }));
      }, ATTACH_SETTLE_MS).unref();
    };
    const onDetach = (device: LegacyDevice): void => listener({ kind: 'detach', facts: factsOf(device) });
    usb.on('attach', onAttach);
    usb.on('detach', onDetach);
    // Hot-plug must not keep a finished CLI or a stopping daemon alive.
    usb.unrefHotplugEvents();
    return () => {
      usb.off('attach', onAttach);
      usb.off('detach', onDetach);
    };
  }

  #list(): LegacyDevice[] {
    try {
      return this.#usb.getDeviceList();
    } catch (error) {
      const errno = (error as { errno?: number }).errno;
      if (errno === LIBUSB_ERROR_ACCESS) {
        throw new UsbAccessError('usb-permission-denied', `libusb may not list the USB bus (permission denied): ${UDEV_RULE_HINT}`, {}, { cause: error });
      }
      throw new UsbAccessError('libusb-unavailable', `libusb cannot list the USB bus: ${(error as Error).message}`, {}, { cause: error });
    }
  }
}

async function loadLibusb(): Promise<UsbModule> {
  // node-usb prints "Failed to initialize libusb." itself when libusb_init fails; we say it better below.
  const warn = console.warn;
  const warnings: unknown[] = [];
  console.warn = (...args: unknown[]) => void warnings.push(args);
  let usb: UsbModule;
  try {
    usb = await import('usb');
  } catch (error) {
    throw new UsbAccessError('libusb-unavailable', `the usb package (libusb) cannot be loaded on this host: ${(error as Error).message}`, {}, { cause: error });
  } finally {
    console.warn = warn;
  }
  if (usb.usb.INIT_ERROR) {
    throw new UsbAccessError('libusb-unavailable', `libusb failed to initialise (error ${usb.usb.INIT_ERROR}): no usable USB bus on this host`, { libusbError: usb.usb.INIT_ERROR });
  }
  if (warnings.length) log.debug('node-usb warnings at load', { warnings: warnings.map(String) });
  return usb;
}

function factsOf(device: LegacyDevice): UsbDeviceFacts {
  const d = device.deviceDescriptor;
  return {
    busNumber: device.busNumber,
    deviceAddress: device.deviceAddress,
    portNumbers: [...(device.portNumbers ?? [])],
    idVendor: d.idVendor,
    idProduct: d.idProduct,
    bcdDevice: d.bcdDevice,
  };
}

/** Opens the device just long enough to read manufacturer, product and serial. */
async function readStrings(device: LegacyDevice, options: WaitOptions): Promise<Pick<UsbDeviceFacts, 'strings' | 'stringsError'>> {
  const node = usbDeviceNode(device.busNumber, device.deviceAddress);
  try {
    device.open(false);
  } catch (error) {
    return { stringsError: classifyOpenError(error) };
  }
  try {
    const d = device.deviceDescriptor;
    const read = (index: number, what: string): Promise<string | null> =>
      index === 0
        ? Promise.resolve(null)
        : waitFor<string | null>(`${node}: reading the ${what} string`, options, (settle) => {
            device.getStringDescriptor(index, (error, value) => (error ? settle.reject(error) : settle.resolve(value ?? null)));
          });
    const strings: UsbDeviceStrings = {
      manufacturer: await read(d.iManufacturer, 'manufacturer'),
      product: await read(d.iProduct, 'product'),
      serialNumber: await read(d.iSerialNumber, 'serial number'),
    };
    return { strings };
  } catch (error) {
    return { stringsError: classifyOpenError(error) };
  } finally {
    try {
      device.close();
    } catch (error) {
      log.debug('closing a USB device after reading its strings failed', { node, error: (error as Error).message });
    }
  }
}

function classifyOpenError(error: unknown): NonNullable<UsbDeviceFacts['stringsError']> {
  const errno = (error as { errno?: number }).errno;
  const message = (error as Error).message ?? String(error);
  if (errno === LIBUSB_ERROR_ACCESS) return { kind: 'access', message };
  if (errno === LIBUSB_ERROR_BUSY) return { kind: 'busy', message };
  if (errno === LIBUSB_ERROR_NO_DEVICE) return { kind: 'gone', message };
  return { kind: 'error', message };
}

function openFailure(node: string, error: unknown): Error {
  const message = (error as Error).message ?? String(error);
  if (/LIBUSB_ERROR_ACCESS/.test(message)) {
    return new UsbAccessError('usb-permission-denied', `no permission to open ${node}: ${UDEV_RULE_HINT}`, { node }, { cause: error });
  }
  return new RigError('infra-error', 'usb-open-failed', `cannot open ${node}: ${message}`, { node }, { cause: error });
}
