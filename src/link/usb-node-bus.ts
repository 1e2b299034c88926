import { waitFor, type WaitOptions } from './deadline.js';
import { UsbAccessError } from './usb-access-error.js';
import { checkListedDevices, hostUsbFilesystem, probeUsbAccess, type UsbFilesystem } from './usb-access-probe.js';
import { UDEV_RULE_HINT } from './usb-board-identity.js';
import { isFt4232h } from './usb-board-filter.js';
import type { UsbBus, UsbHotplugEvent } from './usb-bus.js';
import { usbDeviceNode, type UsbDeviceFacts, type UsbDeviceStrings } from './usb-device-facts.js';
import type { UsbDeviceHandle } from './usb-device-handle.js';
import { NodeUsbHandle } from './usb-node-handle.js';
import { HOTPLUG_POLICY, readUsbStrings, SCAN_POLICY, type StringReadPolicy, type StringsError, type UsbStringSources } from './usb-string-reader.js';
import { readSysfsUsbStrings } from './usb-sysfs-strings.js';
import { RigError } from '../util/failure.js';
import { componentLogger } from '../util/logger.js';

const log = componentLogger('usb');
/** One string descriptor request. */
const STRING_READ_TIMEOUT_MS = 2_000;

/**
 * The part of node-usb the bus uses. The real module has this shape; tests
 * pass a fake with recorded devices, so what is opened and closed is seen.
 */
export interface LibusbDevice {
  busNumber: number;
  deviceAddress: number;
  portNumbers?: number[] | undefined;
  deviceDescriptor: { idVendor: number; idProduct: number; bcdDevice: number; iManufacturer: number; iProduct: number; iSerialNumber: number };
  open(defaultConfig?: boolean): void;
  close(): void;
  getStringDescriptor(index: number, callback: (error?: unknown, value?: string) => void): void;
  interface(interfaceNumber: number): { isKernelDriverActive(): boolean; attachKernelDriver(): void };
}

export interface LibusbModule {
  getDeviceList(): LibusbDevice[];
  WebUSBDevice: { createInstance(device: LibusbDevice, autoDetachKernelDriver?: boolean): Promise<unknown> };
  usb: {
    on(event: 'attach' | 'detach', listener: (device: LibusbDevice) => void): unknown;
    off(event: 'attach' | 'detach', listener: (device: LibusbDevice) => void): unknown;
    unrefHotplugEvents(): void;
  };
}

export interface NodeUsbBusOptions {
  /** Linux reads strings from sysfs (default on Linux): nothing is opened to identify a board. */
  platform?: NodeJS.Platform;
  /** Default /sys. */
  sysRoot?: string;
  /** After hot-plug, how long string reads are retried, and how often. Defaults about 2 s, every 200 ms. */
  attachRetry?: StringReadPolicy;
}

/** libusb error numbers (libusb.h), stable across platforms. */
const LIBUSB_ERROR_ACCESS = -3;
const LIBUSB_ERROR_NO_DEVICE = -4;
const LIBUSB_ERROR_BUSY = -6;

/**
 * The real USB bus through node-usb (libusb). Loaded only after the probe
 * found a bus, so a host without USB gets one clear error instead of libusb's
 * console warning. Strings are read only from FT4232H devices: opening other
 * people's devices is neither needed nor polite; on Linux they come from
 * sysfs, and a device the rig holds (its FTDI pins) is never opened again:
 * node-usb returns the same Device object to everyone, so a scan's close
 * would close the pins' handle (usb-string-reader.ts).
 */
export class NodeUsbBus implements UsbBus {
  readonly #usb: LibusbModule;
  readonly #deviceNodes: readonly string[];
  readonly #platform: NodeJS.Platform;
  readonly #sysRoot: string;
  readonly #attachRetry: StringReadPolicy;
  /** bus:address of devices this process holds open through `open()`. */
  readonly #held = new Set<string>();
  /** bus:address -> strings read earlier (a re-enumerated device gets a new address). */
  readonly #known = new Map<string, UsbDeviceStrings>();

  private constructor(usb: LibusbModule, deviceNodes: readonly string[], options: NodeUsbBusOptions) {
    this.#usb = usb;
    this.#deviceNodes = deviceNodes;
    this.#platform = options.platform ?? process.platform;
    this.#sysRoot = options.sysRoot ?? '/sys';
    this.#attachRetry = options.attachRetry ?? HOTPLUG_POLICY;
  }

