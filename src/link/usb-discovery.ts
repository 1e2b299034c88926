import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { Deadline, type WaitOptions } from './deadline.js';
import { LinkCancelledError } from './link-errors.js';
import { UsbAccessError } from './usb-access-error.js';
import { UDEV_RULE_HINT, type FtdiPort } from './usb-board-identity.js';
import { classifyUsbDevice } from './usb-board-filter.js';
import type { UsbBus, UsbHotplugEvent } from './usb-bus.js';
import type { UsbDeviceFacts } from './usb-device-facts.js';
import type { UsbDeviceHandle } from './usb-device-handle.js';
import { mapBoardTtys, type BoardTtys, type InterfaceTty, type SerialPortLister } from './usb-serial-ports.js';
import { RigError } from '../util/failure.js';
import { componentLogger } from '../util/logger.js';

const log = componentLogger('usb-discovery');

/**
 * The MT3620 boards attached to this host: each by USB serial, with its
 * physical port path, whether the rig may open its USB device (for the FTDI
 * reset and strap pins), and the ttys of its four interfaces. Joins what
 * libusb says (descriptors, strings, bus location) with a serial-port listing
 * (which tty is which interface). Follows hot-plug: `attach` once a board's
 * ttys are there, `detach` when it leaves, by USB serial.
 */
export interface DiscoveredBoard {
  usbSerial: string;
  /** e.g. 1-1.2: stable while the cable stays in the same hub port. */
  portPath: string | null;
  busNumber: number | null;
  deviceAddress: number | null;
  manufacturer: string | null;
  product: string | null;
  /** ok: the rig can open the USB device (reset, strap); denied: no permission; unknown: seen only as ttys. */
  usbAccess: 'ok' | 'denied' | 'unknown';
  ttys: Partial<Record<FtdiPort, InterfaceTty>>;
  warnings: string[];
}

export interface DiscoveryReport {
  boards: DiscoveredBoard[];
  /** USB devices looked at and left alone, with why (a plain FT4232H, unreadable strings). */
  skipped: Array<{ portPath: string; reason: string }>;
  /** What stops the rig from using a board it found (permissions, a failed serial listing). */
  problems: string[];
  /** Some FT4232H could not be opened for lack of permission: the udev rule is missing. */
  permissionDenied: boolean;
}

/** What a real-board driver needs from discovery: find its board by serial, open its USB device, hear it come and go. */
export interface UsbBoardSource {
  find(usbSerial: string, options: WaitOptions): Promise<DiscoveredBoard | undefined>;
  openUsbDevice(board: DiscoveredBoard, options: WaitOptions): Promise<UsbDeviceHandle>;
  on(event: 'attach', listener: (board: DiscoveredBoard) => void): unknown;
  on(event: 'detach', listener: (usbSerial: string) => void): unknown;
  off(event: 'attach', listener: (board: DiscoveredBoard) => void): unknown;
  off(event: 'detach', listener: (usbSerial: string) => void): unknown;
}

export interface UsbDiscoveryOptions {
  /** After an attach, how long to wait for the board's ttys (udev and ftdi_sio take a moment). Default 5000 ms. */
  ttyWaitMs?: number;
  /** How often to list ports while waiting. Default 200 ms. */
  ttyPollMs?: number;
}

const REQUIRED_PORTS: readonly FtdiPort[] = ['A', 'C', 'D'];
const DEFAULT_SCAN_TIMEOUT_MS = 10_000;

export class UsbDiscovery extends EventEmitter<{ attach: [board: DiscoveredBoard]; detach: [usbSerial: string] }> implements UsbBoardSource {
  readonly #bus: UsbBus;
  readonly #lister: SerialPortLister;
  readonly #ttyWaitMs: number;
  readonly #ttyPollMs: number;
  /** bus:address -> USB serial, so a detach (which carries no strings) can be named. */
  readonly #located = new Map<string, string>();
  #unwatch: (() => void) | undefined;
  #closed = false;