  /** Throws UsbAccessError when there is no bus, no permission or no working libusb. */
  static async open(fs: UsbFilesystem = hostUsbFilesystem, options: NodeUsbBusOptions = {}): Promise<NodeUsbBus> {
    const deviceNodes = probeUsbAccess(fs);
    const usb = await loadLibusb();
    const bus = new NodeUsbBus(usb, deviceNodes, options);
    checkListedDevices(bus.#list().length, deviceNodes);
    return bus;
  }

  /** A bus over a given node-usb (or a fake of it), without the host probe. */
  static withModule(usb: LibusbModule, options: NodeUsbBusOptions = {}): NodeUsbBus {
    return new NodeUsbBus(usb, [], options);
  }

  async devices(_options: WaitOptions): Promise<UsbDeviceFacts[]> {
    const out: UsbDeviceFacts[] = [];
    const devices = this.#list();
    checkListedDevices(devices.length, this.#deviceNodes);
    for (const device of devices) {
      const facts = factsOf(device);
      if (isFt4232h(facts)) Object.assign(facts, await readUsbStrings(facts, this.#sources(device), SCAN_POLICY));
      out.push(facts);
    }
    return out;
  }

  async open(facts: UsbDeviceFacts, options: WaitOptions): Promise<UsbDeviceHandle> {
    const device = this.#list().find((d) => d.busNumber === facts.busNumber && d.deviceAddress === facts.deviceAddress);
    const node = usbDeviceNode(facts.busNumber, facts.deviceAddress);
    if (!device) throw new RigError('infra-error', 'usb-device-gone', `USB device ${node} is gone (unplugged or re-enumerated)`, { node });
    const key = keyOf(facts);
    // WebUSBDevice.createInstance opens and closes the shared Device: never while another handle of ours has it.
    if (this.#held.has(key)) throw new RigError('infra-error', 'usb-device-held', `USB device ${node} is already held open by this rig`, { node });
    const { WebUSBDevice } = this.#usb;
    this.#held.add(key);
    // Auto-detach: claiming an interface unbinds ftdi_sio from it, releasing binds it again.
    try {
      return await waitFor<UsbDeviceHandle>(`opening ${node}`, options, (settle) => {
        WebUSBDevice.createInstance(device, true).then(
          (web) => settle.resolve(new NodeUsbHandle(web as UsbDeviceHandle, device, () => this.#held.delete(key))),
          (error: unknown) => settle.reject(openFailure(node, error)),
        );
      });
    } catch (error) {
      this.#held.delete(key);
      throw error;
    }
  }

  watch(listener: (event: UsbHotplugEvent) => void): () => void {
    const usb = this.#usb.usb;
    const onAttach = (device: LibusbDevice): void => {
      const facts = factsOf(device);
      this.#known.delete(keyOf(facts));
      // Read at once and retry for about 2 s: right after arrival permissions and configuration are still settling.
      const strings = isFt4232h(facts) ? readUsbStrings(facts, this.#sources(device), this.#attachRetry) : Promise.resolve({});
      void strings.then((extra) => listener({ kind: 'attach', facts: { ...facts, ...extra } }));
    };
    const onDetach = (device: LibusbDevice): void => {
      const facts = factsOf(device);
      this.#known.delete(keyOf(facts));
      listener({ kind: 'detach', facts });
    };
    usb.on('attach', onAttach);
    usb.on('detach', onDetach);
    // Hot-plug must not keep a finished CLI or a stopping daemon alive.
    usb.unrefHotplugEvents();
    return () => {
      usb.off('attach', onAttach);
      usb.off('detach', onDetach);
    };
  }

  #sources(device: LibusbDevice): UsbStringSources {
    return {
      cached: (facts) => this.#known.get(keyOf(facts)),
      ...(this.#platform === 'linux' ? { fromSysfs: (facts: UsbDeviceFacts) => readSysfsUsbStrings(facts, this.#sysRoot) } : {}),
      held: (facts) => this.#held.has(keyOf(facts)),
      fromDevice: () => readStringsFromDevice(device),
      remember: (facts, strings) => this.#known.set(keyOf(facts), strings),
    };
  }

  #list(): LibusbDevice[] {
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

function keyOf(facts: Pick<UsbDeviceFacts, 'busNumber' | 'deviceAddress'>): string {
  return `${facts.busNumber}:${facts.deviceAddress}`;
}

async function loadLibusb(): Promise<LibusbModule> {
  // node-usb prints "Failed to initialize libusb." itself when libusb_init fails; we say it better below.
  const warn = console.warn;
  const warnings: unknown[] = [];
  console.warn = (...args: unknown[]) => void warnings.push(args);
  let usb: typeof import('usb');
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
  return usb as unknown as LibusbModule;
}

function factsOf(device: LibusbDevice): UsbDeviceFacts {
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
async function readStringsFromDevice(device: LibusbDevice): Promise<{ strings: UsbDeviceStrings } | { error: StringsError }> {
  const node = usbDeviceNode(device.busNumber, device.deviceAddress);
  try {
    device.open(false);
  } catch (error) {
    return { error: classifyOpenError(error) };
  }
  try {
    const d = device.deviceDescriptor;
    const read = (index: number, what: string): Promise<string | null> =>
      index === 0
        ? Promise.resolve(null)
        : waitFor<string | null>(`${node}: reading the ${what} string`, { timeoutMs: STRING_READ_TIMEOUT_MS }, (settle) => {
            device.getStringDescriptor(index, (error, value) => (error ? settle.reject(error) : settle.resolve(value ?? null)));
          });
    const strings: UsbDeviceStrings = {
      manufacturer: await read(d.iManufacturer, 'manufacturer'),
      product: await read(d.iProduct, 'product'),
      serialNumber: await read(d.iSerialNumber, 'serial number'),
    };
    return { strings };
  } catch (error) {
    return { error: classifyOpenError(error) };
  } finally {
    try {
      device.close();
    } catch (error) {
      log.debug('closing a USB device after reading its strings failed', { node, error: (error as Error).message });
    }
  }
}

function classifyOpenError(error: unknown): StringsError {
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