  constructor(bus: UsbBus, lister: SerialPortLister, options: UsbDiscoveryOptions = {}) {
    super();
    this.#bus = bus;
    this.#lister = lister;
    this.#ttyWaitMs = options.ttyWaitMs ?? 5_000;
    this.#ttyPollMs = options.ttyPollMs ?? 200;
  }

  /** MT3620 boards on the bus as of the last scan and hot-plug events since. */
  get attachedCount(): number {
    return new Set(this.#located.values()).size;
  }

  /** One look at the bus and the serial ports. Throws UsbAccessError when there is no usable USB bus. */
  async scan(options: Partial<WaitOptions> = {}): Promise<DiscoveryReport> {
    const wait: WaitOptions = { timeoutMs: options.timeoutMs ?? DEFAULT_SCAN_TIMEOUT_MS, signal: options.signal };
    const deadline = new Deadline(wait.timeoutMs);
    const devices = await this.#bus.devices(wait);
    const problems: string[] = [];
    let ttyGroups: BoardTtys[] = [];
    try {
      ttyGroups = mapBoardTtys(await this.#lister({ timeoutMs: deadline.remainingMs(), signal: wait.signal }));
    } catch (error) {
      if (error instanceof LinkCancelledError) throw error;
      problems.push(`cannot list serial ports, so the boards' ttys are unknown: ${(error as Error).message}`);
    }
    const report = joinDevicesAndTtys(devices, ttyGroups, problems);
    this.#located.clear();
    for (const board of report.boards) if (board.busNumber !== null) this.#located.set(`${board.busNumber}:${board.deviceAddress}`, board.usbSerial);
    return report;
  }

  async find(usbSerial: string, options: WaitOptions): Promise<DiscoveredBoard | undefined> {
    return (await this.scan(options)).boards.find((b) => b.usbSerial === usbSerial);
  }

  async openUsbDevice(board: DiscoveredBoard, options: WaitOptions): Promise<UsbDeviceHandle> {
    const { busNumber, deviceAddress } = requireUsbAccess(board);
    const facts: UsbDeviceFacts = { busNumber, deviceAddress, portNumbers: [], idVendor: 0, idProduct: 0 };
    return this.#bus.open(facts, options);
  }

  /** Starts following hot-plug (idempotent); events come as `attach` and `detach`. */
  watch(): void {
    if (this.#unwatch || this.#closed) return;
    this.#unwatch = this.#bus.watch((event) => void this.#onHotplug(event));
  }

  close(): void {
    this.#closed = true;
    this.#unwatch?.();
    this.#unwatch = undefined;
    this.removeAllListeners();
  }

  async #onHotplug(event: UsbHotplugEvent): Promise<void> {
    const key = `${event.facts.busNumber}:${event.facts.deviceAddress}`;
    if (event.kind === 'detach') {
      const usbSerial = this.#located.get(key);
      if (!usbSerial) return;
      this.#located.delete(key);
      log.info('board detached', { usbSerial, at: key });
      this.emit('detach', usbSerial);
      return;
    }
    const verdict = classifyUsbDevice(event.facts);
    if (verdict.kind !== 'mt3620') {
      if (verdict.kind === 'inaccessible') log.warn('FT4232H attached but not usable', { why: verdict.reason });
      return;
    }
    this.#located.set(key, verdict.usbSerial);
    try {
      const board = await this.#awaitTtys(event.facts, verdict.usbSerial);
      if (this.#closed || this.#located.get(key) !== verdict.usbSerial) return;
      log.info('board attached', { usbSerial: board.usbSerial, portPath: board.portPath, ttys: Object.values(board.ttys).map((t) => t.path) });
      this.emit('attach', board);
    } catch (error) {
      log.warn('board attached but its ttys could not be listed', { usbSerial: verdict.usbSerial, error: (error as Error).message });
    }
  }

  /** udev creates the ttys a little after the USB device appears: list until the board's are all there. */
  async #awaitTtys(facts: UsbDeviceFacts, usbSerial: string): Promise<DiscoveredBoard> {
    const deadline = new Deadline(this.#ttyWaitMs);
    for (;;) {
      const groups = mapBoardTtys(await this.#lister({ timeoutMs: Math.max(1, deadline.remainingMs()) }));
      const board = joinDevicesAndTtys([facts], groups, []).boards.find((b) => b.usbSerial === usbSerial);
      if (board && (REQUIRED_PORTS.every((p) => board.ttys[p]) || deadline.expired())) return board;
      if (deadline.expired()) throw new RigError('timeout', 'usb-ttys-missing', `board ${usbSerial}: no ttys appeared within ${this.#ttyWaitMs} ms`);
      await delay(this.#ttyPollMs);
    }
  }
}

/**
 * Where a board's USB device is, if the rig may open it (for its reset and strap
 * pins); else UsbAccessError usb-permission-denied naming the udev rule. Listed
 * as ttys only, or without permission, is refused the same way.
 */
export function requireUsbAccess(board: DiscoveredBoard): { busNumber: number; deviceAddress: number } {
  if (board.busNumber === null || board.deviceAddress === null || board.usbAccess !== 'ok') {
    throw new UsbAccessError('usb-permission-denied', `board ${board.usbSerial}: its USB device cannot be opened (no permission), so reset and recovery strap are unavailable; ${UDEV_RULE_HINT}`, {
      usbSerial: board.usbSerial,
    });
  }
  return { busNumber: board.busNumber, deviceAddress: board.deviceAddress };
}

/** The join of libusb's view and the serial-port listing; pure, so recorded hosts replay in tests. */
export function joinDevicesAndTtys(devices: readonly UsbDeviceFacts[], ttyGroups: readonly BoardTtys[], problems: string[]): DiscoveryReport {
  const boards = new Map<string, DiscoveredBoard>();
  const skipped: DiscoveryReport['skipped'] = [];
  const denied: Array<{ portPath: string; reason: string }> = [];
  for (const facts of devices) {
    const verdict = classifyUsbDevice(facts);
    if (verdict.kind === 'unrelated') continue;
    if (verdict.kind === 'other-ft4232h') {
      skipped.push({ portPath: verdict.portPath, reason: verdict.reason });
      continue;
    }
    if (verdict.kind === 'inaccessible') {
      if (verdict.permission) denied.push({ portPath: verdict.portPath, reason: verdict.reason });
      else skipped.push({ portPath: verdict.portPath, reason: verdict.reason });
      continue;
    }
    boards.set(verdict.usbSerial, {
      usbSerial: verdict.usbSerial,
      portPath: verdict.portPath,
      busNumber: facts.busNumber,
      deviceAddress: facts.deviceAddress,
      manufacturer: facts.strings?.manufacturer ?? null,
      product: facts.strings?.product ?? null,
      usbAccess: 'ok',
      ttys: {},
      warnings: [...verdict.warnings],
    });
  }
  for (const group of ttyGroups) {
    const known = boards.get(group.usbSerial);
    if (known) {
      known.ttys = group.ttys;
      known.warnings.push(...group.warnings);
      continue;
    }
    // A board libusb could not open shows up here by its ttys (udev reads strings as root).
    const blocked = denied.find((d) => group.portPath !== null && d.portPath === group.portPath);
    if (!group.namedMt3620 && !blocked) continue;
    boards.set(group.usbSerial, {
      usbSerial: group.usbSerial,
      portPath: group.portPath ?? blocked?.portPath ?? null,
      busNumber: null,
      deviceAddress: null,
      manufacturer: null,
      product: null,
      usbAccess: denied.length ? 'denied' : 'unknown',
      ttys: group.ttys,
      warnings: [...group.warnings],
    });
  }
  for (const d of denied) problems.push(d.reason);
  for (const board of boards.values()) {
    const missing = REQUIRED_PORTS.filter((p) => !board.ttys[p]);
    if (missing.length) board.warnings.push(`no tty for interface${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (is the ftdi_sio driver bound?)`);
  }
  return {
    boards: [...boards.values()].sort((a, b) => a.usbSerial.localeCompare(b.usbSerial)),
    skipped,
    problems,
    permissionDenied: denied.length > 0,
  };
}
